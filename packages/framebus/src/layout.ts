// The ring's byte layout, version 1: every offset and constant of the format is written here
// once, and mirrored in include/framebus.h and the README (which other languages read).
// All integers are little-endian. Word-sized fields that change while readers look
// (a slot's seq, the ring's sequence, latest, state) are read and written with Atomics.
import { maxMappedSize, pageSize } from '@xshm/shm';
import { FrameBusError } from './errors';
import { bytesPerPixel, formatCode, formatFromCode, type PixelFormat } from './format';

/** The bytes 'F' 'B' 'U' 'S' read as a little-endian u32. */
export const MAGIC = 0x53554246;
export const VERSION = 1;
/**
 * The layout's unit: slot 0's payload starts at 4096 (the header and the slot table fill the first 4 KiB)
 * and slot_size is a multiple of 4096, on every machine, so rings read the same everywhere.
 */
export const LAYOUT_UNIT = 4096;
export const DATA_OFFSET = LAYOUT_UNIT;
/**
 * Producers round slot_size up to the system page size as well (a multiple of LAYOUT_UNIT), so each
 * payload is whole pages for mmap and the X server. Readers accept any multiple of LAYOUT_UNIT.
 */
const SLOT_ALIGNMENT = Math.max(LAYOUT_UNIT, pageSize);
/** Frame sides fit X11's 16-bit signed coordinates; nothing larger has a source or a sink here. */
export const MAX_DIMENSION = 32767;
/** PID_MAX_LIMIT on 64-bit Linux: no process id is larger, so a producer_pid beyond it is corrupt. */
export const MAX_PID = 4_194_304;

/** Ring header fields: byte offsets from the start of the segment. */
export const HEADER = {
  magic: 0, // u32 MAGIC
  version: 4, // u32 VERSION
  dataOffset: 8, // u32 offset of slot 0's payload (DATA_OFFSET)
  slotCount: 12, // u32
  slotSize: 16, // u64 bytes from one payload to the next, a multiple of LAYOUT_UNIT
  width: 24, // u32 the ring's frame size, fixed at creation
  height: 28, // u32
  stride: 32, // u32 bytes per row
  format: 36, // u32 pixel format code (format.ts)
  producerPid: 40, // u32 the producer's process id
  state: 44, // u32 STATE_LIVE or STATE_CLOSED
  sequence: 48, // u32 futex word: committed frames mod 2^32, bumped again on close
  latest: 52, // u32 slot of the newest committed frame, NO_FRAME before the first
  // 56..63 reserved, zero
} as const;

export const STATE_LIVE = 0;
/** Set by a producer that closed its ring: readers end instead of waiting. */
export const STATE_CLOSED = 1;
export const NO_FRAME = 0xffffffff;

/** Slot descriptors: SLOT_TABLE_OFFSET + slot * SLOT_DESCRIPTOR_SIZE, then these offsets. */
export const SLOT_TABLE_OFFSET = 64;
export const SLOT_DESCRIPTOR_SIZE = 64;
export const SLOT = {
  seq: 0, // u32 seqlock: odd while the producer writes the slot, even when stable, 0 never written
  format: 4, // u32 pixel format code
  frame: 8, // u64 frame number (1 for the first frame of the ring)
  timestamp: 16, // u64 CLOCK_MONOTONIC nanoseconds at commit
  width: 24, // u32
  height: 28, // u32
  stride: 32, // u32 bytes per row
  bytes: 36, // u32 payload length, stride * height
  // 40..63 reserved, zero
} as const;

export const MIN_SLOTS = 2;
export const MAX_SLOTS = (DATA_OFFSET - SLOT_TABLE_OFFSET) / SLOT_DESCRIPTOR_SIZE;
/** Rows are padded to 4 bytes, the X server's scanline pad for ZPixmap images. */
export const ROW_ALIGNMENT = 4;

/** What a ring's size and shape are, derived from what its producer asked for. */
export interface RingGeometry {
  width: number;
  height: number;
  stride: number;
  format: PixelFormat;
  slots: number;
  /** Bytes of one frame: stride * height. */
  frameBytes: number;
  /** Bytes between payloads: frameBytes rounded up to whole pages (a multiple of LAYOUT_UNIT). */
  slotSize: number;
  /** Bytes of the whole segment. */
  size: number;
}

export function ringGeometry(
  width: number,
  height: number,
  format: PixelFormat,
  slots: number,
): RingGeometry {
  const stride = alignUp(width * bytesPerPixel(format), ROW_ALIGNMENT);
  const frameBytes = stride * height;
  const slotSize = alignUp(frameBytes, SLOT_ALIGNMENT);
  return { width, height, stride, format, slots, frameBytes, slotSize, size: DATA_OFFSET + slots * slotSize };
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

export function slotDescriptorOffset(slot: number): number {
  return SLOT_TABLE_OFFSET + slot * SLOT_DESCRIPTOR_SIZE;
}

/** A slot descriptor's fields other than seq (those are read inside the seqlock). */
export interface SlotDescriptor {
  format: number;
  frame: number;
  timestamp: bigint;
  width: number;
  height: number;
  stride: number;
  bytes: number;
}

/**
 * The layout over one attached segment: typed accessors, nothing else. It holds no state
 * of its own beyond the two views, so a producer and its readers can each make one.
 */
export class RingLayout {
  readonly buffer: Buffer;
  /** The first page as u32 words, for the Atomics fields. */
  private readonly words: Uint32Array;

  constructor(buffer: Buffer) {
    this.buffer = buffer;
    // A segment too small to be a ring gets no words; readGeometry() rejects it by size first.
    this.words = new Uint32Array(
      buffer.buffer,
      buffer.byteOffset,
      buffer.length >= DATA_OFFSET ? DATA_OFFSET / 4 : 0,
    );
  }

  /** Writes a fresh header and an empty slot table (the producer, before anyone reads). */
  initialize(geometry: RingGeometry, producerPid: number): void {
    this.buffer.fill(0, 0, DATA_OFFSET);
    const b = this.buffer;
    b.writeUInt32LE(VERSION, HEADER.version);
    b.writeUInt32LE(DATA_OFFSET, HEADER.dataOffset);
    b.writeUInt32LE(geometry.slots, HEADER.slotCount);
    b.writeBigUInt64LE(BigInt(geometry.slotSize), HEADER.slotSize);
    b.writeUInt32LE(geometry.width, HEADER.width);
    b.writeUInt32LE(geometry.height, HEADER.height);
    b.writeUInt32LE(geometry.stride, HEADER.stride);
    b.writeUInt32LE(formatCode(geometry.format), HEADER.format);
    b.writeUInt32LE(producerPid, HEADER.producerPid);
    this.store(HEADER.state, STATE_LIVE);
    this.store(HEADER.latest, NO_FRAME);
    // Magic last: a reader that sees it sees a complete header.
    this.store(HEADER.magic, MAGIC);
  }

  get magic(): number {
    return this.load(HEADER.magic);
  }

  /**
   * The geometry a header describes, every field checked against the segment (README "Reading a
   * ring", framebus_check_header() in the C header): throws EFORMAT when it is not a version-1 ring
   * that fits `size` bytes. Readers keep what this returns and never re-read the geometry, so a
   * header rewritten later cannot move a slot outside the segment.
   */
  readGeometry(size: number, what: string): RingGeometry {
    const b = this.buffer;
    if (size < DATA_OFFSET || this.magic !== MAGIC) {
      throw new FrameBusError(
        'EFORMAT',
        `${what} is not a frame ring (no 'FBUS' magic at offset 0); another program owns that key — pick another name or key`,
      );
    }
    const version = b.readUInt32LE(HEADER.version);
    if (version !== VERSION) {
      throw new FrameBusError(
        'EFORMAT',
        `${what} has ring layout version ${version}; this @xshm/framebus reads version ${VERSION} — use a matching version`,
      );
    }
    const corrupt = (field: string, value: number | bigint, expected: string): FrameBusError =>
      corruptRing(what, `${field} is ${value}; it must be ${expected}`);
    const dataOffset = b.readUInt32LE(HEADER.dataOffset);
    if (dataOffset !== DATA_OFFSET) throw corrupt('data_offset', dataOffset, String(DATA_OFFSET));
    const slots = b.readUInt32LE(HEADER.slotCount);
    if (slots < MIN_SLOTS || slots > MAX_SLOTS)
      throw corrupt('slot_count', slots, `${MIN_SLOTS} to ${MAX_SLOTS}`);
    const code = b.readUInt32LE(HEADER.format);
    const format = formatFromCode(code);
    if (!format) throw corrupt('format', code, 'a known pixel format code');
    const width = b.readUInt32LE(HEADER.width);
    const height = b.readUInt32LE(HEADER.height);
    if (width < 1 || width > MAX_DIMENSION) throw corrupt('width', width, `1 to ${MAX_DIMENSION}`);
    if (height < 1 || height > MAX_DIMENSION) throw corrupt('height', height, `1 to ${MAX_DIMENSION}`);
    const geometry = ringGeometry(width, height, format, slots);
    const stride = b.readUInt32LE(HEADER.stride);
    if (stride !== geometry.stride)
      throw corrupt('stride', stride, `${geometry.stride} (width x bytes per pixel, rounded up to 4)`);
    const slotSize = b.readBigUInt64LE(HEADER.slotSize);
    if (slotSize < BigInt(geometry.frameBytes) || slotSize % BigInt(LAYOUT_UNIT) !== 0n)
      throw corrupt('slot_size', slotSize, `a multiple of ${LAYOUT_UNIT} of at least stride x height`);
    const end = BigInt(DATA_OFFSET) + BigInt(slots) * slotSize;
    if (end > BigInt(size)) {
      throw corruptRing(
        what,
        `its ${slots} slots of ${slotSize} bytes end at byte ${end}, past the end of the ${size}-byte segment`,
      );
    }
    const state = this.state;
    if (state !== STATE_LIVE && state !== STATE_CLOSED)
      throw corrupt('state', state, '0 (live) or 1 (closed)');
    const pid = this.producerPid;
    if (!isPid(pid)) throw corrupt('producer_pid', pid, `a process id, 1 to ${MAX_PID}`);
    // Within `size`, which is at most maxMappedSize: a safe integer.
    return { ...geometry, slotSize: Number(slotSize), size: Number(end) };
  }

  get producerPid(): number {
    return this.buffer.readUInt32LE(HEADER.producerPid);
  }

  get state(): number {
    return this.load(HEADER.state);
  }

  set state(value: number) {
    this.store(HEADER.state, value);
  }

  get sequence(): number {
    return this.load(HEADER.sequence);
  }

  /** Adds one to the futex word (wrapping at 2^32). */
  bumpSequence(): void {
    Atomics.add(this.words, HEADER.sequence / 4, 1);
  }

  get latest(): number {
    return this.load(HEADER.latest);
  }

  set latest(slot: number) {
    this.store(HEADER.latest, slot);
  }

  slotSeq(slot: number): number {
    return this.load(slotDescriptorOffset(slot) + SLOT.seq);
  }

  setSlotSeq(slot: number, value: number): void {
    this.store(slotDescriptorOffset(slot) + SLOT.seq, value >>> 0);
  }

  readDescriptor(slot: number): SlotDescriptor {
    const at = slotDescriptorOffset(slot);
    const b = this.buffer;
    return {
      format: b.readUInt32LE(at + SLOT.format),
      frame: Number(b.readBigUInt64LE(at + SLOT.frame)),
      timestamp: b.readBigUInt64LE(at + SLOT.timestamp),
      width: b.readUInt32LE(at + SLOT.width),
      height: b.readUInt32LE(at + SLOT.height),
      stride: b.readUInt32LE(at + SLOT.stride),
      bytes: b.readUInt32LE(at + SLOT.bytes),
    };
  }

  /** The frame number a slot holds (0 when none), without the rest of the descriptor. */
  slotFrame(slot: number): number {
    return Number(this.buffer.readBigUInt64LE(slotDescriptorOffset(slot) + SLOT.frame));
  }

  writeDescriptor(slot: number, descriptor: SlotDescriptor): void {
    const at = slotDescriptorOffset(slot);
    const b = this.buffer;
    b.writeUInt32LE(descriptor.format, at + SLOT.format);
    b.writeBigUInt64LE(BigInt(descriptor.frame), at + SLOT.frame);
    b.writeBigUInt64LE(descriptor.timestamp, at + SLOT.timestamp);
    b.writeUInt32LE(descriptor.width, at + SLOT.width);
    b.writeUInt32LE(descriptor.height, at + SLOT.height);
    b.writeUInt32LE(descriptor.stride, at + SLOT.stride);
    b.writeUInt32LE(descriptor.bytes, at + SLOT.bytes);
  }

  private load(offset: number): number {
    return Atomics.load(this.words, offset / 4);
  }

  private store(offset: number, value: number): void {
    Atomics.store(this.words, offset / 4, value);
  }
}

/** A ring that breaks the layout's rules: readers refuse it rather than read outside it. */
export function corruptRing(what: string, detail: string): FrameBusError {
  return new FrameBusError(
    'EFORMAT',
    `${what} has a corrupt ring header: ${detail}; nothing was read from it — its producer must create it again`,
  );
}

/** Whether a producer_pid can be a process id at all. */
export function isPid(pid: number): boolean {
  return Number.isInteger(pid) && pid >= 1 && pid <= MAX_PID;
}

/** The largest ring segment: the whole of it is mapped into one Buffer. */
export const MAX_RING_SIZE = maxMappedSize;

/** Byte offset of a slot's payload in the segment. */
export function payloadOffset(geometry: RingGeometry, slot: number): number {
  return DATA_OFFSET + slot * geometry.slotSize;
}
