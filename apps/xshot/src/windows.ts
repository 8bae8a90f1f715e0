// Finding a window by its title (shot --window-name): breadth-first over the tree from the root, reading
// _NET_WM_NAME (UTF-8) and WM_NAME (Latin-1) as window managers set them.
import type { Display } from './xdisplay';

/** Core protocol values, written once. */
const ATOM_WM_NAME = 39;
const ANY_PROPERTY_TYPE = 0;
/** GetProperty length in 4-byte units: titles longer than 4 KiB are cut, which is fine for matching. */
const TITLE_LONGS = 1024;

type Callback<T> = (error: Error | null | undefined, reply: T) => void;

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, reply) => (error ? reject(error) : resolve(reply))));
}

const strictUTF8 = new TextDecoder('utf-8', { fatal: true });

/** WM_NAME is Latin-1 by the rules, but many clients (ImageMagick `display`) store UTF-8 there. */
function decodeText(data: Buffer): string {
  try {
    return strictUTF8.decode(data);
  } catch {
    return data.toString('latin1');
  }
}

/** The first window (breadth-first from the root) whose _NET_WM_NAME or WM_NAME contains `text`. */
export async function findWindowByName(display: Display, text: string): Promise<number> {
  const x = display.client;
  const netName = await call<number>((cb) => x.InternAtom(false, '_NET_WM_NAME', cb));
  const titleOf = async (wid: number): Promise<string> => {
    for (const property of [netName, ATOM_WM_NAME]) {
      const reply = await call<{ type: number; data: Buffer }>((cb) =>
        x.GetProperty(0, wid, property, ANY_PROPERTY_TYPE, 0, TITLE_LONGS, cb),
      );
      if (reply.data.length > 0)
        return property === netName ? reply.data.toString('utf8') : decodeText(reply.data);
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
