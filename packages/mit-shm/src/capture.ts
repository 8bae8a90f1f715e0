// What to capture (root, region, monitor, window: resolved and bounds-checked before any image request),
// one-shot capture into pooled memory, frames(): two buffers, the next capture always in flight, and
// strips(): one capture in horizontal strips through two small buffers, the next strip always in flight.

import { delay, untilAborted } from './abort';
import { hasComposite, windowFrames, windowSource } from './composite';
import type { SegmentHandle } from './display';
import { type CursorImage, compositeCursor, type ImageLayout, type PixelFormat, strideOf } from './format';
import { CaptureSlot, checkId, checkInt, Frame, Strip } from './image';
import { checkMonitor, findMonitor, queryMonitors } from './monitors';
import type { Session } from './session';
import type { CursorImageReply } from './x11-types';

export interface CaptureOptions {
  /**
   * A window id: capture its own contents, whole even where covered or off the screen (Composite); x, y
   * are relative to it. Default: the root window.
   */
  window?: number;
  /** A monitor from display.monitors(), by index or by name; x, y are relative to it. */
  monitor?: number | string;
  /** Region, default the whole drawable (or monitor). */
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  /** Draw the pointer into the frame (XFixes cursor image). Default false: X captures never include it. */
  cursor?: boolean;
}

export interface FramesOptions extends CaptureOptions {
  /** Frames per second at most. Default: as fast as the server delivers. */
  fps?: number;
  /** Stop the iteration (it ends quietly) and release everything. */
  signal?: AbortSignal;
}

export interface StripsOptions extends CaptureOptions {
  /** Rows per strip. Default: as many as fit in 512 KiB (68 rows of a 1920-pixel, 32 bpp screen). */
  rows?: number;
  /**
   * Hold the server (GrabServer) from the first strip's request until the iteration ends, so that the
   * strips make one picture of one moment, as a single capture does. Other clients wait meanwhile: consume
   * strips promptly. Default true.
   */
  grab?: boolean;
}

/** A resolved capture: what to ask the server for, and where it is on the root (for the cursor). */
export interface Region {
  drawable: number;
  x: number;
  y: number;
  width: number;
  height: number;
  format: PixelFormat;
  /** Root coordinates of the drawable's origin. */
  rootX: number;
  rootY: number;
  cursor: boolean;
  /** Why the frame holds less than asked (a window without Composite). */
  reason?: string;
}

export async function resolveRegion(
  session: Session,
  options: CaptureOptions,
  where: string,
): Promise<Region> {
  session.wire.ensureOpen(where);
  const { window, monitor } = options;
  if (window !== undefined && monitor !== undefined)
    throw new RangeError(`${where}: give either window or monitor, not both`);
  for (const key of ['x', 'y'] as const)
    if (options[key] !== undefined) checkInt(where, key, options[key], 0, 32767);
  for (const key of ['width', 'height'] as const)
    if (options[key] !== undefined) checkInt(where, key, options[key], 1, 32767);
  if (window !== undefined) checkId(where, 'window', window);
  if (monitor !== undefined) checkMonitor(where, monitor);

  let drawable = session.root;
  let bounds = { x: 0, y: 0, width: session.width, height: session.height };
  let format = session.format;
  let what = `the root window (${session.width}x${session.height})`;
  let rootX = 0;
  let rootY = 0;
  let reason: string | undefined;
  if (window !== undefined) {
    const source = await windowSource(session, window, where);
    ({ drawable, bounds, format, what, reason } = source);
    if (options.cursor) {
      const origin = await session.wire.call<{ destX: number; destY: number }>('TranslateCoordinates', (cb) =>
        session.wire.client.TranslateCoordinates(window, session.root, 0, 0, cb),
      );
      // Root coordinates of the drawable's origin: the window's, less where the window starts in it.
      rootX = origin.destX - source.inset;
      rootY = origin.destY - source.inset;
    }
  } else if (monitor !== undefined) {
    const m = findMonitor(await queryMonitors(session), monitor, where);
    bounds = { x: m.x, y: m.y, width: m.width, height: m.height };
    what = `monitor ${m.index} '${m.name}' (${m.width}x${m.height})`;
  }
  const x = options.x ?? 0;
  const y = options.y ?? 0;
  const width = options.width ?? bounds.width - x;
  const height = options.height ?? bounds.height - y;
  if (width < 1 || height < 1 || x + width > bounds.width || y + height > bounds.height)
    throw new RangeError(
      `${where}: region ${width}x${height}+${x}+${y} is outside ${what}; x + width must be <= ${bounds.width} and y + height <= ${bounds.height}`,
    );
  return {
    drawable,
    x: bounds.x + x,
    y: bounds.y + y,
    width,
    height,
    format,
    rootX,
    rootY,
    cursor: !!options.cursor,
    ...(reason ? { reason } : {}),
  };
}

/** Fill `slot` from the region; the slot is busy (not reusable) while the request is in flight. */
async function grab(session: Session, slot: CaptureSlot, region: Region): Promise<Frame> {
  slot.busy = true;
  try {
    const backing = slot.backing!;
    const got = session.get(
      backing,
      region.drawable,
      region.x,
      region.y,
      region.width,
      region.height,
      0,
      region.format.depth,
    );
    if (!slot.mapped) {
      // The first capture into fresh memory: map its pages into this process while the server fills them,
      // in one system call, instead of one page fault per 4 KiB when the frame is first read (1080p:
      // ~3.5-5 ms of faults, measured, on whoever reads the frame first; here they overlap the server's work).
      slot.mapped = true;
      backing.populate(strideOf(region.format, region.width) * region.height);
    }
    await got;
    const frame = new Frame(slot, region.width, region.height, region.format, process.hrtime.bigint());
    if (region.reason) frame.reason = region.reason;
    if (region.cursor) compositeCursor(frame.data, frame, cursorIn(await cursorImage(session), region, 0));
    return frame;
  } finally {
    slot.busy = false;
  }
}

export async function captureFrame(session: Session, options: CaptureOptions): Promise<Frame> {
  const region = await resolveRegion(session, options, 'capture');
  const slot = session.takeCaptureSlot(strideOf(region.format, region.width) * region.height);
  return grab(session, slot, region);
}

export async function captureIntoSegment(
  session: Session,
  handle: SegmentHandle,
  offset: number,
  options: CaptureOptions,
): Promise<ImageLayout> {
  if (options.cursor)
    throw new RangeError('captureInto: cursor is not supported here (we cannot read the segment)');
  const region = await resolveRegion(session, options, 'captureInto');
  const stride = strideOf(region.format, region.width);
  checkInt('captureInto', 'offset', offset, 0, handle.size - stride * region.height);
  await session.wire.shmGetImage(
    region.drawable,
    region.x,
    region.y,
    region.width,
    region.height,
    handle.shmseg,
    offset,
  );
  return { width: region.width, height: region.height, stride, format: region.format };
}

/** The pointer's image and position (XFixes GetCursorImage). */
async function cursorImage(session: Session): Promise<CursorImageReply> {
  const fixes = await session.wire.extension('fixes');
  if (!fixes) throw new Error(`capture: cursor needs the XFIXES extension, which ${session.name} lacks`);
  return session.wire.call<CursorImageReply>('XFixesGetCursorImage', (cb) => fixes.GetCursorImage(cb));
}

/** The cursor placed relative to row `top` of the region (compositeCursor clips what falls outside). */
function cursorIn(cursor: CursorImageReply, region: Region, top: number): CursorImage {
  return {
    x: cursor.x - cursor.xhot - region.rootX - region.x,
    y: cursor.y - cursor.yhot - region.rootY - region.y - top,
    width: cursor.width,
    height: cursor.height,
    argb: cursor.cursorImage,
  };
}

/** Bytes a default strip holds at most: small enough that fresh shared memory costs little to map. */
const STRIP_BYTES = 512 * 1024;

/**
 * One capture in strips of rows, through two buffers in one segment: while the caller reads strip k from
 * one, the server fills strip k + 1 into the other. At 1080p, capture and one read of every row on a fresh
 * connection (`pnpm bench`): 2.6 ms in strips of 68 rows against 4.8 ms for one capture into 8 MB of fresh
 * shared memory; in fresh processes (by hand) 4.2-6 against 12.5-16 ms, mostly mapping 2025 new pages.
 */
export async function* stripsOf(
  session: Session,
  options: StripsOptions,
): AsyncGenerator<Strip, void, undefined> {
  if (options.rows !== undefined) checkInt('strips', 'rows', options.rows, 1, 32767);
  const region = await resolveRegion(session, options, 'strips');
  const stride = strideOf(region.format, region.width);
  const rows = Math.min(region.height, options.rows ?? Math.max(1, Math.floor(STRIP_BYTES / stride)));
  const count = Math.ceil(region.height / rows);
  // The second buffer starts on a 64-byte boundary (a cache line; what SIMD readers like).
  const half = Math.ceil((stride * rows) / 64) * 64;
  const cursor = region.cursor ? await cursorImage(session) : undefined;
  const slot = new CaptureSlot(session.allocate(half * Math.min(count, 2)));
  const grab = options.grab !== false && count > 1;
  const pending: Promise<void>[] = [];
  const request = (k: number): void => {
    const got = session.get(
      slot.backing!,
      region.drawable,
      region.x,
      region.y + k * rows,
      region.width,
      Math.min(rows, region.height - k * rows),
      (k & 1) * half,
      region.format.depth,
    );
    got.catch(() => {});
    pending[k & 1] = got;
  };
  try {
    if (grab) session.wire.client.GrabServer();
    request(0);
    if (count > 1) request(1);
    for (let k = 0; k < count; k++) {
      await pending[k & 1];
      const y = k * rows;
      const strip = new Strip(
        slot,
        region.width,
        Math.min(rows, region.height - y),
        region.format,
        process.hrtime.bigint(),
        (k & 1) * half,
        y,
        region.height,
      );
      if (cursor) compositeCursor(strip.data, strip, cursorIn(cursor, region, y));
      yield strip;
      // The caller asked for the next strip: this one's buffer is free again.
      slot.generation++;
      if (k + 2 < count) request(k + 2);
    }
  } finally {
    if (grab && !session.wire.closed) session.wire.client.UngrabServer();
    // A request still in flight writes into memory about to be released: let it land first.
    await Promise.all(pending.map((p) => p.catch(() => undefined)));
    slot.release();
  }
}

export async function* framesOf(
  session: Session,
  options: FramesOptions,
): AsyncGenerator<Frame, void, undefined> {
  const { fps, signal } = options;
  if (fps !== undefined && (typeof fps !== 'number' || !(fps > 0) || fps > 1000))
    throw new RangeError(`frames: fps=${String(fps)} must be a number above 0 and at most 1000`);
  if (options.window !== undefined && (await hasComposite(session))) {
    yield* windowFrames(session, options, () => resolveRegion(session, options, 'frames'));
    return;
  }
  const region = await resolveRegion(session, options, 'frames');
  if (signal?.aborted) return;
  const size = strideOf(region.format, region.width) * region.height;
  // Two buffers of our own: while the caller holds the frame in one, the server fills the other.
  const slots = [new CaptureSlot(session.allocate(size)), new CaptureSlot(session.allocate(size))];
  const interval = fps ? 1000 / fps : 0;
  let nextStart = performance.now();
  let turn = 0;
  const start = (slot: CaptureSlot): Promise<Frame> => {
    const wait = nextStart - performance.now();
    nextStart = Math.max(nextStart + interval, performance.now());
    slot.generation++;
    slot.busy = true;
    const capture = (): Promise<Frame> => {
      if (signal?.aborted) return Promise.reject(new Error('frames: aborted'));
      return grab(session, slot, region);
    };
    return wait > 0 && interval > 0 ? delay(wait, signal).then(capture) : capture();
  };
  let inFlight: Promise<Frame> | null = start(slots[0]!);
  inFlight.catch(() => {});
  try {
    while (!signal?.aborted) {
      const frame = await untilAborted(inFlight, signal);
      if (!frame) break;
      turn ^= 1;
      // The other buffer held the frame the caller had before this one: it asked for the next, so reuse it.
      inFlight = start(slots[turn]!);
      inFlight.catch(() => {});
      yield frame;
    }
  } finally {
    // A request still in flight writes into memory we are about to release: let it land first.
    if (inFlight) await inFlight.catch(() => undefined);
    for (const slot of slots) slot.release();
  }
}
