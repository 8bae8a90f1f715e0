// Clipboard text on an X display (the CLIPBOARD selection, both ways). Writing makes a small unmapped
// window the selection's owner and answers other clients' SelectionRequests for UTF8_STRING, STRING, TEXT
// and TARGETS; reading asks the owner with ConvertSelection and takes the answer from a property. XFIXES
// tells us when someone else takes the clipboard, so a caller can follow copies made in X.

import type { Display } from './display';
import { type Session, sessionOf } from './session';
import type { Wire } from './wire';
import type { X11Client, X11Event } from './x11-types';

/** Core event numbers (X11 protocol). */
const PROPERTY_NOTIFY = 28;
const SELECTION_CLEAR = 29;
const SELECTION_REQUEST = 30;
const SELECTION_NOTIFY = 31;
const INPUT_ONLY = 2;
const ANY_PROPERTY_TYPE = 0;
const NONE = 0;
const PROP_MODE_REPLACE = 0;
const PROP_MODE_APPEND = 2;
/** XFIXES SetSelectionOwnerNotifyMask. */
const SET_SELECTION_OWNER_MASK = 1;
/**
 * Clipboard text is sent in one ChangeProperty, which must fit the server's request limit (256 KiB
 * without BIG-REQUESTS); the incremental (INCR) protocol for larger ones is not spoken here.
 */
export const MAX_CLIPBOARD_BYTES = 200 * 1024;
const DEFAULT_READ_TIMEOUT_MS = 2000;

interface Atoms {
  CLIPBOARD: number;
  UTF8_STRING: number;
  STRING: number;
  TEXT: number;
  TARGETS: number;
  INCR: number;
  ATOM: number;
  /** The property on our window where answers to our own ConvertSelection land. */
  XSHM_CLIPBOARD: number;
}

/**
 * The CLIPBOARD selection of one display, made with `openClipboard(display)`. `write()` offers text to
 * every X client until another one copies something; `read()` asks whoever owns it now.
 */
export class Clipboard {
  readonly #wire: Wire;
  readonly #client: X11Client;
  readonly #window: number;
  readonly #atoms: Atoms;
  readonly #fixesEvent: number | null;
  #text: string | null = null;
  #closed = false;
  readonly #changeListeners = new Set<() => void>();
  readonly #waiters = new Set<(ev: X11Event) => void>();
  readonly #onEvent: (ev: X11Event) => void;

  /** @internal use openClipboard() */
  constructor(session: Session, window: number, atoms: Atoms, fixesEvent: number | null) {
    this.#wire = session.wire;
    this.#client = session.wire.client;
    this.#window = window;
    this.#atoms = atoms;
    this.#fixesEvent = fixesEvent;
    this.#onEvent = (ev) => this.#handle(ev);
    this.#client.on('event', this.#onEvent);
  }

  /** True while the text of the last write() is the clipboard (no one has copied since). */
  get owned(): boolean {
    return this.#text !== null;
  }

  /**
   * Calls `listener` each time another X client takes the clipboard (someone copied): read() then gets
   * the new text. Needs XFIXES (false when the server lacks it). Returns the unsubscribe function.
   */
  onChange(listener: () => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Whether onChange() can report anything on this server (it has XFIXES). */
  get watchable(): boolean {
    return this.#fixesEvent !== null;
  }

  /** Make `text` the clipboard. Resolves once the server confirms us as the owner. */
  async write(text: string): Promise<void> {
    this.#ensureOpen('write');
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_CLIPBOARD_BYTES)
      throw new RangeError(
        `clipboard.write: ${bytes} bytes of text is more than the ${MAX_CLIPBOARD_BYTES} this clipboard offers in one piece; shorten it`,
      );
    const time = await this.#serverTime();
    this.#client.SetSelectionOwner(this.#window, this.#atoms.CLIPBOARD, time);
    const owner = await this.#wire.call<number>('GetSelectionOwner', (cb) =>
      this.#client.GetSelectionOwner(this.#atoms.CLIPBOARD, cb),
    );
    if (owner !== this.#window)
      throw new Error('clipboard.write: the X server did not make us the CLIPBOARD owner (a newer copy won)');
    this.#text = text;
  }

  /**
   * The clipboard's text: ours if we own it, else the owner's answer as UTF8_STRING (STRING for old
   * clients). null when no one owns the clipboard, the owner offers no text, or it does not answer within
   * `timeoutMs`.
   */
  async read(timeoutMs = DEFAULT_READ_TIMEOUT_MS): Promise<string | null> {
    this.#ensureOpen('read');
    if (this.#text !== null) return this.#text;
    const owner = await this.#wire.call<number>('GetSelectionOwner', (cb) =>
      this.#client.GetSelectionOwner(this.#atoms.CLIPBOARD, cb),
    );
    if (owner === NONE) return null;
    for (const target of [this.#atoms.UTF8_STRING, this.#atoms.STRING]) {
      const text = await this.#convert(target, timeoutMs);
      if (text !== null) return text;
    }
    return null;
  }

  /** Gives the clipboard up if we own it, destroys the window, stops listening. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.removeListener('event', this.#onEvent);
    this.#changeListeners.clear();
    if (this.#wire.closed) return;
    this.#client.DestroyWindow(this.#window);
    await this.#wire.sync().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #ensureOpen(request: string): void {
    if (this.#closed)
      throw new Error(`clipboard.${request}: this Clipboard was closed — openClipboard() again`);
    this.#wire.ensureOpen(`clipboard.${request}`);
  }

  /** A server timestamp (ICCCM: selection requests must not use CurrentTime): a property change's time. */
  #serverTime(): Promise<number> {
    const seen = this.#next((ev) => ev.type === PROPERTY_NOTIFY && ev.wid === this.#window, 2000);
    this.#client.ChangeProperty(
      PROP_MODE_APPEND,
      this.#window,
      this.#atoms.XSHM_CLIPBOARD,
      this.#atoms.STRING,
      8,
      Buffer.alloc(0),
    );
    return seen.then((ev) => (ev ? (ev.time as number) : 0));
  }

  async #convert(target: number, timeoutMs: number): Promise<string | null> {
    const { CLIPBOARD, XSHM_CLIPBOARD, INCR, UTF8_STRING } = this.#atoms;
    const time = await this.#serverTime();
    const answered = this.#next(
      (ev) => ev.type === SELECTION_NOTIFY && ev.requestor === this.#window && ev.selection === CLIPBOARD,
      timeoutMs,
    );
    this.#client.ConvertSelection(this.#window, CLIPBOARD, target, XSHM_CLIPBOARD, time);
    const ev = await answered;
    if (!ev || ev.property === NONE) return null;
    const reply = await this.#wire.call<{ type: number; data: Buffer }>('GetProperty', (cb) =>
      this.#client.GetProperty(
        1,
        this.#window,
        XSHM_CLIPBOARD,
        ANY_PROPERTY_TYPE,
        0,
        MAX_CLIPBOARD_BYTES,
        cb,
      ),
    );
    if (reply.type === INCR) return null; // the owner wants the incremental protocol: too large for us
    return reply.data.toString(reply.type === UTF8_STRING ? 'utf8' : 'latin1');
  }

  /** The next event matching `match`, or null after `timeoutMs`. */
  #next(match: (ev: X11Event) => boolean, timeoutMs: number): Promise<X11Event | null> {
    return new Promise((resolve) => {
      const waiter = (ev: X11Event): void => {
        if (!match(ev)) return;
        finish(ev);
      };
      const finish = (ev: X11Event | null): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(ev);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #handle(ev: X11Event): void {
    for (const waiter of [...this.#waiters]) waiter(ev);
    if (ev.type === SELECTION_REQUEST && ev.owner === this.#window) this.#answer(ev);
    else if (ev.type === SELECTION_CLEAR && ev.selection === this.#atoms.CLIPBOARD) this.#text = null;
    else if (
      this.#fixesEvent !== null &&
      ev.type === this.#fixesEvent &&
      ev.selection === this.#atoms.CLIPBOARD &&
      ev.owner !== this.#window &&
      ev.owner !== NONE
    )
      for (const listener of [...this.#changeListeners]) listener();
  }

  /** Answers a SelectionRequest: the text as the target asked, or a refusal (property None). */
  #answer(ev: X11Event): void {
    const { TARGETS, UTF8_STRING, STRING, TEXT, ATOM } = this.#atoms;
    const requestor = ev.requestor as number;
    const target = ev.target as number;
    // Obsolete clients send property None: ICCCM says use the target atom as the property then.
    const property = (ev.property as number) || target;
    const text = this.#text;
    let answered = property;
    if (text === null || ev.selection !== this.#atoms.CLIPBOARD) answered = NONE;
    else if (target === TARGETS)
      this.#client.ChangeProperty(PROP_MODE_REPLACE, requestor, property, ATOM, 32, [
        TARGETS,
        UTF8_STRING,
        STRING,
        TEXT,
      ]);
    else if (target === UTF8_STRING || target === TEXT)
      this.#client.ChangeProperty(
        PROP_MODE_REPLACE,
        requestor,
        property,
        UTF8_STRING,
        8,
        Buffer.from(text, 'utf8'),
      );
    else if (target === STRING)
      // STRING is Latin-1: characters outside it become '?', as Xlib's conversion does.
      this.#client.ChangeProperty(
        PROP_MODE_REPLACE,
        requestor,
        property,
        STRING,
        8,
        Buffer.from(text.replace(/[^\x20-\xff\n\t]/gu, '?'), 'latin1'),
      );
    else answered = NONE;
    this.#client.SendEvent(requestor, 0, 0, {
      name: 'SelectionNotify',
      type: SELECTION_NOTIFY,
      seq: 0,
      time: ev.time as number,
      requestor,
      selection: ev.selection as number,
      target,
      property: answered,
    });
  }
}

/** The CLIPBOARD selection of `display`: an unmapped window of ours, and XFIXES notifications if present. */
export async function openClipboard(display: Display): Promise<Clipboard> {
  const session = sessionOf(display);
  const { wire } = session;
  wire.ensureOpen('openClipboard');
  const names = [
    'CLIPBOARD',
    'UTF8_STRING',
    'STRING',
    'TEXT',
    'TARGETS',
    'INCR',
    'ATOM',
    'XSHM_CLIPBOARD',
  ] as const;
  const values = await Promise.all(names.map((name) => wire.internAtom(name)));
  const atoms = Object.fromEntries(names.map((name, i) => [name, values[i]!])) as unknown as Atoms;
  const window = wire.allocId();
  await wire.checked('CreateWindow', () =>
    wire.client.CreateWindow(window, session.root, -10, -10, 1, 1, 0, 0, INPUT_ONLY, 0, {
      eventMask: wire.client.eventMask.PropertyChange!,
    }),
  );
  const fixes = await wire.extension('fixes');
  fixes?.SelectSelectionInput(window, atoms.CLIPBOARD, SET_SELECTION_OWNER_MASK);
  return new Clipboard(session, window, atoms, fixes ? fixes.firstEvent : null);
}
