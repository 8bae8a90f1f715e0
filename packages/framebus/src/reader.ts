// FrameReader: the reading side of a ring. Reads the newest complete frame under its slot's
// seqlock (never a torn frame, never a wait on the producer), waits for new ones on the
// sequence futex, and ends when the producer closes, dies, or the ring is removed.
import type { Attachment, Segment } from '@xshm/shm';
import { FrameBusError } from './errors';
import { formatCode, type PixelFormat } from './format';
import {
  corruptRing,
  HEADER,
  isPid,
  MAX_PID,
  NO_FRAME,
  payloadOffset,
  type RingGeometry,
  RingLayout,
  STATE_CLOSED,
  STATE_LIVE,
} from './layout';
import { addressOf, processExists } from './libc';
import { trackOnExit, untrackOnExit } from './lifetime';
import { SequenceWaiter } from './waiter';

/** One frame read from a ring. */
export interface Frame {
  /** The frame's number in its ring: 1 for the first frame published, then 2, 3, ... */
  readonly sequence: number;
  /** CLOCK_MONOTONIC nanoseconds when the producer committed it (process.hrtime.bigint() clock). */
  readonly timestamp: bigint;
  readonly width: number;
  readonly height: number;
  /** Bytes per row. */
  readonly stride: number;
  readonly format: PixelFormat;
  /**
   * The pixels, stride * height bytes. From latest() and frames() this is the reader's own
   * buffer, checked intact after the copy: valid until this reader reads its next frame.
   * From peek() it aliases the ring's slot (see FrameView.intact()).
   */
  readonly data: Buffer;
}

/** A frame read in place (peek()): its data is the slot itself, with no copy. */
export interface FrameView extends Frame {
  /** The slot index and the payload's byte offset in the segment (for ShmPutImage and the like). */
  readonly slot: number;
  readonly offset: number;
  /**
   * True while the producer has not started rewriting this slot. Check it after using
   * `data`: when it is false, what was read may be torn; read again.
   */
  intact(): boolean;
}

/** Why frames() stopped, or why a reader ended. */
export type EndReason = 'producer-closed' | 'producer-died' | 'ring-removed' | 'aborted' | 'reader-closed';

export interface RingEnd {
  readonly reason: EndReason;
  /** What happened, in words, for logs and error messages. */
  readonly message: string;
}

/** How many times a read chases a slot the producer keeps rewriting before reporting "nothing now". */
const MAX_READ_ATTEMPTS = 64;

export class FrameReader implements Disposable {
  /** The ring's name, when it was opened by name. */
  readonly name: string | null;
  readonly key: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly format: PixelFormat;
  readonly slots: number;

  readonly #segment: Segment;
  readonly #attachment: Attachment;
  readonly #layout: RingLayout;
  readonly #geometry: RingGeometry;
  readonly #what: string;
  /** Where latest() and frames() copy frames: one buffer per reader, no allocation per frame. */
  readonly #copy: Buffer;
  #copied: Frame | null = null;
  #waiter: SequenceWaiter | null = null;
  #end: RingEnd | null = null;
  #closed = false;

  /** @internal FrameRing.open() builds readers; the attachment becomes the reader's. */
  constructor(
    segment: Segment,
    attachment: Attachment,
    geometry: RingGeometry,
    where: { name: string | null; key: number; what: string },
  ) {
    this.#segment = segment;
    this.#attachment = attachment;
    this.#layout = new RingLayout(attachment.buffer);
    this.#geometry = geometry;
    this.#what = where.what;
    this.name = where.name;
    this.key = where.key;
    this.width = geometry.width;
    this.height = geometry.height;
    this.stride = geometry.stride;
    this.format = geometry.format;
    this.slots = geometry.slots;
    this.#copy = Buffer.allocUnsafe(geometry.frameBytes);
    trackOnExit(this);
  }

  /** The SysV segment id of the ring (ipcs -m shows it; ShmAttach takes it). */
  get id(): number {
    return this.#segment.id;
  }

  /** Bytes of the ring's segment. */
  get size(): number {
    return this.#segment.size;
  }

  /** The process id recorded by the ring's producer. */
  get producerPid(): number {
    return this.#layout.producerPid;
  }

  /** Why this reader's frames() ended, or null while it has not. */
  get end(): RingEnd | null {
    return this.#end;
  }

  /** The newest complete frame, copied out and checked intact; null before the first frame. */
  latest(): Frame | null {
    this.#assertOpen('latest()');
    return this.#readNewest(0);
  }

  /** The newest complete frame in place, with no copy; null before the first frame. */
  peek(): FrameView | null {
    this.#assertOpen('peek()');
    const layout = this.#layout;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const slot = this.#latestSlot();
      if (slot === NO_FRAME) return null;
      const seq = layout.slotSeq(slot);
      if (seq === 0 || seq & 1) continue;
      const descriptor = this.#checkedDescriptor(slot, seq);
      if (!descriptor) continue;
      const offset = payloadOffset(this.#geometry, slot);
      const data = this.#attachment.buffer.subarray(offset, offset + this.#geometry.frameBytes);
      return {
        ...descriptor,
        data,
        slot,
        offset,
        intact: () => !this.#closed && layout.slotSeq(slot) === seq,
      };
    }
    return null;
  }

  /**
   * The ring's frames as they come, newest first: it yields the newest frame now (when there
   * is one), then each newer one; a reader slower than its producer skips frames, and never
   * sees a torn one. It ends (done) when the producer closes or dies, the ring is removed,
   * `signal` aborts, or the reader is closed; `reader.end` says which.
   */
  frames(options: { signal?: AbortSignal } = {}): AsyncGenerator<Frame, void, undefined> {
    this.#assertOpen('frames()');
    return this.#follow((after) => this.#readNewest(after), options.signal);
  }

  /**
   * As frames(), but each frame is a FrameView of the slot itself (peek()): no copy. For
   * consumers that hand the slot to someone else (ShmPutImage from the ring's segment) and
   * check `intact()` afterwards.
   */
  views(options: { signal?: AbortSignal } = {}): AsyncGenerator<FrameView, void, undefined> {
    this.#assertOpen('views()');
    return this.#follow((after) => {
      const view = this.peek();
      return view && view.sequence > after ? view : null;
    }, options.signal);
  }

  async *#follow<T extends Frame>(
    readNewer: (after: number) => T | null,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<T, void, undefined> {
    this.#waiter ??= new SequenceWaiter(addressOf(this.#attachment.buffer) + BigInt(HEADER.sequence));
    const waiter = this.#waiter;
    let last = 0;
    for (;;) {
      if (this.#closed)
        return this.#finish({ reason: 'reader-closed', message: `${this.#what}: reader closed` });
      if (signal?.aborted)
        return this.#finish({ reason: 'aborted', message: `${this.#what}: aborted by its signal` });
      const seen = this.#layout.sequence;
      const frame = readNewer(last);
      if (frame) {
        last = frame.sequence;
        yield frame;
        continue;
      }
      const end = this.#producerEnd();
      if (end) return this.#finish(end);
      await waiter.wait(seen, signal);
    }
  }

  /**
   * Detaches. When the producer is gone and this was the last process attached, the ring is
   * removed too (a producer killed with -9 cannot remove it itself).
   */
  close(): void {
    if (this.#closed) return;
    let producerEnd: RingEnd | null = null;
    try {
      producerEnd = this.#producerEnd();
    } catch {
      // A corrupt header: detach all the same, and leave the segment to its owner.
    }
    this.#closed = true;
    this.#end ??= { reason: 'reader-closed', message: `${this.#what}: reader closed` };
    untrackOnExit(this);
    this.#waiter?.close();
    this.#attachment.detach();
    if (producerEnd) removeIfAbandoned(this.#segment);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** The newest frame numbered above `after`, copied into #copy under the seqlock. */
  #readNewest(after: number): Frame | null {
    const layout = this.#layout;
    const copied = this.#copied;
    for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
      const slot = this.#latestSlot();
      if (slot === NO_FRAME) return null;
      const seq = layout.slotSeq(slot);
      if (seq === 0 || seq & 1) continue;
      const number = layout.slotFrame(slot);
      if (number <= after || (copied && number === copied.sequence)) {
        if (layout.slotSeq(slot) !== seq) continue; // the number itself may have been torn
        // Nothing newer; or latest() asked twice for the frame already in our buffer: no second copy.
        return number <= after ? null : copied;
      }
      const descriptor = this.#checkedDescriptor(slot, seq);
      if (!descriptor) continue;
      const offset = payloadOffset(this.#geometry, slot);
      this.#attachment.buffer.copy(this.#copy, 0, offset, offset + this.#geometry.frameBytes);
      if (layout.slotSeq(slot) !== seq) continue; // rewritten while we copied: take the newer one
      this.#copied = { ...descriptor, data: this.#copy };
      return this.#copied;
    }
    return null;
  }

  /** `latest`, checked against the slot count read at open: a slot past it would lie outside the segment. */
  #latestSlot(): number {
    const slot = this.#layout.latest;
    if (slot !== NO_FRAME && slot >= this.#geometry.slots) {
      throw corruptRing(
        this.#what,
        `latest is ${slot}; it must be below slot_count ${this.#geometry.slots} or 0xffffffff`,
      );
    }
    return slot;
  }

  /**
   * A slot's descriptor, checked against the ring (in version 1 a slot holds a frame of the ring's own
   * format, size and stride). Null when the slot changed while it was read (a torn read, retried); a
   * descriptor that is wrong while its seq held still is a corrupt ring.
   */
  #checkedDescriptor(slot: number, seq: number): Omit<Frame, 'data'> | null {
    const d = this.#layout.readDescriptor(slot);
    const g = this.#geometry;
    const wrong =
      d.format !== formatCode(g.format)
        ? `format 0x${d.format.toString(16)}, not the ring's ${g.format}`
        : d.width !== g.width || d.height !== g.height
          ? `a ${d.width}x${d.height} frame in a ${g.width}x${g.height} ring`
          : d.stride !== g.stride
            ? `stride ${d.stride}, not the ring's ${g.stride}`
            : d.bytes !== g.frameBytes
              ? `${d.bytes} bytes, not stride x height = ${g.frameBytes}`
              : null;
    if (this.#layout.slotSeq(slot) !== seq) return null;
    if (wrong) throw corruptRing(this.#what, `slot ${slot} describes ${wrong}`);
    return {
      sequence: d.frame,
      timestamp: d.timestamp,
      width: d.width,
      height: d.height,
      stride: d.stride,
      format: g.format,
    };
  }

  /** Why the producer will send nothing more, or null while it lives. */
  #producerEnd(): RingEnd | null {
    const state = this.#layout.state;
    if (state === STATE_CLOSED) {
      return { reason: 'producer-closed', message: `${this.#what}: its producer closed the ring` };
    }
    if (state !== STATE_LIVE)
      throw corruptRing(this.#what, `state is ${state}; it must be 0 (live) or 1 (closed)`);
    const pid = this.#layout.producerPid;
    if (!isPid(pid))
      throw corruptRing(this.#what, `producer_pid is ${pid}; it must be a process id, 1 to ${MAX_PID}`);
    if (!processExists(pid)) {
      return {
        reason: 'producer-died',
        message: `${this.#what}: its producer (pid ${pid}) died without closing it`,
      };
    }
    if (isRemoved(this.#segment)) {
      return {
        reason: 'ring-removed',
        message: `${this.#what}: the segment was removed (ipcrm, or a new producer of the same name replaced it)`,
      };
    }
    return null;
  }

  #finish(end: RingEnd): void {
    this.#end = end;
    // A closed ring is removed by its producer right after it says so; should the producer be killed in
    // between, the ring would outlive everyone. Readers that saw "closed" remove it too (the segment
    // stays readable for whoever is still attached); removing it twice is harmless.
    if (end.reason === 'producer-closed') markRemoved(this.#segment);
  }

  #assertOpen(call: string): void {
    if (this.#closed) {
      throw new FrameBusError('ECLOSED', `${call} on a closed reader of ${this.#what}: open the ring again`);
    }
  }
}

function isRemoved(segment: Segment): boolean {
  try {
    return segment.stat().removed;
  } catch {
    return true; // gone from the table altogether
  }
}

/** Marks a segment removed (IPC_RMID), if this process may and it still exists. */
function markRemoved(segment: Segment): void {
  try {
    segment.destroy();
  } catch {
    // Removed already (by its producer or another reader), or not ours to remove.
  }
}

/** Removes a segment nobody is attached to any more (its producer already gone). */
export function removeIfAbandoned(segment: Segment): void {
  try {
    const info = segment.stat();
    if (info.nattch === 0 && !info.removed) segment.destroy();
  } catch {
    // Already gone, or removed by another reader leaving at the same moment.
  }
}
