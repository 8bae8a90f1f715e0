// FrameRing: the producing side. Creates (or reclaims) the ring's segment, hands out slots to
// fill in place (claim/commit) or copies frames in (publish), and removes the ring on close.
import { type Attachment, Segment, ShmError } from '@xshm/shm';
import { FrameBusError } from './errors';
import { bytesPerPixel, formatCode, isPixelFormat, PIXEL_FORMATS, type PixelFormat } from './format';
import {
  HEADER,
  MAX_DIMENSION,
  MAX_RING_SIZE,
  MAX_SLOTS,
  MIN_SLOTS,
  NO_FRAME,
  payloadOffset,
  type RingGeometry,
  RingLayout,
  ringGeometry,
  STATE_CLOSED,
} from './layout';
import { addressOf, futexWakeAll } from './libc';
import { trackOnExit, untrackOnExit } from './lifetime';
import { checkKey, checkName, ringKey } from './name';
import { FrameReader } from './reader';
import { reclaimAbandoned, reclaimStale, tooLargeToMap } from './reclaim';

/** Where a ring is: a name (hashed to a key, README "Names and keys") or a raw SysV key. */
export type RingAddress = { name: string; key?: undefined } | { key: number; name?: undefined };

export type RingOptions = RingAddress & {
  width: number;
  height: number;
  format: PixelFormat;
  /** Frames the ring holds; a reader has slots - 1 frame times to read one. Default 3. */
  slots?: number;
  /** Permission bits of the segment. Default 0o600: only this user's processes read it. */
  mode?: number;
};

/** A frame to copy into the ring. */
export interface FrameInput {
  /** The pixels: at least stride * height bytes of the ring's format. */
  data: Uint8Array;
  /** Bytes per row of `data` when it differs from the ring's stride (rows are copied one by one). */
  stride?: number;
  /** CLOCK_MONOTONIC nanoseconds; default: now (process.hrtime.bigint()). */
  timestamp?: bigint;
}

/** A slot handed out by claim(): fill `data` in place, then commit() (or cancel()). */
export interface SlotClaim {
  /** The slot's pixels, stride * height bytes, aliasing the ring's segment. */
  readonly data: Buffer;
  readonly slot: number;
  /** Byte offset of `data` in the segment (for writers that take a segment and an offset). */
  readonly offset: number;
  /** Publishes the slot as the newest frame; returns its frame number. */
  commit(options?: { timestamp?: bigint }): number;
  /** Gives the slot back unpublished (the capture failed); readers never see it. */
  cancel(): void;
}

export class FrameRing implements Disposable {
  readonly name: string | null;
  readonly key: number;
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly format: PixelFormat;
  readonly slots: number;
  /** Bytes between slot payloads (whole pages, a multiple of 4096). */
  readonly slotSize: number;
  /** Bytes of the whole segment. */
  readonly size: number;
  /** The ring's segment, e.g. to attach it to an X server and capture straight into a slot. */
  readonly segment: Segment;

  readonly #attachment: Attachment;
  readonly #layout: RingLayout;
  readonly #geometry: RingGeometry;
  readonly #sequenceAddress: bigint;
  readonly #claims: Claim[];
  readonly #what: string;
  #frames = 0;
  #open: Claim | null = null;
  #closed = false;

  private constructor(segment: Segment, attachment: Attachment, geometry: RingGeometry, where: Where) {
    this.segment = segment;
    this.#attachment = attachment;
    this.#geometry = geometry;
    this.#layout = new RingLayout(attachment.buffer);
    this.#sequenceAddress = addressOf(attachment.buffer) + BigInt(HEADER.sequence);
    this.#what = where.what;
    this.name = where.name;
    this.key = where.key;
    this.width = geometry.width;
    this.height = geometry.height;
    this.stride = geometry.stride;
    this.format = geometry.format;
    this.slots = geometry.slots;
    this.slotSize = geometry.slotSize;
    this.size = geometry.size;
    this.#claims = Array.from({ length: geometry.slots }, (_, slot) => new Claim(this, slot));
    this.#layout.initialize(geometry, process.pid);
    trackOnExit(this);
  }

  /**
   * Creates the ring `name` (or `key`). A stale ring of the same key (its producer dead or
   * closed) is removed and replaced; a live one is EBUSY.
   */
  static create(options: RingOptions): FrameRing {
    const where = resolveAddress(options);
    const { width, height, format, slots = 3, mode = 0o600 } = options;
    checkDimension('width', width);
    checkDimension('height', height);
    if (!isPixelFormat(format)) {
      throw new FrameBusError(
        'EINVAL',
        `format ${JSON.stringify(format)} is not one of ${PIXEL_FORMATS.join(', ')}`,
      );
    }
    if (!Number.isInteger(slots) || slots < MIN_SLOTS || slots > MAX_SLOTS) {
      throw new FrameBusError(
        'EINVAL',
        `slots ${String(slots)} is out of range: give ${MIN_SLOTS} to ${MAX_SLOTS}`,
      );
    }
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
      throw new FrameBusError(
        'EINVAL',
        `mode ${String(mode)} is not permission bits: give 0 to 0o777 (e.g. 0o600)`,
      );
    }
    const geometry = ringGeometry(width, height, format, slots);
    if (geometry.size > MAX_RING_SIZE) {
      throw new FrameBusError(
        'EINVAL',
        `a ${width}x${height} ${format} ring of ${slots} slots needs ${geometry.size} bytes; a ring is mapped whole ` +
          `into one Buffer, at most ${MAX_RING_SIZE} bytes on this Node: give fewer slots or smaller frames`,
      );
    }
    reclaimAbandoned();
    let segment: Segment;
    try {
      segment = Segment.create(geometry.size, { key: where.key, mode, exclusive: true });
    } catch (error) {
      if (!(error instanceof ShmError && error.code === 'EEXIST')) throw error;
      reclaimStale(where.key, where.what);
      segment = Segment.create(geometry.size, { key: where.key, mode, exclusive: true });
    }
    let attachment: Attachment;
    try {
      attachment = segment.attach();
    } catch (error) {
      segment.destroy();
      throw error;
    }
    return new FrameRing(segment, attachment, geometry, where);
  }

  /** Opens the ring `name` (or `key`) for reading. ENOENT when there is none. */
  static open(options: RingAddress): FrameReader {
    const where = resolveAddress(options);
    reclaimAbandoned();
    let segment: Segment;
    try {
      segment = Segment.open({ key: where.key });
    } catch (error) {
      if (error instanceof ShmError && error.code === 'ENOENT') {
        throw new FrameBusError(
          'ENOENT',
          `${where.what} does not exist: start its producer first (e.g. xshot share)`,
          {
            cause: error,
          },
        );
      }
      throw error;
    }
    const tooLarge = tooLargeToMap(segment, where.what);
    if (tooLarge) throw tooLarge;
    const attachment = segment.attach({ readOnly: true });
    try {
      const geometry = new RingLayout(attachment.buffer).readGeometry(segment.size, where.what);
      return new FrameReader(segment, attachment, geometry, where);
    } catch (error) {
      attachment.detach();
      throw error;
    }
  }

  /** The segment's id (ipcs -m). */
  get id(): number {
    return this.segment.id;
  }

  /** Frames committed so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Byte offset of a slot's payload in the segment. */
  slotOffset(slot: number): number {
    return payloadOffset(this.#geometry, slot);
  }

  /**
   * The next slot to fill in place. It is never the newest frame's slot, so readers keep
   * reading that one meanwhile. One claim at a time: commit or cancel it before the next.
   */
  claim(): SlotClaim {
    this.#assertOpen('claim()');
    if (this.#open) {
      throw new FrameBusError(
        'ECLAIM',
        `claim() on ${this.#what} while slot ${this.#open.slot} is claimed: commit() or cancel() it first`,
      );
    }
    const latest = this.#layout.latest;
    const claim = this.#claims[latest === NO_FRAME ? 0 : (latest + 1) % this.slots]!;
    // Odd: readers that were reading the slot's previous frame see that it changed.
    this.#layout.setSlotSeq(claim.slot, this.#layout.slotSeq(claim.slot) + 1);
    this.#open = claim;
    return claim;
  }

  /** Copies a frame into the next slot and commits it; returns its frame number. */
  publish(frame: FrameInput): number {
    this.#assertOpen('publish()');
    const stride = frame.stride ?? this.stride;
    const rowBytes = this.width * bytesPerPixel(this.format);
    const length = frame.data instanceof Uint8Array ? frame.data.byteLength : -1;
    if (!Number.isInteger(stride) || stride < rowBytes || length < stride * (this.height - 1) + rowBytes) {
      throw new FrameBusError(
        'EINVAL',
        `publish() on ${this.#what}: a ${this.width}x${this.height} ${this.format} frame with stride ${stride} ` +
          `needs a Uint8Array of ${stride * this.height} bytes (stride at least ${rowBytes}); got ${length < 0 ? 'no Uint8Array' : `${length} bytes`}`,
      );
    }
    const timestamp = frame.timestamp ?? process.hrtime.bigint();
    this.#checkTimestamp('publish()', timestamp);
    const claim = this.claim();
    try {
      const source = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
      if (stride === this.stride) {
        source.copy(claim.data, 0, 0, this.stride * this.height);
      } else {
        for (let row = 0; row < this.height; row++) {
          source.copy(claim.data, row * this.stride, row * stride, row * stride + rowBytes);
        }
      }
    } catch (error) {
      // Whatever failed, the slot goes back: a claim left open would refuse every later frame.
      claim.cancel();
      throw error;
    }
    return claim.commit({ timestamp });
  }

  /** Marks the ring closed (readers end at once), removes it and detaches. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    untrackOnExit(this);
    this.#layout.state = STATE_CLOSED;
    this.#layout.bumpSequence();
    futexWakeAll(this.#sequenceAddress);
    try {
      this.segment.destroy();
    } finally {
      this.#attachment.detach();
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Claim.commit() */
  commitClaim(claim: Claim, timestamp: bigint): number {
    this.#checkClaim(claim, 'commit()');
    // Checked before anything is written: the claim stays open, to commit again or cancel.
    this.#checkTimestamp('commit()', timestamp);
    const layout = this.#layout;
    const frame = ++this.#frames;
    layout.writeDescriptor(claim.slot, {
      format: formatCode(this.format),
      frame,
      timestamp,
      width: this.width,
      height: this.height,
      stride: this.stride,
      bytes: this.#geometry.frameBytes,
    });
    layout.setSlotSeq(claim.slot, nextEven(layout.slotSeq(claim.slot)));
    layout.latest = claim.slot;
    layout.bumpSequence();
    this.#open = null;
    futexWakeAll(this.#sequenceAddress);
    return frame;
  }

  /** @internal Claim.cancel() */
  cancelClaim(claim: Claim): void {
    this.#checkClaim(claim, 'cancel()');
    const layout = this.#layout;
    // Frame 0 and an even seq: stable, but never offered (latest still names another slot).
    layout.writeDescriptor(claim.slot, {
      format: 0,
      frame: 0,
      timestamp: 0n,
      width: 0,
      height: 0,
      stride: 0,
      bytes: 0,
    });
    layout.setSlotSeq(claim.slot, nextEven(layout.slotSeq(claim.slot)));
    this.#open = null;
  }

  /** @internal */
  payload(slot: number): Buffer {
    const offset = payloadOffset(this.#geometry, slot);
    return this.#attachment.buffer.subarray(offset, offset + this.#geometry.frameBytes);
  }

  #checkClaim(claim: Claim, call: string): void {
    this.#assertOpen(call);
    if (this.#open !== claim) {
      throw new FrameBusError(
        'ECLAIM',
        `${call} of slot ${claim.slot} of ${this.#what}: that claim was already committed or cancelled; claim() again`,
      );
    }
  }

  #checkTimestamp(call: string, timestamp: unknown): void {
    if (typeof timestamp !== 'bigint' || timestamp < 0n || timestamp > MAX_U64) {
      const got =
        typeof timestamp === 'bigint' ? `${timestamp}n` : `${typeof timestamp} ${String(timestamp)}`;
      throw new FrameBusError(
        'EINVAL',
        `${call} on ${this.#what}: timestamp must be a bigint from 0 to 2^64 - 1 (CLOCK_MONOTONIC nanoseconds, ` +
          `as process.hrtime.bigint() gives); got ${got}`,
      );
    }
  }

  #assertOpen(call: string): void {
    if (this.#closed)
      throw new FrameBusError('ECLOSED', `${call} on ${this.#what}, which is closed: create the ring again`);
  }
}

const MAX_U64 = 2n ** 64n - 1n;

/** One per slot, made once: claiming allocates nothing. */
class Claim implements SlotClaim {
  readonly data: Buffer;
  readonly slot: number;
  readonly offset: number;
  readonly #ring: FrameRing;

  constructor(ring: FrameRing, slot: number) {
    this.#ring = ring;
    this.slot = slot;
    this.offset = ring.slotOffset(slot);
    this.data = ring.payload(slot);
  }

  commit(options?: { timestamp?: bigint }): number {
    return this.#ring.commitClaim(this, options?.timestamp ?? process.hrtime.bigint());
  }

  cancel(): void {
    this.#ring.cancelClaim(this);
  }
}

/** The next even seqlock value after `seq`; 0 means "never written", so the wrap skips it. */
function nextEven(seq: number): number {
  return ((seq | 1) + 1) >>> 0 || 2;
}

interface Where {
  name: string | null;
  key: number;
  /** How messages name the ring: `ring "desktop" (key 0x62de602e)`. */
  what: string;
}

function resolveAddress(options: RingAddress): Where {
  const { name, key } = options as { name?: unknown; key?: unknown };
  if (name !== undefined && key !== undefined) {
    throw new FrameBusError('EINVAL', 'give a ring name or a key, not both');
  }
  if (name !== undefined) {
    checkName(name);
    const hashed = ringKey(name);
    return { name, key: hashed, what: `ring "${name}" (key 0x${hashed.toString(16)})` };
  }
  if (key === undefined)
    throw new FrameBusError('EINVAL', 'give a ring name (e.g. { name: "desktop" }) or a key');
  checkKey(key);
  return { name: null, key, what: `ring with key 0x${key.toString(16)}` };
}

function checkDimension(what: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_DIMENSION) {
    throw new FrameBusError(
      'EINVAL',
      `${what} ${String(value)} is out of range: give an integer from 1 to ${MAX_DIMENSION}`,
    );
  }
}
