// A window's own pixels, whole, through the Composite extension: the window is redirected (automatic: the
// server still shows it as before), its contents pixmap is named, and captures read that pixmap, so windows
// covered by others or past the screen's edge come out whole. The named pixmap is kept until the window is
// resized, unmapped or destroyed (StructureNotify says so), so a repeated capture costs what a root region
// of that size costs. Without Composite the part of the window on the screen is captured, and the frame's
// `reason` says why. frames({ window }) follows the window: new sizes, DAMAGE-driven captures, and an end
// when the window is destroyed.

import { delay } from './abort';
import type { FramesOptions, Region } from './capture';
import { watchChanges } from './changes';
import { XError } from './errors';
import { type PixelFormat, strideOf } from './format';
import { CaptureSlot, Frame } from './image';
import type { Session } from './session';
import type {
  CompositeExtension,
  DamageExtension,
  GetWindowAttributesReply,
  X11Event,
  XFixesExtension,
} from './x11-types';

/** Core protocol values, written once. */
const MAP_STATE_VIEWABLE = 2;
const STRUCTURE_NOTIFY = 0x00020000;
/** Composite RedirectWindow update mode: the server keeps painting the window where it was (not Manual). */
const REDIRECT_AUTOMATIC = 0;
/** DAMAGE report level: an event for every drawing request. */
const DAMAGE_RAW_RECTANGLES = 0;
/** How long frames() waits on DAMAGE before looking at its own flags again (events also wake it). */
const CHANGE_WAIT_MS = 1000;
/**
 * A window redirected while partly hidden has no pixels for the hidden part until its owner repaints them
 * (the server sends it Expose events): the first capture waits for that drawing, at most this long, and
 * then for a pause in it (a client repaints in several requests).
 */
const REPAINT_WAIT_MS = 250;
const REPAINT_QUIET_MS = 15;

/** What a window capture reads: a drawable and the window's contents in it. */
export interface WindowSource {
  /** The named pixmap (Composite), or the window itself (without Composite). */
  drawable: number;
  /** The window's contents (or, without Composite, their part on the screen) in drawable coordinates. */
  bounds: { x: number; y: number; width: number; height: number };
  /** Where the window's own origin lies in the drawable (its border width in a named pixmap; else 0). */
  inset: number;
  format: PixelFormat;
  /** The window as error messages name it. */
  what: string;
  /** Why the capture holds less than the whole window (no Composite). */
  reason?: string;
}

/** A window whose pixmap we named: valid until the window is resized, unmapped or destroyed. */
interface NamedWindow {
  pixmap: number;
  width: number;
  height: number;
  border: number;
  depth: number;
  /** Set by StructureNotify events; a stale pixmap is freed and named again on the next capture. */
  stale: boolean;
}

/** A window not viewable (unmapped, or inside an unmapped parent): frames() waits for it to be mapped. */
export class WindowNotViewableError extends Error {
  override readonly name = 'WindowNotViewableError';
  readonly window: number;
  constructor(where: string, window: number) {
    super(
      `${where}: window 0x${window.toString(16)} is not viewable (unmapped, or inside an unmapped window); an unmapped window has no pixels to capture — map it first`,
    );
    this.window = window;
  }
}

/** Per connection: its Composite extension (or why there is none) and the windows whose pixmaps it named. */
class WindowCaptures {
  readonly composite: Promise<CompositeExtension | null>;
  readonly #session: Session;
  readonly #named = new Map<number, NamedWindow>();
  /** Windows this connection has redirected (the server keeps them redirected until we disconnect). */
  readonly #redirected = new Set<number>();
  readonly #naming = new Map<number, Promise<NamedWindow>>();
  /** XFIXES and DAMAGE, for the repaint wait. */
  readonly #extensions: Promise<[XFixesExtension | null, DamageExtension | null]>;
  readonly #onEvent = (ev: X11Event): void => this.#event(ev);
  #listening = false;

  constructor(session: Session) {
    this.#session = session;
    const wire = session.wire;
    this.composite = wire.extension('composite').then(
      // NameWindowPixmap came with Composite 0.2.
      (ext) => (ext && (ext.major > 0 || ext.minor >= 2) ? ext : null),
    );
    // Asked for at the same time as Composite: one round trip for all three, not three.
    this.#extensions = Promise.all([wire.extension('fixes'), wire.extension('damage')]);
  }

  /** The window's named pixmap, named afresh when there is none or it went stale. */
  named(composite: CompositeExtension, window: number, where: string): Promise<NamedWindow> {
    const current = this.#named.get(window);
    if (current && !current.stale) return Promise.resolve(current);
    // Captures started together share one naming (each would otherwise free the other's pixmap).
    let naming = this.#naming.get(window);
    if (!naming) {
      naming = this.#name(composite, window, where).finally(() => this.#naming.delete(window));
      this.#naming.set(window, naming);
    }
    return naming;
  }

  /**
   * Three round trips on a window seen for the first time: the extensions (loaded once per connection, all
   * at once), then its attributes with its visible part, then the redirect and name with its geometry.
   */
  async #name(composite: CompositeExtension, window: number, where: string): Promise<NamedWindow> {
    const wire = this.#session.wire;
    const client = wire.client;
    if (!this.#listening) {
      this.#listening = true;
      client.on('event', this.#onEvent);
    }
    const detail = `window=0x${window.toString(16)}`;
    const [fixes, damageExt] = await this.#extensions;
    const canWatch = !!fixes && !!damageExt && (composite.major > 0 || composite.minor >= 3);
    // A resize between our requests would leave a pixmap of another size than we were told: the entry is
    // registered before the naming, so the ConfigureNotify marks it stale, and we name again.
    for (let attempt = 0; ; attempt++) {
      const firstTime = !this.#redirected.has(window);
      const [attributes, hidden] = await Promise.all([
        wire.call<GetWindowAttributesReply>(
          'GetWindowAttributes',
          (cb) => client.GetWindowAttributes(window, cb),
          detail,
        ),
        firstTime && canWatch ? this.#partlyHidden(composite, fixes!, window) : false,
      ]);
      if (attributes.mapState !== MAP_STATE_VIEWABLE) throw new WindowNotViewableError(where, window);
      const entry: NamedWindow = { pixmap: 0, width: 0, height: 0, border: 0, depth: 0, stale: false };
      this.#drop(window);
      this.#named.set(window, entry);
      // Our own event mask on the window is replaced by ChangeWindowAttributes: keep what we selected before
      // (a window made with display.createWindow() listens for exposures and keys).
      if ((attributes.myEventMasks & STRUCTURE_NOTIFY) === 0)
        client.ChangeWindowAttributes(window, { eventMask: attributes.myEventMasks | STRUCTURE_NOTIFY });
      const repaint = hidden ? this.#repaintWatch(damageExt!, window) : null;
      const pixmap = wire.allocId();
      try {
        // A compositing manager's own (manual) redirect makes ours fail with BadAccess; the window is
        // redirected all the same, so only the naming is checked. Its check's round trip runs alongside the
        // geometry's: one round trip for both.
        composite.RedirectWindow(window, REDIRECT_AUTOMATIC);
        const [, geometry] = await Promise.all([
          wire.checked('CompositeNameWindowPixmap', () => composite.NameWindowPixmap(window, pixmap), detail),
          wire.geometry(window),
        ]);
        this.#redirected.add(window);
        entry.pixmap = pixmap;
        Object.assign(entry, {
          width: geometry.width,
          height: geometry.height,
          border: geometry.borderWidth,
          depth: geometry.depth,
        });
        await repaint?.settled();
      } catch (err) {
        // The window went away meanwhile (or was never viewable): the pixmap, if it was named, goes too.
        entry.pixmap = pixmap;
        this.#drop(window);
        throw err;
      } finally {
        repaint?.close();
      }
      if (!entry.stale) return entry;
      // Resized or unmapped before its geometry came back: this pixmap may have the old size. The event
      // dropped the entry while it had no pixmap yet, so the pixmap is freed here.
      if (!wire.closed) client.FreePixmap(pixmap);
      if (attempt >= 3)
        throw new Error(
          `${where}: window 0x${window.toString(16)} changed size or was unmapped during each of 4 attempts to capture it; try again once it settles`,
        );
    }
  }

  /** True when part of the window (border included) is not on the screen: covered, or past an edge. */
  async #partlyHidden(
    composite: CompositeExtension,
    fixes: XFixesExtension,
    window: number,
  ): Promise<boolean> {
    const wire = this.#session.wire;
    const region = wire.allocId();
    const [geometry, clip] = await Promise.all([
      wire.geometry(window),
      wire.call<{ rectangles: { width: number; height: number }[] }>(
        'XFixesFetchRegion',
        (cb) => {
          composite.CreateRegionFromBorderClip(region, window);
          fixes.FetchRegion(region, cb);
          fixes.DestroyRegion(region);
        },
        `border clip of window 0x${window.toString(16)}`,
      ),
    ]);
    const whole = (geometry.width + 2 * geometry.borderWidth) * (geometry.height + 2 * geometry.borderWidth);
    return clip.rectangles.reduce((sum, r) => sum + r.width * r.height, 0) < whole;
  }

  /**
   * A window redirected while partly hidden has nothing yet for the hidden part; the server asks its owner
   * to draw it (Expose). settled() resolves once the owner has drawn and paused, or after REPAINT_WAIT_MS.
   * (A test's client that repaints 40 ms after each Expose is captured whole; without this wait, black.)
   * Created before the redirect is sent: drawing reported before the redirect is confirmed is the server's
   * (the window's background), after it, the owner's.
   */
  #repaintWatch(damageExt: DamageExtension, window: number): { settled(): Promise<void>; close(): void } {
    const wire = this.#session.wire;
    const client = wire.client;
    const damage = wire.allocId();
    damageExt.Create(damage, window, DAMAGE_RAW_RECTANGLES);
    let confirmed = false;
    let drawn: (() => void) | null = null;
    const onEvent = (ev: X11Event): void => {
      if (ev.name === 'DamageNotify' && ev.damage === damage && confirmed) drawn?.();
    };
    client.on('event', onEvent);
    const drawing = (ms: number): Promise<boolean> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        drawn = () => {
          clearTimeout(timer);
          drawn = null;
          resolve(true);
        };
      });
    return {
      async settled() {
        confirmed = true;
        const end = performance.now() + REPAINT_WAIT_MS;
        if (!(await drawing(REPAINT_WAIT_MS))) return;
        // A window that keeps drawing (an animation) is captured after the wait, as it is then.
        while (performance.now() < end && (await drawing(REPAINT_QUIET_MS))) {}
      },
      close() {
        client.removeListener('event', onEvent);
        if (!wire.closed) damageExt.Destroy(damage);
      },
    };
  }

  #event(ev: X11Event): void {
    if (ev.name === 'ConfigureNotify') {
      const e = ev as X11Event & { wid1: number; width: number; height: number; borderWidth: number };
      const entry = this.#named.get(e.wid1);
      if (entry && (e.width !== entry.width || e.height !== entry.height || e.borderWidth !== entry.border))
        this.#drop(e.wid1);
    } else if (ev.name === 'UnmapNotify' || ev.name === 'DestroyNotify') {
      this.#drop(ev.wid as number);
    }
  }

  /** Free the window's pixmap (requests run in order: a capture already sent still reads it). */
  #drop(window: number): void {
    const entry = this.#named.get(window);
    if (!entry) return;
    entry.stale = true;
    this.#named.delete(window);
    const wire = this.#session.wire;
    const client = wire.client;
    if (!entry.pixmap || wire.closed) return;
    try {
      client.FreePixmap(entry.pixmap);
    } catch {
      // x11 throws once close() has begun; the server frees everything of ours when we disconnect.
    }
  }
}

const captures = new WeakMap<Session, WindowCaptures>();

function capturesOf(session: Session): WindowCaptures {
  let state = captures.get(session);
  if (!state) {
    state = new WindowCaptures(session);
    captures.set(session, state);
  }
  return state;
}

/** True when the display can capture windows whole (Composite 0.2 or later). */
export async function hasComposite(session: Session): Promise<boolean> {
  return (await capturesOf(session).composite) !== null;
}

/** What capturing `window` reads: its named pixmap through Composite, else its part on the screen. */
export async function windowSource(session: Session, window: number, where: string): Promise<WindowSource> {
  const state = capturesOf(session);
  const composite = await state.composite;
  if (composite) {
    const named = await state.named(composite, window, where);
    return {
      drawable: named.pixmap,
      // The pixmap holds the border too: the contents start inside it.
      bounds: { x: named.border, y: named.border, width: named.width, height: named.height },
      inset: named.border,
      format: named.depth === session.depth ? session.format : session.formatFor(named.depth),
      what: `window 0x${window.toString(16)} (${named.width}x${named.height})`,
    };
  }
  return visiblePart(session, window, where);
}

/** Without Composite: the window's part on the screen (ShmGetImage of a window must lie inside the screen). */
async function visiblePart(session: Session, window: number, where: string): Promise<WindowSource> {
  const wire = session.wire;
  const client = wire.client;
  const detail = `window=0x${window.toString(16)}`;
  const [geometry, origin] = await Promise.all([
    wire.geometry(window),
    wire.call<{ destX: number; destY: number }>(
      'TranslateCoordinates',
      (cb) => client.TranslateCoordinates(window, session.root, 0, 0, cb),
      detail,
    ),
  ]);
  const left = Math.max(0, origin.destX);
  const top = Math.max(0, origin.destY);
  const right = Math.min(session.width, origin.destX + geometry.width);
  const bottom = Math.min(session.height, origin.destY + geometry.height);
  const id = `0x${window.toString(16)}`;
  if (right <= left || bottom <= top)
    throw new RangeError(
      `${where}: window ${id} (${geometry.width}x${geometry.height}+${origin.destX}+${origin.destY}) is wholly off the screen, and ${session.name} has no Composite extension to capture it there; move it onto the screen or enable Composite`,
    );
  const bounds = { x: left - origin.destX, y: top - origin.destY, width: right - left, height: bottom - top };
  return {
    drawable: window,
    bounds,
    inset: 0,
    format: geometry.depth === session.depth ? session.format : session.formatFor(geometry.depth),
    what: `the part of window ${id} on the screen (${bounds.width}x${bounds.height})`,
    reason: `${session.name} has no Composite extension: this is the part of window ${id} on the screen (${bounds.width}x${bounds.height}+${bounds.x}+${bounds.y} of ${geometry.width}x${geometry.height}), and parts covered by other windows show those windows`,
  };
}

/**
 * Frames of a window as it changes (Composite): the first at once, then one whenever DAMAGE reports
 * drawing or the window is resized (a frame of the new size), at most `fps` a second. Moves change no
 * pixel of the window's own, so they make no frame. Ends when the window is destroyed; waits while it is
 * unmapped. Each frame is valid until the next is asked for.
 */
export async function* windowFrames(
  session: Session,
  options: FramesOptions,
  resolve: () => Promise<Region>,
): AsyncGenerator<Frame, void, undefined> {
  const window = options.window!;
  const { fps, signal } = options;
  if (options.cursor)
    throw new RangeError(
      'frames: cursor is not drawn into frames that follow a window; call capture({ window, cursor: true }) for each frame instead',
    );
  const client = session.wire.client;
  const interval = fps ? 1000 / fps : 0;
  // The first resolve names the pixmap and selects StructureNotify, so the events below reach us.
  let region: Region | null = await resolve();
  let size = { width: region.width, height: region.height };
  // The window's own damage, one event per "something changed" (`rectangles: false`). A new Damage holds
  // the window's visible part and says so at once; watchChanges() waits for the server, so that event is
  // already in, and the take() before the first capture absorbs it.
  const watch = await watchChanges(session, { drawable: window, rectangles: false });
  const damage = watch.mode === 'damage';
  let changed = true;
  let destroyed = false;
  /** Aborted by the events below (and by `signal`) to end a wait on the watch early. */
  let wake: AbortController | null = null;
  const poke = (): void => wake?.abort();
  const onEvent = (ev: X11Event): void => {
    if (ev.name === 'DestroyNotify' && ev.wid === window) destroyed = true;
    else if (ev.name === 'MapNotify' && ev.wid === window) changed = true;
    else if (ev.name === 'ConfigureNotify' && ev.wid1 === window) {
      const e = ev as X11Event & { width: number; height: number };
      if (e.width !== size.width || e.height !== size.height) changed = true;
    } else return;
    poke();
  };
  client.on('event', onEvent);
  const onAbort = (): void => poke();
  signal?.addEventListener('abort', onAbort);
  let slot: CaptureSlot | null = null;
  let nextStart = performance.now();
  try {
    while (!signal?.aborted && !destroyed) {
      if (!changed && damage) {
        wake = new AbortController();
        if (await watch.changed(CHANGE_WAIT_MS, wake.signal)) changed = true;
        wake = null;
        continue;
      }
      const wait = nextStart - performance.now();
      if (wait > 0) await delay(wait, signal);
      if (signal?.aborted || destroyed) break;
      nextStart = Math.max(nextStart + interval, performance.now());
      changed = false;
      // Re-armed before the capture: drawing while it runs makes the next frame.
      watch.take();
      try {
        region ??= await resolve();
        const size = strideOf(region.format, region.width) * region.height;
        if (!slot || slot.size < size) {
          slot?.release();
          slot = new CaptureSlot(session.allocate(size));
        }
        slot.generation++;
        const backing = slot.backing!;
        await session.get(
          backing,
          region.drawable,
          region.x,
          region.y,
          region.width,
          region.height,
          0,
          region.format.depth,
        );
      } catch (err) {
        if (destroyed || isGone(err)) break;
        if (err instanceof WindowNotViewableError) {
          // Mapped again: MapNotify wakes us (without DAMAGE, look again shortly).
          region = null;
          if (!damage) await delay(Math.max(interval, 50), signal);
          continue;
        }
        throw err;
      }
      const frame = new Frame(slot, region.width, region.height, region.format, process.hrtime.bigint());
      size = { width: region.width, height: region.height };
      // The next frame names the pixmap again: the window may have been resized meanwhile.
      region = null;
      yield frame;
    }
  } finally {
    client.removeListener('event', onEvent);
    signal?.removeEventListener('abort', onAbort);
    watch.close();
    slot?.release();
  }
}

/** The errors of a window that no longer exists. */
function isGone(err: unknown): boolean {
  return err instanceof XError && (err.error === 'BadWindow' || err.error === 'BadDrawable');
}
