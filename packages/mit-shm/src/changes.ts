// Change notification: XDAMAGE on a drawable turned into "has anything changed?" one can wait on, and the
// rectangles that changed; where the server has no DAMAGE, a polling watch that says anything may have.

import { checkId } from './image';
import type { Session } from './session';
import type { DamageExtension, DamageNotifyEvent, GetWindowAttributesReply, X11Event } from './x11-types';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WatchOptions {
  /** The window or pixmap to watch. Default: the root window (which sees every window drawn on it). */
  drawable?: number;
  /**
   * Collect the damaged rectangles for take() (DAMAGE DeltaRectangles: one event per newly damaged part).
   * Default false: one event per "something changed" (NonEmpty), the cheapest, for callers that recapture
   * the whole area anyway.
   */
  rectangles?: boolean;
}

/**
 * Tells when pixels of a drawable changed. The usual loop: `take()` just before capturing (it re-arms the
 * watch, on the same connection, so a change drawn after it is in this capture or reported again, never
 * lost), capture, then `await changed(timeout)`.
 */
export interface ChangeWatch extends Disposable {
  /** 'damage': the server reports changes. 'polling': it cannot (see `reason`), so anything may change. */
  readonly mode: 'damage' | 'polling';
  /** Why the watch polls. */
  readonly reason?: string;
  /**
   * True as soon as a change is pending (at once if one already is), false when `timeoutMs` passes or
   * `signal` aborts first. A polling watch answers true at once: pace the captures yourself.
   */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * The rectangles changed since the last take(), and re-arms the watch (DamageSubtract). With
   * `rectangles: false` it returns [] and only re-arms; a polling watch returns the whole drawable.
   */
  take(): Rect[];
  /** Stop watching; frees the server's Damage object. Safe to call twice. */
  close(): void;
}

/** DamageSubtract with repair = None and parts = None: empty the whole damage. */
const NONE = 0;
/** The core StructureNotify event mask bit. */
const STRUCTURE_NOTIFY = 0x20000;

export async function watchChanges(session: Session, options: WatchOptions): Promise<ChangeWatch> {
  const wire = session.wire;
  wire.ensureOpen('watchChanges');
  const drawable = options.drawable ?? session.root;
  checkId('watchChanges', 'drawable', drawable);
  const rectangles = options.rectangles === true;
  const extension = await wire.extension('damage');
  const watch = extension
    ? await DamageWatch.open(session, extension, drawable, rectangles)
    : await PollingWatch.open(session, drawable, 'the X server has no DAMAGE extension');
  session.resources.add(watch);
  return watch;
}

class DamageWatch implements ChangeWatch {
  readonly mode = 'damage' as const;
  /** Until the first take(), the picture counts as changed. */
  #pending = true;
  #rects: Rect[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  readonly #session: Session;
  readonly #extension: DamageExtension;
  readonly #damage: number;
  readonly #onEvent: (ev: X11Event) => void;
  readonly #onLost: () => void;

  private constructor(
    session: Session,
    extension: DamageExtension,
    damage: number,
    drawable: number,
    rectangles: boolean,
  ) {
    this.#session = session;
    this.#extension = extension;
    this.#damage = damage;
    this.#onEvent = (ev) => {
      if (ev.name === 'DestroyNotify' && ev.wid === drawable) {
        // The server destroys the Damage with its window, and no damage will come: wake the waiter, whose
        // next capture then fails with the window's BadWindow/BadDrawable instead of waiting forever.
        this.#pending = true;
        this.#wake?.();
        return;
      }
      if (ev.name !== 'DamageNotify' || (ev as DamageNotifyEvent).damage !== damage) return;
      if (rectangles) {
        const { x, y, w, h } = (ev as DamageNotifyEvent).area;
        this.#rects.push({ x, y, width: w, height: h });
      }
      this.#pending = true;
      this.#wake?.();
    };
    this.#onLost = () => this.close();
    session.wire.client.on('event', this.#onEvent);
    void session.wire.lost.then(this.#onLost);
  }

  static async open(
    session: Session,
    extension: DamageExtension,
    drawable: number,
    rectangles: boolean,
  ): Promise<DamageWatch> {
    const wire = session.wire;
    const damage = wire.allocId();
    const level = rectangles ? extension.ReportLevel.DeltaRectangles : extension.ReportLevel.NonEmpty;
    const watch = new DamageWatch(session, extension, damage, drawable, rectangles);
    try {
      await wire.checked(
        'DamageCreate',
        () => extension.Create(damage, drawable, level),
        () => `drawable=0x${drawable.toString(16)}`,
      );
      // Hear of the window's end (DestroyNotify). Our selection on it is ours alone, but it replaces what
      // this connection selected before (a window capture's StructureNotify, an XWindow's keys): kept. A
      // pixmap has no attributes and answers BadWindow, which is fine.
      if (drawable !== session.root)
        wire
          .call<GetWindowAttributesReply>('GetWindowAttributes', (cb) =>
            wire.client.GetWindowAttributes(drawable, cb),
          )
          .then(({ myEventMasks }) => {
            if ((myEventMasks & STRUCTURE_NOTIFY) === 0 && !wire.closed)
              wire.client.ChangeWindowAttributes(drawable, { eventMask: myEventMasks | STRUCTURE_NOTIFY });
          })
          .catch(() => {});
    } catch (err) {
      watch.#closed = true;
      wire.client.removeListener('event', watch.#onEvent);
      wire.releaseId(damage);
      throw err;
    }
    return watch;
  }

  changed(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#pending) return Promise.resolve(true);
    if (this.#closed || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (changed: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this.#wake === onChange) this.#wake = null;
        resolve(changed);
      };
      const onChange = (): void => finish(this.#pending);
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal?.addEventListener('abort', onAbort);
      this.#wake = onChange;
    });
  }

  take(): Rect[] {
    const rects = this.#rects;
    this.#rects = [];
    this.#pending = false;
    if (!this.#closed && !this.#session.wire.closed) this.#extension.Subtract(this.#damage, NONE, NONE);
    return rects;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const wire = this.#session.wire;
    wire.client.removeListener('event', this.#onEvent);
    this.#session.resources.delete(this);
    this.#wake?.();
    if (!wire.closed) {
      this.#extension.Destroy(this.#damage);
      wire.releaseId(this.#damage);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

class PollingWatch implements ChangeWatch {
  readonly mode = 'polling' as const;
  readonly reason: string;
  readonly #session: Session;
  readonly #area: Rect;

  private constructor(session: Session, area: Rect, reason: string) {
    this.#session = session;
    this.#area = area;
    this.reason = reason;
  }

  static async open(session: Session, drawable: number, reason: string): Promise<PollingWatch> {
    const { width, height } = await session.wire.geometry(drawable);
    return new PollingWatch(session, { x: 0, y: 0, width, height }, reason);
  }

  changed(): Promise<boolean> {
    return Promise.resolve(!this.#session.wire.closed);
  }

  take(): Rect[] {
    return [{ ...this.#area }];
  }

  close(): void {
    this.#session.resources.delete(this);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
