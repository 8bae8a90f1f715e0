// PNG rows from captured pixels, a strip at a time: a filter byte, then RGB. 32 bpp BGRX goes through the
// WebAssembly SIMD packer (filter fused in, see simd-rows.ts); every other layout, and every runtime without
// WebAssembly SIMD, through @xshm/mit-shm's toRGB (the reference converter) with the filter applied after.
import { type EncodableStrip, isWordBGRX } from '../encodable';
import { type SimdRowPacker, simdRowPacker } from './simd-rows';

/** The PNG row filters used: None (0) and Sub (1, each byte minus the same channel of the pixel before). */
export type RowFilter = 'none' | 'sub';

/** Who packs 32 bpp BGRX rows: the WebAssembly SIMD packer (default, where the runtime has it) or toRGB. */
export type RowPackerName = 'simd' | 'toRGB';

/** PNG rows packed into a slot, and the call that hands the slot back once zlib is done with them. */
export interface PackedRows {
  data: Buffer;
  release(): void;
}

/**
 * Packs a picture's rows into PNG rows as they come, a strip at a time, and judges how screen-like some of
 * them are. Rows are numbered in the picture; smoothness() and rows() read the strip last given to take().
 */
export interface RowPacker {
  /** The strip the next calls read. */
  take(strip: EncodableStrip): void;
  /** Share of sampled pixels (a grid of up to SAMPLE_ROWS x SAMPLE_COLUMNS) equal to their left neighbour. */
  smoothness(first: number, rows: number): number;
  /** `rows` rows from `first` as PNG rows with `filter`, once a slot is free for them. */
  rows(first: number, rows: number, filter: RowFilter): Promise<PackedRows>;
}

/** Slots packed rows wait in for their deflate: enough that packing rarely waits for zlib. */
const ROW_SLOTS = 6;

/**
 * The grid sampled when judging a band: ~1000 pixels tell a screen from a photo as well as all of them do
 * (desktop picture: 82-98% of pixels repeat their left neighbour in every eighth of the screen; plasma noise:
 * 0%). Kept small on purpose: in code that runs once, cold, sampling every 16th row whole cost 5 ms, and
 * 4000 samples a band were enough for V8 to spend ~6 ms of the other core compiling the loop.
 */
const SAMPLE_ROWS = 8;
const SAMPLE_COLUMNS = 128;

/**
 * A packer for a picture whose first strip is `first` (later strips have its width and format); rows() is
 * called with at most `runRows` rows at a time.
 */
export function rowPacker(first: EncodableStrip, runRows: number, packer: RowPackerName = 'simd'): RowPacker {
  if (packer === 'simd' && isWordBGRX(first)) {
    // No more slots than runs: a whole frame comes in one strip, as a run per band.
    const slots = Math.min(ROW_SLOTS, Math.ceil(first.regionHeight / runRows));
    const simd = simdRowPacker(first.width, first.stride, runRows, slots);
    if (simd) return simdPacker(first, simd, slots);
  }
  return convertingPacker(first.width);
}

function simdPacker(first: EncodableStrip, simd: SimdRowPacker, slots: number): RowPacker {
  const { width, stride } = first;
  let strip = first;
  let words: Uint32Array = new Uint32Array(0);
  const pool = slotPool(slots);
  return {
    take(next) {
      // A strip that is not word aligned (no capture gives one) is copied into one that is.
      strip = isWordBGRX(next) ? next : { ...next, data: Buffer.from(new Uint8Array(next.data)) };
      words = new Uint32Array(
        strip.data.buffer,
        strip.data.byteOffset,
        (stride * (strip.height - 1)) / 4 + width,
      );
    },
    smoothness: (row, rows) => wordSmoothness(words, stride / 4, width, row - strip.y, rows),
    async rows(row, rows, filter) {
      const slot = await pool.take();
      const data = simd.pack(strip.data, row - strip.y, rows, slot, filter === 'sub');
      return { data, release: () => pool.give(slot) };
    },
  };
}

/**
 * mit-shm's toRGB converts each strip once, straight into rows behind their filter bytes; a run then only
 * needs its filter applied. Each strip gets a fresh buffer (zlib may still hold the previous one).
 */
function convertingPacker(width: number): RowPacker {
  const rowBytes = width * 3 + 1;
  let y = 0;
  let converted = Buffer.alloc(0);
  return {
    take(next) {
      y = next.y;
      converted = Buffer.allocUnsafe(next.height * rowBytes);
      next.toRGB(converted, { stride: rowBytes, offset: 1 });
    },
    smoothness: (row, rows) => rgbSmoothness(converted, rowBytes, width, row - y, rows),
    async rows(row, rows, filter) {
      const data = converted.subarray((row - y) * rowBytes, (row - y + rows) * rowBytes);
      if (filter === 'sub') subFilter(data, width, rows);
      else for (let r = 0; r < rows; r++) data[r * rowBytes] = 0;
      return { data, release: () => {} };
    },
  };
}

/** A pool of `size` slot numbers: take() resolves to a free one, give() returns it. */
function slotPool(size: number): { take(): Promise<number>; give(slot: number): void } {
  const free = Array.from({ length: size }, (_, slot) => slot);
  const waiting: ((slot: number) => void)[] = [];
  return {
    take: () => {
      const slot = free.pop();
      return slot !== undefined ? Promise.resolve(slot) : new Promise((resolve) => waiting.push(resolve));
    },
    give(slot) {
      const next = waiting.shift();
      if (next) next(slot);
      else free.push(slot);
    },
  };
}

/** The sampled rows of a band and the step between sampled columns (from 1, so x - 1 exists). */
function sampleGrid(rows: number, width: number): { rowStep: number; columnStep: number } {
  return {
    rowStep: Math.max(1, Math.floor(rows / SAMPLE_ROWS)),
    columnStep: Math.max(1, Math.floor(width / SAMPLE_COLUMNS)),
  };
}

/** The share of sampled BGRX pixels equal to their left neighbour (the X byte ignored). */
function wordSmoothness(
  words: Uint32Array,
  rowWords: number,
  width: number,
  first: number,
  rows: number,
): number {
  const { rowStep, columnStep } = sampleGrid(rows, width);
  let same = 0;
  let sampled = 0;
  for (let y = first; y < first + rows; y += rowStep) {
    const row = y * rowWords;
    for (let x = row + 1; x < row + width; x += columnStep, sampled++) {
      if (((words[x]! ^ words[x - 1]!) & 0xffffff) === 0) same++;
    }
  }
  return sampled === 0 ? 1 : same / sampled;
}

/** The share of sampled pixels equal to their left neighbour, in packed RGB rows behind filter bytes. */
function rgbSmoothness(rgb: Buffer, rowBytes: number, width: number, first: number, rows: number): number {
  const { rowStep, columnStep } = sampleGrid(rows, width);
  let same = 0;
  let sampled = 0;
  for (let y = first; y < first + rows; y += rowStep) {
    const row = y * rowBytes + 1;
    for (let i = row + 3; i < row + width * 3; i += 3 * columnStep, sampled++) {
      if (rgb[i] === rgb[i - 3] && rgb[i + 1] === rgb[i - 2] && rgb[i + 2] === rgb[i - 1]) same++;
    }
  }
  return sampled === 0 ? 1 : same / sampled;
}

/** Filter Sub in place on packed RGB rows (their filter bytes become 1); bytes are walked backwards. */
function subFilter(out: Buffer, width: number, rows: number): void {
  const rowBytes = width * 3 + 1;
  for (let y = 0; y < rows; y++) {
    const start = y * rowBytes;
    out[start] = 1;
    for (let i = start + rowBytes - 1; i > start + 3; i--) out[i] = (out[i]! - out[i - 3]!) & 0xff;
  }
}
