// What xshot does to windows beyond @xshm/mit-shm's createWindow: retitle and resize one (view pages
// through images), and find one by its title (shot --window-name). Core requests of the `x11` client
// that mit-shm's typings do not declare are typed here, for this file only.
import type { Display } from './xdisplay';

type Callback<T> = (error: Error | null | undefined, reply: T) => void;

/** The `x11` client requests used here (the library has them; mit-shm's x11.d.ts lists a subset). */
interface CoreRequests {
  ResizeWindow(wid: number, width: number, height: number): void;
  ChangeProperty(
    mode: number,
    wid: number,
    property: number,
    type: number,
    format: number,
    data: Buffer,
  ): void;
  InternAtom(onlyIfExists: boolean, name: string, cb: Callback<number>): void;
  QueryTree(wid: number, cb: Callback<{ children: number[] }>): void;
  GetProperty(
    remove: number,
    wid: number,
    property: number,
    type: number,
    longOffset: number,
    longLength: number,
    cb: Callback<{ type: number; data: Buffer }>,
  ): void;
}

/** Core protocol values, written once. */
const PROP_MODE_REPLACE = 0;
const ATOM_WM_NAME = 39;
const ATOM_STRING = 31;
const ANY_PROPERTY_TYPE = 0;
/** GetProperty length in 4-byte units: titles longer than 4 KiB are cut, which is fine for matching. */
const TITLE_LONGS = 1024;

function requests(display: Display): CoreRequests {
  return display.client as unknown as CoreRequests;
}

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, reply) => (error ? reject(error) : resolve(reply))));
}

/** Sets WM_NAME (Latin-1) and _NET_WM_NAME (UTF-8) of `wid`. */
export async function setTitle(display: Display, wid: number, title: string): Promise<void> {
  const x = requests(display);
  const [netName, utf8] = await Promise.all(
    ['_NET_WM_NAME', 'UTF8_STRING'].map((name) => call<number>((cb) => x.InternAtom(false, name, cb))),
  );
  x.ChangeProperty(PROP_MODE_REPLACE, wid, ATOM_WM_NAME, ATOM_STRING, 8, Buffer.from(title, 'latin1'));
  x.ChangeProperty(PROP_MODE_REPLACE, wid, netName!, utf8!, 8, Buffer.from(title, 'utf8'));
}

export function resizeWindow(display: Display, wid: number, width: number, height: number): void {
  requests(display).ResizeWindow(wid, width, height);
}

/** The first window (breadth-first from the root) whose _NET_WM_NAME or WM_NAME contains `text`. */
export async function findWindowByName(display: Display, text: string): Promise<number> {
  const x = requests(display);
  const netName = await call<number>((cb) => x.InternAtom(false, '_NET_WM_NAME', cb));
  const titleOf = async (wid: number): Promise<string> => {
    for (const property of [netName, ATOM_WM_NAME]) {
      const reply = await call<{ type: number; data: Buffer }>((cb) =>
        x.GetProperty(0, wid, property, ANY_PROPERTY_TYPE, 0, TITLE_LONGS, cb),
      );
      if (reply.data.length > 0) return reply.data.toString(property === netName ? 'utf8' : 'latin1');
    }
    return '';
  };
  const pending = [display.root];
  while (pending.length > 0) {
    const wid = pending.shift()!;
    if (wid !== display.root && (await titleOf(wid)).includes(text)) return wid;
    const tree = await call<{ children: number[] }>((cb) => x.QueryTree(wid, cb));
    pending.push(...tree.children);
  }
  throw new Error(
    `no window has a title containing '${text}' (list them with: xdotool search --name '${text}')`,
  );
}
