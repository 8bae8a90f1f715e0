// Synthetic keyboard and pointer input through XTEST (the `x11` client's lib/ext/xtest.js encodes the
// requests; this file only calls them, through the session's wire), and the keyboard mapping that turns a keysym into the keycode
// and shift level that type it. A keysym the keymap lacks is bound to a spare keycode for as long as the
// Input lives, the way x11vnc and xdotool type characters the keyboard does not have.

import type { Display } from './display';
import { checkInt } from './image';
import { type Session, sessionOf } from './session';
import type { Wire } from './wire';
import type { X11Event, XTestExtension } from './x11-types';

/** keysymdef.h values this file needs (one place for each). */
const XK_SHIFT_L = 0xffe1;
const XK_SHIFT_R = 0xffe2;
const NO_SYMBOL = 0;
/** Keysyms from here up are function keys (Tab, arrows, F1…), whose meaning Shift only modifies. */
const FIRST_FUNCTION_KEYSYM = 0xff00;
/** Unicode keysyms: 0x01000000 + code point (keysymdef.h), for characters without a legacy keysym. */
const UNICODE_KEYSYM_BASE = 0x01000000;
/** MappingNotify.request for a keyboard mapping change (the others are Modifier 0 and Pointer 2). */
const MAPPING_KEYBOARD = 1;
const MAPPING_NOTIFY = 34;
/** XTEST FakeInput MotionNotify detail: absolute coordinates. */
const MOTION_ABSOLUTE = 0;
/**
 * How many spare keycodes rotate for keysyms the keymap lacks. A client reads the new mapping only when
 * it handles the key event, after the MappingNotify before it; rebinding that keycode a moment later
 * would make it read the wrong keysym. With a rotation, a keycode is rebound only after this many other
 * missing keysyms were typed.
 */
const SPARE_ROTATION = 8;

/** Where a keysym sits on the keyboard: its keycode, and whether Shift must be held (level 1). */
export interface KeyPosition {
  keycode: number;
  shift: boolean;
}

/** The server's keyboard mapping (GetKeyboardMapping), looked up both ways. */
export class Keymap {
  readonly minKeycode: number;
  readonly keysymsPerKeycode: number;
  readonly #rows: number[][];
  readonly #positions = new Map<number, KeyPosition>();

  /** @internal */
  constructor(minKeycode: number, rows: number[][]) {
    this.minKeycode = minKeycode;
    this.#rows = rows;
    this.keysymsPerKeycode = rows[0]?.length ?? 0;
    // Levels 0 and 1 only (group 1, Shift or not): the first keycode found wins, as XKeysymToKeycode does.
    for (const level of [0, 1])
      rows.forEach((row, i) => {
        const keysym = row[level];
        if (keysym && !this.#positions.has(keysym))
          this.#positions.set(keysym, { keycode: minKeycode + i, shift: level === 1 });
      });
  }

  get maxKeycode(): number {
    return this.minKeycode + this.#rows.length - 1;
  }

  /** The keysym of `keycode` at `level` (0: unshifted), or 0 (NoSymbol). */
  keysymAt(keycode: number, level = 0): number {
    return this.#rows[keycode - this.minKeycode]?.[level] ?? NO_SYMBOL;
  }

  /** The keysyms of a keycode (level 0 first), empty when it has none. */
  keysyms(keycode: number): number[] {
    return (this.#rows[keycode - this.minKeycode] ?? []).filter((k) => k !== NO_SYMBOL);
  }

  /** Where `keysym` is typed, or null when no keycode has it at level 0 or 1. */
  find(keysym: number): KeyPosition | null {
    return this.#positions.get(keysym) ?? null;
  }

  /** Keycodes with no keysym at all: free to bind a missing keysym to. */
  spareKeycodes(): number[] {
    const spare: number[] = [];
    this.#rows.forEach((row, i) => {
      if (row.every((k) => k === NO_SYMBOL)) spare.push(this.minKeycode + i);
    });
    return spare;
  }
}

/** The keysym that types `char` (one code point): Latin-1 keysyms are the code point, others Unicode. */
export function keysymOf(char: string): number {
  const code = char.codePointAt(0);
  if (code === undefined) throw new RangeError('keysymOf: empty string');
  if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
  if (code === 0x0a || code === 0x0d) return 0xff0d; // Return
  if (code === 0x09) return 0xff09; // Tab
  if (code === 0x08) return 0xff08; // BackSpace
  return UNICODE_KEYSYM_BASE + code;
}

/** A keysym that types a character (Latin, Unicode…), as opposed to a function key such as Tab or Left. */
function isCharacter(keysym: number): boolean {
  return keysym < FIRST_FUNCTION_KEYSYM || keysym >= UNICODE_KEYSYM_BASE;
}

/**
 * Keyboard and pointer input on one display through XTEST, made with `openInput(display)`. What it
 * presses it remembers: `releaseAll()` and `close()` let go of every key and button still held, and
 * close() gives the spare keycodes it bound their empty mapping back.
 */
export class Input {
  readonly #session: Session;
  readonly #wire: Wire;
  readonly #xtest: XTestExtension;
  #keymap: Keymap;
  #keymapStale = false;
  readonly #heldKeys = new Set<number>();
  readonly #heldButtons = new Set<number>();
  /** keysym -> held keycode, so a release lifts the key its press went down on. */
  readonly #heldKeysyms = new Map<number, number>();
  /** Keysyms bound to spare keycodes, oldest first. */
  readonly #bound = new Map<number, number>();
  readonly #spares: number[];
  readonly #onEvent: (ev: X11Event) => void;
  #closed = false;

  /** @internal use openInput() */
  constructor(session: Session, xtest: XTestExtension, keymap: Keymap) {
    this.#session = session;
    this.#wire = session.wire;
    this.#xtest = xtest;
    this.#keymap = keymap;
    this.#spares = keymap.spareKeycodes().slice(-SPARE_ROTATION);
    // Someone (setxkbmap, xmodmap, or our own spare binding) changed the keyboard: read it again.
    this.#onEvent = (ev) => {
      if (ev.type === MAPPING_NOTIFY && ev.request === MAPPING_KEYBOARD) this.#keymapStale = true;
    };
    this.#wire.client.on('event', this.#onEvent);
  }

  /** The keyboard mapping as last read (refreshed after a MappingNotify by the next keysym() call). */
  get keymap(): Keymap {
    return this.#keymap;
  }

  /** Press (down) or release a key by keycode. */
  key(keycode: number, down: boolean): void {
    this.#ensureOpen('key');
    checkInt('input.key', 'keycode', keycode, 8, 255);
    if (down) this.#heldKeys.add(keycode);
    else this.#heldKeys.delete(keycode);
    this.#fake(down ? this.#xtest.KeyPress : this.#xtest.KeyRelease, keycode);
  }

  /** Press or release a pointer button: 1 left, 2 middle, 3 right, 4/5 wheel up/down, 6/7 left/right. */
  button(button: number, down: boolean): void {
    this.#ensureOpen('button');
    checkInt('input.button', 'button', button, 1, 255);
    if (down) this.#heldButtons.add(button);
    else this.#heldButtons.delete(button);
    this.#fake(down ? this.#xtest.ButtonPress : this.#xtest.ButtonRelease, button);
  }

  /** A press and release of a button: a click, or one wheel step for buttons 4 to 7. */
  click(button: number): void {
    this.button(button, true);
    this.button(button, false);
  }

  /** Move the pointer to x, y on the root window. */
  move(x: number, y: number): void {
    this.#ensureOpen('move');
    checkInt('input.move', 'x', x, -32768, 32767);
    checkInt('input.move', 'y', y, -32768, 32767);
    this.#xtest.FakeInput(this.#xtest.MotionNotify, MOTION_ABSOLUTE, 0, this.#session.root, x, y);
  }

  /**
   * Press or release the key that types `keysym`, holding or lifting Shift as its level needs, the way
   * x11vnc maps a VNC key event. Shift held by the user is lifted around a character at level 0 (so
   * Shift+1 arriving as "1" still types "1"), but kept for function keys (Shift+Tab). A keysym the keymap
   * lacks is bound to a spare keycode first.
   */
  async keysym(keysym: number, down: boolean): Promise<void> {
    this.#ensureOpen('keysym');
    checkInt('input.keysym', 'keysym', keysym, 1, 0x1fffffff);
    if (!down) {
      const keycode = this.#heldKeysyms.get(keysym);
      if (keycode === undefined) return;
      this.#heldKeysyms.delete(keysym);
      this.key(keycode, false);
      return;
    }
    if (this.#keymapStale) await this.#reloadKeymap();
    const position = this.#keymap.find(keysym) ?? (await this.#bindSpare(keysym));
    const shiftKey = this.#keymap.find(XK_SHIFT_L)?.keycode;
    const heldShifts = [...this.#heldKeys].filter((k) => this.#isShift(k));
    let pressedShift = false;
    let liftedShift: number[] = [];
    if (position.shift && heldShifts.length === 0 && shiftKey !== undefined) {
      this.key(shiftKey, true);
      pressedShift = true;
    } else if (!position.shift && heldShifts.length > 0 && isCharacter(keysym)) {
      liftedShift = heldShifts;
      for (const k of liftedShift) this.key(k, false);
    }
    this.#heldKeysyms.set(keysym, position.keycode);
    this.key(position.keycode, true);
    // The level only matters while the key goes down: the client reads the modifiers of the KeyPress.
    if (pressedShift && shiftKey !== undefined) this.key(shiftKey, false);
    for (const k of liftedShift) this.key(k, true);
  }

  /** Type `text`: a press and release per character, Shift and spare keycodes as needed. */
  async type(text: string): Promise<void> {
    for (const char of text) {
      const keysym = keysymOf(char);
      await this.keysym(keysym, true);
      await this.keysym(keysym, false);
    }
  }

  /** Release every key and button this Input holds down. */
  releaseAll(): void {
    if (this.#wire.closed) return;
    for (const keycode of [...this.#heldKeys]) this.key(keycode, false);
    for (const button of [...this.#heldButtons]) this.button(button, false);
    this.#heldKeysyms.clear();
  }

  /** Resolves once the server has processed every event sent so far (one round trip). */
  flush(): Promise<void> {
    return this.#wire.sync();
  }

  /** Releases what is held, unbinds the spare keycodes, stops listening. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#wire.client.removeListener('event', this.#onEvent);
    if (this.#wire.closed) return;
    this.releaseAll();
    for (const keycode of this.#bound.values())
      this.#wire.client.ChangeKeyboardMapping(
        keycode,
        this.#keymap.keysymsPerKeycode,
        new Array(this.#keymap.keysymsPerKeycode).fill(NO_SYMBOL),
      );
    this.#bound.clear();
    await this.#wire.sync().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #isShift(keycode: number): boolean {
    const keysym = this.#keymap.keysyms(keycode)[0];
    return keysym === XK_SHIFT_L || keysym === XK_SHIFT_R;
  }

  #fake(type: number, detail: number): void {
    this.#xtest.FakeInput(type, detail, 0, 0, 0, 0);
  }

  #ensureOpen(request: string): void {
    if (this.#closed) throw new Error(`input.${request}: this Input was closed — openInput() again`);
    this.#wire.ensureOpen(`input.${request}`);
  }

  async #reloadKeymap(): Promise<void> {
    this.#keymapStale = false;
    this.#keymap = await keymapOf(this.#wire);
  }

  /** Binds `keysym` to the least recently bound spare keycode (on both levels, so Shift is moot). */
  async #bindSpare(keysym: number): Promise<KeyPosition> {
    const bound = this.#bound.get(keysym);
    if (bound !== undefined) return { keycode: bound, shift: false };
    let keycode: number | undefined;
    if (this.#bound.size < this.#spares.length) keycode = this.#spares[this.#bound.size];
    else {
      const [oldest, code] = this.#bound.entries().next().value as [number, number];
      this.#bound.delete(oldest);
      keycode = code;
    }
    if (keycode === undefined)
      throw new Error(
        `input.keysym: keysym 0x${keysym.toString(16)} is not on ${this.#session.name}'s keyboard and no keycode is free to bind it to`,
      );
    const perKeycode = this.#keymap.keysymsPerKeycode;
    const keysyms = new Array(perKeycode).fill(NO_SYMBOL);
    keysyms[0] = keysym;
    if (perKeycode > 1) keysyms[1] = keysym;
    await this.#wire.checked(
      'ChangeKeyboardMapping',
      () => this.#wire.client.ChangeKeyboardMapping(keycode, perKeycode, keysyms),
      () => `keycode ${keycode} -> keysym 0x${keysym.toString(16)}`,
    );
    this.#bound.set(keysym, keycode);
    // Our own change comes back as a MappingNotify; the keymap is read again before the next lookup.
    return { keycode, shift: false };
  }
}

/** The server's keyboard mapping, every keycode (one round trip). */
export function readKeymap(display: Display): Promise<Keymap> {
  return keymapOf(sessionOf(display).wire);
}

/** @internal The keymap through a session's wire (windows name their key events with it). */
export async function keymapOf(wire: Wire): Promise<Keymap> {
  wire.ensureOpen('readKeymap');
  const { min_keycode: first, max_keycode: last } = wire.setup;
  const rows = await wire.call<number[][]>('GetKeyboardMapping', (cb) =>
    wire.client.GetKeyboardMapping(first, last - first + 1, cb),
  );
  return new Keymap(first, rows);
}

/** Keyboard and pointer input on `display` through XTEST (throws when the server lacks XTEST). */
export async function openInput(display: Display): Promise<Input> {
  const session = sessionOf(display);
  session.wire.ensureOpen('openInput');
  const xtest = await session.wire.extension('xtest');
  if (!xtest)
    throw new Error(
      `openInput: ${session.name} has no XTEST extension, so input cannot be injected — start the server with XTEST enabled (Xvfb and Xorg have it by default)`,
    );
  return new Input(session, xtest, await keymapOf(session.wire));
}
