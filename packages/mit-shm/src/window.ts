// A plain top-level window with a title, for viewers and mirrors: the few events they need, typed.

import { EventEmitter } from 'node:events';
import { checkInt } from './image';
import { type Keymap, keymapOf } from './input';
import type { Closable, Session } from './session';
import type { X11Event } from './x11-types';

export interface WindowOptions {
  width: number;
  height: number;
  title?: string;
  /** Position on the root. Default 0, 0 (a window manager may place it elsewhere). */
  x?: number;
  y?: number;
}

export interface KeyPress {
  keycode: number;
  /** The unshifted keysym of the key (X11 keysymdef.h). */
  keysym: number;
  /** A readable name: the character for printable keys, else 'Escape', 'Return', 'Left', … or 'keysym-0x…'. */
  key: string;
  /** Modifier mask (Shift 1, Lock 2, Control 4, Mod1 8 …). */
  state: number;
}

/** A pointer button pressed or released, or the pointer moved, over the window. */
export interface PointerEvent {
  /** Position in the window. */
  x: number;
  y: number;
  /** Position on the root window. */
  rootX: number;
  rootY: number;
  /** 1 left, 2 middle, 3 right, 4/5 wheel up/down, 6/7 wheel left/right; 0 for motion. */
  button: number;
  /** Modifier and button mask before the event (Shift 1, Control 4, Button1 0x100 …). */
  state: number;
  /** Server time in milliseconds. */
  time: number;
}

export interface XWindowEvents {
  /** A part of the window needs drawing again (count 0 is the last of a series). */
  expose: [{ x: number; y: number; width: number; height: number; count: number }];
  keypress: [KeyPress];
  keyrelease: [KeyPress];
  buttonpress: [PointerEvent];
  buttonrelease: [PointerEvent];
  motion: [PointerEvent];
  resize: [{ width: number; height: number }];
  /** The window manager's close button (WM_DELETE_WINDOW), or the window was destroyed by someone else. */
  close: [];
}

/** Core event masks (X11 protocol), written once. */
const EVENT_MASK = {
  KeyPress: 0x1,
  KeyRelease: 0x2,
  ButtonPress: 0x4,
  ButtonRelease: 0x8,
  PointerMotion: 0x40,
  Exposure: 0x8000,
  StructureNotify: 0x20000,
};

const KEY_NAMES: Record<number, string> = {
  65307: 'Escape',
  65293: 'Return',
  65288: 'BackSpace',
  65289: 'Tab',
  65361: 'Left',
  65362: 'Up',
  65363: 'Right',
  65364: 'Down',
  65360: 'Home',
  65367: 'End',
  65365: 'Page_Up',
  65366: 'Page_Down',
  65535: 'Delete',
};

/** Events held until the window is returned go out after the caller's await (set in XWindow's static block). */
let deliver: (window: XWindow) => void;

/** A top-level window made with display.createWindow(). */
export class XWindow extends EventEmitter<XWindowEvents> {
  readonly id: number;
  width: number;
  height: number;
  #destroyed = false;
  /** Events that arrive before createWindow() resolved, delivered once the caller could subscribe. */
  #held: Array<() => void> | null = [];
  readonly #session: Session;
  readonly #onEvent: (ev: X11Event) => void;
  readonly #dispatch: (ev: X11Event) => void;
  /** The session closes the window with the connection. */
  readonly #resource: Closable = { close: () => this.destroy() };

  /** @internal windows are made by `display.createWindow()` */
  constructor(
    session: Session,
    id: number,
    width: number,
    height: number,
    deleteAtom: number,
    keymap: Keymap,
  ) {
    super();
    this.#session = session;
    this.id = id;
    this.width = width;
    this.height = height;
    this.#onEvent = (ev: X11Event) => {
      if (this.#held) this.#held.push(() => this.#dispatch(ev));
      else this.#dispatch(ev);
    };
    this.#dispatch = (ev: X11Event) => {
      if (ev.name === 'Expose' && ev.wid === id) {
        const e = ev as X11Event & { x: number; y: number; width: number; height: number; count: number };
        this.emit('expose', { x: e.x, y: e.y, width: e.width, height: e.height, count: e.count });
      } else if ((ev.name === 'KeyPress' || ev.name === 'KeyRelease') && ev.wid === id) {
        const keycode = ev.keycode as number;
        const keysym = keymap.keysymAt(keycode);
        const key = { keycode, keysym, key: keyName(keysym), state: (ev.buttons as number) ?? 0 };
        this.emit(ev.name === 'KeyPress' ? 'keypress' : 'keyrelease', key);
      } else if (
        (ev.name === 'ButtonPress' || ev.name === 'ButtonRelease' || ev.name === 'MotionNotify') &&
        ev.wid === id
      ) {
        const pointer: PointerEvent = {
          x: ev.x as number,
          y: ev.y as number,
          rootX: ev.rootx as number,
          rootY: ev.rooty as number,
          button: ev.name === 'MotionNotify' ? 0 : (ev.keycode as number),
          state: (ev.buttons as number) ?? 0,
          time: (ev.time as number) ?? 0,
        };
        this.emit(
          ev.name === 'ButtonPress'
            ? 'buttonpress'
            : ev.name === 'ButtonRelease'
              ? 'buttonrelease'
              : 'motion',
          pointer,
        );
      } else if (ev.name === 'ConfigureNotify' && ev.wid === id) {
        const e = ev as X11Event & { width: number; height: number };
        if (e.width !== this.width || e.height !== this.height) {
          this.width = e.width;
          this.height = e.height;
          this.emit('resize', { width: e.width, height: e.height });
        }
      } else if (
        ev.name === 'ClientMessage' &&
        ev.wid === id &&
        (ev.data as number[] | undefined)?.[0] === deleteAtom
      ) {
        this.emit('close');
      } else if (ev.name === 'DestroyNotify' && ev.wid === id) {
        this.#forget();
        this.emit('close');
      }
    };
    session.wire.client.on('event', this.#onEvent);
    session.resources.add(this.#resource);
  }

  static {
    deliver = (window) =>
      setImmediate(() => {
        const held = window.#held ?? [];
        window.#held = null;
        for (const emit of held) emit();
      });
  }

  /** Retitle the window (WM_NAME in Latin-1 and _NET_WM_NAME in UTF-8, as window managers read them). */
  async setTitle(title: string): Promise<void> {
    const [netWmName, utf8] = await Promise.all(
      ['_NET_WM_NAME', 'UTF8_STRING'].map((name) => this.#session.wire.internAtom(name)),
    );
    await this.#session.wire.checked('ChangeProperty', () =>
      writeTitle(this.#session, this.id, title, netWmName!, utf8!),
    );
  }

  /** Resize the window; `width` and `height` follow once the server confirms (a 'resize' event). */
  resize(width: number, height: number): void {
    checkInt('resize', 'width', width, 1, 32767);
    checkInt('resize', 'height', height, 1, 32767);
    this.#session.wire.client.ResizeWindow(this.id, width, height);
  }

  /** Destroy the window. Safe to call twice. */
  destroy(): void {
    if (this.#destroyed) return;
    if (!this.#session.wire.closed) this.#session.wire.client.DestroyWindow(this.id);
    this.#forget();
  }

  #forget(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#session.wire.client.removeListener('event', this.#onEvent);
    this.#session.resources.delete(this.#resource);
  }
}

function keyName(keysym: number): string {
  if (keysym >= 0x20 && keysym <= 0x7e) return String.fromCharCode(keysym);
  return KEY_NAMES[keysym] ?? `keysym-0x${keysym.toString(16)}`;
}

function writeTitle(session: Session, id: number, title: string, netWmName: number, utf8: number): void {
  const client = session.wire.client;
  client.ChangeProperty(0, id, client.atoms.WM_NAME!, client.atoms.STRING!, 8, Buffer.from(title, 'latin1'));
  client.ChangeProperty(0, id, netWmName, utf8, 8, Buffer.from(title, 'utf8'));
}

export async function createWindow(session: Session, options: WindowOptions): Promise<XWindow> {
  session.wire.ensureOpen('createWindow');
  checkInt('createWindow', 'width', options.width, 1, 32767);
  checkInt('createWindow', 'height', options.height, 1, 32767);
  const x = options.x ?? 0;
  const y = options.y ?? 0;
  checkInt('createWindow', 'x', x, -32768, 32767);
  checkInt('createWindow', 'y', y, -32768, 32767);
  const wire = session.wire;
  const client = wire.client;
  const screen = wire.screen;
  const [protocols, deleteWindow, netWmName, utf8] = await Promise.all(
    ['WM_PROTOCOLS', 'WM_DELETE_WINDOW', '_NET_WM_NAME', 'UTF8_STRING'].map((name) => wire.internAtom(name)),
  );
  const keymap = await keymapOf(session.wire);
  const id = wire.allocId();
  const title = options.title ?? 'xshm';
  const window = new XWindow(session, id, options.width, options.height, deleteWindow!, keymap);
  const created = wire.checked(
    'CreateWindow',
    () => {
      client.CreateWindow(id, session.root, x, y, options.width, options.height, 0, 0, 1, 0, {
        backgroundPixel: screen.black_pixel,
        eventMask:
          EVENT_MASK.Exposure |
          EVENT_MASK.KeyPress |
          EVENT_MASK.KeyRelease |
          EVENT_MASK.ButtonPress |
          EVENT_MASK.ButtonRelease |
          EVENT_MASK.PointerMotion |
          EVENT_MASK.StructureNotify,
      });
      writeTitle(session, id, title, netWmName!, utf8!);
      client.ChangeProperty(0, id, protocols!, client.atoms.ATOM!, 32, [deleteWindow!]);
      client.MapWindow(id);
    },
    `${options.width}x${options.height}`,
  );
  try {
    await created;
  } catch (err) {
    window.destroy();
    throw err;
  }
  deliver(window);
  return window;
}
