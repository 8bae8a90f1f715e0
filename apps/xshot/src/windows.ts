// Top-level X windows for xshot: create one titled and sized for an image, route its Expose and key
// events, find a window by title. Pixels go in through @xshm/mit-shm's ShmImage.put; this file only
// speaks the core requests that frame them (CreateWindow, ChangeProperty, QueryTree, GetProperty).
import type { EventEmitter } from 'node:events';
import type { Display } from './xdisplay';

/** Core events xshot listens to, as the x11 client parses them. */
export interface XEvent {
  name: string;
  wid?: number;
  keycode?: number;
  count?: number;
  width?: number;
  height?: number;
  type?: number;
  data?: number[];
}

type Callback<T> = (error: Error | null | undefined, reply: T) => void;

/** The requests of the `x11` client this file uses. */
export interface WindowClient extends EventEmitter {
  display: { min_keycode: number; max_keycode: number };
  AllocID(): number;
  CreateWindow(
    wid: number,
    parent: number,
    x: number,
    y: number,
    width: number,
    height: number,
    borderWidth: number,
    depth: number,
    klass: number,
    visual: number,
    values: Record<string, number>,
  ): void;
  MapWindow(wid: number): void;
  ResizeWindow(wid: number, width: number, height: number): void;
  DestroyWindow(wid: number): void;
  ChangeProperty(
    mode: number,
    wid: number,
    property: number,
    type: number,
    format: number,
    data: Buffer | number[],
  ): void;
  InternAtom(onlyIfExists: boolean, name: string, cb: Callback<number>): void;
  QueryTree(wid: number, cb: Callback<{ root: number; parent: number; children: number[] }>): void;
  GetProperty(
    remove: number,
    wid: number,
    property: number,
    type: number,
    longOffset: number,
    longLength: number,
    cb: Callback<{ type: number; data: Buffer }>,
  ): void;
  GetKeyboardMapping(first: number, count: number, cb: Callback<number[][]>): void;
}

/** Core protocol values, written once. */
const INPUT_OUTPUT = 1;
const COPY_FROM_PARENT = 0;
const PROP_MODE_REPLACE = 0;
const ATOM_WM_NAME = 39;
const ATOM_STRING = 31;
const ATOM_ATOM = 4;
const ANY_PROPERTY_TYPE = 0;
const EVENT_MASK = { KeyPress: 0x1, Exposure: 0x8000, StructureNotify: 0x20000 } as const;

/** Keysyms xshot reacts to (X11/keysymdef.h). */
export const KEYSYM = {
  Escape: 0xff1b,
  q: 0x71,
  Q: 0x51,
  Left: 0xff51,
  Up: 0xff52,
  Right: 0xff53,
  Down: 0xff54,
  PageUp: 0xff55,
  PageDown: 0xff56,
  space: 0x20,
} as const;

/**
 * The x11 client behind a Display.
 * WORKAROUND until @xshm/mit-shm documents how to reach it: DESIGN.md names no accessor, so this looks
 * for the conventional property names.
 */
export function clientOf(display: Display): WindowClient {
  const holder = display as unknown as {
    client?: WindowClient;
    x11?: WindowClient;
    wire?: { client?: WindowClient };
  };
  const client = holder.client ?? holder.x11 ?? holder.wire?.client;
  if (!client) throw new Error('@xshm/mit-shm does not expose its x11 client; xshot cannot create windows');
  return client;
}

function call<T>(start: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, reply) => (error ? reject(error) : resolve(reply))));
}

/** A top-level window with a title; events for it arrive on `onEvent`. */
export class TopWindow {
  readonly id: number;
  private readonly client: WindowClient;
  private readonly listener: (event: XEvent) => void;
  private destroyed = false;

  private constructor(client: WindowClient, id: number, onEvent: (event: XEvent) => void) {
    this.client = client;
    this.id = id;
    this.listener = (event) => {
      if (event.wid === this.id) onEvent(event);
    };
    client.on('event', this.listener);
  }

  /** Creates and maps a window of width x height at (x, y) on `display`'s root, titled `title`. */
  static async open(
    display: Display,
    options: { title: string; width: number; height: number; x?: number; y?: number },
    onEvent: (event: XEvent) => void,
  ): Promise<TopWindow> {
    const client = clientOf(display);
    const id = client.AllocID();
    client.CreateWindow(
      id,
      display.root,
      options.x ?? 0,
      options.y ?? 0,
      options.width,
      options.height,
      0,
      COPY_FROM_PARENT,
      INPUT_OUTPUT,
      COPY_FROM_PARENT,
      {
        backgroundPixel: 0,
        eventMask: EVENT_MASK.KeyPress | EVENT_MASK.Exposure | EVENT_MASK.StructureNotify,
      },
    );
    const window = new TopWindow(client, id, onEvent);
    await window.setTitle(options.title);
    const protocols = await call<number>((cb) => client.InternAtom(false, 'WM_PROTOCOLS', cb));
    window.deleteAtom = await call<number>((cb) => client.InternAtom(false, 'WM_DELETE_WINDOW', cb));
    client.ChangeProperty(PROP_MODE_REPLACE, id, protocols, ATOM_ATOM, 32, [window.deleteAtom]);
    client.MapWindow(id);
    return window;
  }

  /** The WM_DELETE_WINDOW atom: a ClientMessage carrying it means the user closed the window. */
  deleteAtom = 0;

  /** True when `event` is the window manager asking this window to close. */
  isCloseRequest(event: XEvent): boolean {
    return event.name === 'ClientMessage' && event.data?.[0] === this.deleteAtom;
  }

  async setTitle(title: string): Promise<void> {
    const text = Buffer.from(title, 'utf8');
    this.client.ChangeProperty(
      PROP_MODE_REPLACE,
      this.id,
      ATOM_WM_NAME,
      ATOM_STRING,
      8,
      Buffer.from(title, 'latin1'),
    );
    const netName = await call<number>((cb) => this.client.InternAtom(false, '_NET_WM_NAME', cb));
    const utf8 = await call<number>((cb) => this.client.InternAtom(false, 'UTF8_STRING', cb));
    this.client.ChangeProperty(PROP_MODE_REPLACE, this.id, netName, utf8, 8, text);
  }

  resize(width: number, height: number): void {
    this.client.ResizeWindow(this.id, width, height);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.client.off('event', this.listener);
    this.client.DestroyWindow(this.id);
  }
}

/** keycode -> first keysym, for telling q, Escape and the arrows apart. */
export async function keyboardMap(display: Display): Promise<(keycode: number) => number> {
  const client = clientOf(display);
  const first = client.display.min_keycode;
  const count = client.display.max_keycode - first + 1;
  const rows = await call<number[][]>((cb) => client.GetKeyboardMapping(first, count, cb));
  return (keycode) => rows[keycode - first]?.[0] ?? 0;
}

/** The first window (depth-first from the root) whose WM_NAME or _NET_WM_NAME contains `text`. */
export async function findWindowByName(display: Display, text: string): Promise<number> {
  const client = clientOf(display);
  const netName = await call<number>((cb) => client.InternAtom(false, '_NET_WM_NAME', cb));
  const titleOf = async (wid: number): Promise<string> => {
    for (const property of [netName, ATOM_WM_NAME]) {
      const reply = await call<{ type: number; data: Buffer }>((cb) =>
        client.GetProperty(0, wid, property, ANY_PROPERTY_TYPE, 0, 1024, cb),
      );
      if (reply.data.length > 0) return reply.data.toString(property === netName ? 'utf8' : 'latin1');
    }
    return '';
  };
  const pending = [display.root];
  while (pending.length > 0) {
    const wid = pending.shift()!;
    if (wid !== display.root && (await titleOf(wid)).includes(text)) return wid;
    const tree = await call<{ children: number[] }>((cb) => client.QueryTree(wid, cb));
    pending.push(...tree.children);
  }
  throw new Error(
    `no window has a title containing '${text}' (list them with: xdotool search --name '${text}')`,
  );
}
