// Image files from captured X frames: PNG through node:zlib, JPEG/WebP/AVIF through sharp, raw RGBA.
//
// Why PNG does not go through sharp: one 1080p `xshot shot` is measured as a whole process, and loading
// sharp (libvips) costs ~50 ms, while packing BGRX rows to RGB (WebAssembly SIMD, see simd-pack.ts) and
// deflating them with node:zlib gives files within ~10% of libpng's default size on screens and ~9% smaller
// than scrot's on photo-like noise. Sharp is loaded only for the lossy formats. Measured per phase inside a
// whole 1080p shot (desktop picture, quiet 2-core VM, ~80 ms spawn to exit): Node start ~21 ms, the code
// cache and the bundle ~5.5, x11's core and koffi ~12, the X connection ~5, the MIT-SHM query and transport
// probe ~3, capture in strips and PNG ~21, the write ~1.5, exit ~9.
import { createDeflate, constants as zlibConstants, crc32 as zlibCrc32 } from 'node:zlib';
import type Sharp from 'sharp';
import { simdRowPacker } from './simd-pack';

/** The formats `xshot shot` writes. */
export const IMAGE_FORMATS = ['png', 'jpeg', 'webp', 'avif', 'raw'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** A file extension (lower case, no dot) to the format it implies. */
const EXTENSION_FORMATS: Record<string, ImageFormat> = {
  png: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  webp: 'webp',
  avif: 'avif',
  raw: 'raw',
  rgba: 'raw',
};

/**
 * What encode() needs from a frame: @xshm/mit-shm's Frame has this shape. `format.channels` names the
 * memory order ('BGRX' is the 32 bpp little-endian TrueColor every common server uses).
 */
export interface EncodableImage {
  width: number;
  height: number;
  stride: number;
  format: { channels: string; bitsPerPixel: number };
  data: Buffer;
  toRGBA(): Buffer;
  /** 8-bit RGB with each row at `offset + y * stride` in `out` (mit-shm's Frame.toRGB). */
  toRGB(out: Buffer, rows: { stride: number; offset: number }): Buffer;
}

/**
 * Some rows of a picture, from its row `y` down (mit-shm's Strip has this shape): the PNG encoder takes a
 * capture strip by strip, as `display.strips()` delivers it.
 */
export interface EncodableStrip extends EncodableImage {
  /** The picture's row this strip starts at. */
  y: number;
  /** Rows in the whole picture. */
  regionHeight: number;
}

export interface EncodeOptions {
  /** 1-100, for jpeg, webp and avif. */
  quality?: number;
}

/** `--format NAME` to a format, accepting `jpg`; undefined when unknown. */
export function formatFromName(name: string): ImageFormat | undefined {
  return EXTENSION_FORMATS[name.toLowerCase()];
}

/** The format a file name's extension implies; undefined when it has none we know. */
export function formatFromPath(path: string): ImageFormat | undefined {
  const match = /\.([A-Za-z0-9]+)$/.exec(path);
  return match ? EXTENSION_FORMATS[match[1]!.toLowerCase()] : undefined;
}

/** encode(), as the parts of the file in order: a PNG is written with one vectored write, never joined. */
export async function encodeParts(
  image: EncodableImage,
  format: ImageFormat,
  options: EncodeOptions = {},
): Promise<Buffer[]> {
  return format === 'png' ? encodePNGParts(image) : [await encode(image, format, options)];
}

/**
 * Encodes a frame. For jpeg/webp/avif a 32 bpp BGRX frame is rewritten in place (its data is consumed:
 * capture again before reading it); every other path leaves `data` untouched.
 */
export async function encode(
  image: EncodableImage,
  format: ImageFormat,
  options: EncodeOptions = {},
): Promise<Buffer> {
  switch (format) {
    case 'png':
      return encodePNG(image);
    case 'raw':
      return image.toRGBA();
    default:
      return encodeWithSharp(image, format, options.quality);
  }
}

/** How a PNG is split for parallel deflate; `bands` is the most it uses (fewer for short images). */
export interface PNGOptions {
  bands?: number;
  /** Who packs 32 bpp BGRX rows: WebAssembly SIMD when the runtime has it (default), or the JS loop. */
  packer?: 'simd' | 'js';
}

/**
 * An 8-bit RGB PNG (colour type 2, one IDAT) as the parts of the file in order, for a vectored write.
 * See encodePNGParts().
 */
export async function encodePNG(
  source: EncodableImage | AsyncIterable<EncodableStrip>,
  options: PNGOptions = {},
): Promise<Buffer> {
  return Buffer.concat(await encodePNGParts(source, options));
}

/** Rows per band below which a split costs more in thread hops than it gains. */
const MIN_BAND_ROWS = 64;

/**
 * The PNG file as parts, from a whole frame or from the strips of one capture (in order, from the top). Rows
 * are packed on the main thread as they come, in horizontal bands; each band is a zlib stream on node:zlib's
 * thread pool, fed each run of rows as soon as it is packed, so the other core deflates while the next rows
 * are captured and packed, and only the last rows remain when the last strip is in. Packed rows wait for
 * their deflate in a few reused slots, not in a buffer of the whole picture (1080p: ~1500 fewer page faults,
 * ~3 ms of the main thread). Each band is its own zlib stream ended with a sync flush (byte aligned, not
 * final) and an empty final block; their bodies concatenate into one deflate stream, whose Adler-32 is
 * combined from the bands'. A band whose first rows mostly repeat their left neighbour (screens: flat fills,
 * text, gradients) keeps filter None and zlib's default matcher; any other band (photos, noise) gets filter
 * Sub and Z_RLE, which is both faster and smaller there. Measured at 1080p in fresh processes (deflate time,
 * file size): desktop picture, None + level 3: 10 ms, 365 KiB (Sub + Z_RLE: 12 ms, 654 KiB); plasma-fractal
 * noise, None + level 3: 109 ms, 5285 KiB; Sub + Z_RLE: 45 ms, 3522 KiB (scrot: 3860 KiB). Also measured and
 * not kept: filter Up (desktop 444-458 KiB at levels 1-3, 622 KiB with Z_RLE; noise 3698-3798 KiB, no faster
 * than Sub), levels 1 and 2 on screens (379 and 373 KiB, within 1 ms of level 3), Z_FILTERED (as the default
 * on screens, slower on noise), Z_RLE with filter None (desktop 2127 KiB).
 */
export async function encodePNGParts(
  source: EncodableImage | AsyncIterable<EncodableStrip>,
  options: PNGOptions = {},
): Promise<Buffer[]> {
  const strips: AsyncIterable<EncodableStrip> | Iterable<EncodableStrip> =
    Symbol.asyncIterator in source ? source : [{ ...wholeImage(source), y: 0, regionHeight: source.height }];
  let png: ReturnType<typeof bandedPNG> | undefined;
  for await (const strip of strips) {
    png ??= bandedPNG(strip, options);
    await png.add(strip);
  }
  if (!png) throw new Error('encodePNG: no rows to encode');
  return png.finish();
}

/** A frame's fields read once (Frame.data is a getter that checks the frame is still valid). */
function wholeImage(image: EncodableImage): EncodableImage {
  return {
    width: image.width,
    height: image.height,
    stride: image.stride,
    format: image.format,
    data: image.data,
    toRGBA: () => image.toRGBA(),
    toRGB: (out, rows) => image.toRGB(out, rows),
  };
}

/** The banded encoder of a picture whose first rows are `first`: add() its rows in order, then finish(). */
function bandedPNG(first: EncodableStrip, options: PNGOptions) {
  const { width, regionHeight: height } = first;
  const rowBytes = width * 3 + 1;
  const count = Math.max(1, Math.min(options.bands ?? PNG_BANDS, Math.floor(height / MIN_BAND_ROWS)));
  const edges = Array.from({ length: count + 1 }, (_, band) => Math.round((band * height) / count));
  // A run of rows is packed and deflated as one: a strip, cut at band edges (a whole frame: a band).
  const runRows = Math.min(first.height, edges[1]!);
  const pack = rowPacker(first, runRows, options.packer ?? 'simd');
  const bands: Promise<Buffer>[] = [];
  let band = 0;
  let filter: RowFilter = 'none';
  let stream: ReturnType<typeof bandStream> | undefined;
  let done = 0;
  return {
    async add(strip: EncodableStrip): Promise<void> {
      if (strip.y !== done || strip.width !== width || strip.y + strip.height > height)
        throw new Error(
          `encodePNG: rows ${strip.y}-${strip.y + strip.height - 1} (${strip.width} wide) do not follow row ${done} of ${width}x${height}`,
        );
      pack.take(strip);
      // The strip in runs that stop at band edges: a band's filter is chosen from its first run.
      while (done < strip.y + strip.height) {
        const run = Math.min(strip.y + strip.height, edges[band + 1]!, done + runRows) - done;
        if (done === edges[band]) {
          filter = pack.smoothness(done, run) >= SMOOTH_SHARE ? 'none' : 'sub';
          const settings = filter === 'none' ? PNG_DEFLATE : PNG_DEFLATE_DETAILED;
          stream = bandStream(settings, (edges[band + 1]! - done) * rowBytes);
        }
        const rows = await pack.rows(done, run, filter);
        stream!.write(rows.data, rows.release);
        done += run;
        if (done === edges[band + 1]) {
          bands.push(stream!.end());
          band++;
        }
      }
    },
    async finish(): Promise<Buffer[]> {
      if (done !== height) throw new Error(`encodePNG: the rows ended at ${done} of ${height}`);
      const lengths = edges.slice(1).map((edge, b) => (edge - edges[b]!) * rowBytes);
      return pngFile(width, height, joinZlibStreams(await Promise.all(bands), lengths));
    },
  };
}

/** The parts of a PNG file around one zlib stream (itself in parts). */
function pngFile(width: number, height: number, idat: readonly Buffer[]): Buffer[] {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: truecolour, no alpha (X pixels have none)
  return [PNG_SIGNATURE, chunk('IHDR', header), ...chunkParts('IDAT', idat), chunk('IEND', Buffer.alloc(0))];
}

/**
 * Bands per PNG: zlib streams deflated side by side on the thread pool. With strips, a band's stream is
 * fed as its rows arrive, so the bands mostly run one after the other and what they buy is the last
 * band's backlog: at 1080p the last deflate ends ~4 ms after the last strip. Before strips (a whole frame
 * packed band by band), whole-process medians of 1 band (one deflateSync) against 4 were equal within the
 * noise (desktop 125 / 121 ms and 107 / 110 ms over 41 alternating runs, noise 160 / 157 ms); 2 and 8
 * measured no better. 4 costs little (a zlib state each) and keeps the other core busy where it is free.
 */
const PNG_BANDS = 4;

/** Share of sampled pixels equal to their left neighbour from which a band counts as screen-like. */
const SMOOTH_SHARE = 0.5;

/** Screen-like bands: zlib's default matcher at level 3 (fast, and within ~10% of libpng's default size). */
export const PNG_DEFLATE = { level: 3, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY } as const;
/** Photo-like bands (after filter Sub): run-length matches only. */
const PNG_DEFLATE_DETAILED = { level: 3, memLevel: 9, strategy: zlibConstants.Z_RLE } as const;

/** The tail every band stream ends with: a sync-flush marker, then an empty final fixed block (03 00). */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY_FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** Adler-32's modulus. */
const ADLER_BASE = 65521;

/** The Adler-32 of A followed by B, from adler(A), adler(B) and B's length (zlib's adler32_combine). */
export function adler32Combine(first: number, second: number, secondLength: number): number {
  const rem = secondLength % ADLER_BASE;
  let sum1 = first & 0xffff;
  let sum2 = (rem * sum1) % ADLER_BASE;
  sum1 += (second & 0xffff) + ADLER_BASE - 1;
  sum2 += (first >>> 16) + (second >>> 16) + ADLER_BASE - rem;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum2 >= ADLER_BASE * 2) sum2 -= ADLER_BASE * 2;
  if (sum2 >= ADLER_BASE) sum2 -= ADLER_BASE;
  return ((sum2 << 16) | sum1) >>> 0;
}

/**
 * One band as a complete zlib stream, fed as its rows are packed: each write is deflated on the thread pool
 * while the next rows are captured (`written` is called once zlib is done with the rows), and ends with
 * Z_SYNC_FLUSH (byte aligned, in a non-final block; the
 * window carries over, so the flushes cost ~5 bytes each); end() adds Z_FINISH with no input, which is only
 * an empty final block and the band's Adler-32. `bytes`, the band's size, sizes the output buffer, so the
 * stream never waits for a new one.
 */
function bandStream(
  settings: typeof PNG_DEFLATE | typeof PNG_DEFLATE_DETAILED,
  bytes: number,
): { write(rows: Buffer, written: () => void): void; end(): Promise<Buffer> } {
  const deflate = createDeflate({
    ...settings,
    flush: zlibConstants.Z_SYNC_FLUSH,
    chunkSize: Math.max(64 * 1024, bytes + (bytes >> 3) + 1024),
  });
  const parts: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    deflate.on('data', (part: Buffer) => parts.push(part));
    deflate.on('error', reject);
    deflate.on('end', () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
  });
  done.catch(() => {});
  let written: Promise<void> = Promise.resolve();
  return {
    write(rows, onWritten) {
      written = new Promise((resolve) =>
        deflate.write(rows, () => {
          onWritten();
          resolve();
        }),
      );
    },
    // Ended only once the last rows are deflated: node:zlib gives the write still queued at end() Z_FINISH
    // instead of Z_SYNC_FLUSH, and the band would end in a final block, which joinZlibStreams refuses.
    async end() {
      await written;
      deflate.end();
      return done;
    },
  };
}

/**
 * Band streams (each `78 xx | body ending 00 00 ff ff | 03 00 | adler`) as one zlib stream, as parts:
 * the first header, every body, one empty final block and the Adler-32 of all the data, combined from the
 * bands'. The packed rows are gone by now (their slots were reused), so a band that ends otherwise is an
 * error; zlib ends them so whenever the last write is flushed before the stream ends (see bandStream).
 */
function joinZlibStreams(streams: readonly Buffer[], lengths: readonly number[]): Buffer[] {
  const parts: Buffer[] = [streams[0]!.subarray(0, 2)];
  let adler = 1;
  for (const [band, stream] of streams.entries()) {
    const end = stream.length - 6;
    const wellFormed =
      end >= 6 &&
      stream.subarray(end - 4, end).equals(SYNC_MARKER) &&
      stream.subarray(end, end + 2).equals(EMPTY_FINAL_BLOCK);
    if (!wellFormed)
      throw new Error(`encodePNG: zlib ended band ${band} in a way it cannot be joined (a zlib change?)`);
    parts.push(stream.subarray(2, end));
    adler = adler32Combine(adler, stream.readUInt32BE(end + 2), lengths[band]!);
  }
  const trailer = Buffer.allocUnsafe(4);
  trailer.writeUInt32BE(adler, 0);
  parts.push(EMPTY_FINAL_BLOCK, trailer);
  return parts;
}

/** The PNG row filters used: None (0) and Sub (1, each byte minus the same channel of the pixel before). */
type RowFilter = 'none' | 'sub';

/** PNG rows packed into a slot, and the call that hands the slot back once zlib is done with them. */
interface PackedRows {
  data: Buffer;
  release(): void;
}

/**
 * Packs a picture's rows into PNG rows as they come, a strip at a time, and judges how screen-like some of
 * them are. Rows are numbered in the picture; smoothness() and rows() read the strip last given to take().
 */
interface RowPacker {
  /** The strip the next calls read. */
  take(strip: EncodableStrip): void;
  /** Share of sampled pixels (a grid of up to SAMPLE_ROWS x SAMPLE_COLUMNS) equal to their left neighbour. */
  smoothness(first: number, rows: number): number;
  /** `rows` rows from `first` as PNG rows with `filter`, once a slot is free for them. */
  rows(first: number, rows: number, filter: RowFilter): Promise<PackedRows>;
}

/** Slots packed rows wait in for their deflate: enough that packing rarely waits for zlib. */
const ROW_SLOTS = 6;

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

/**
 * The grid sampled when judging a band: ~1000 pixels tell a screen from a photo as well as all of them do
 * (desktop picture: 82-98% of pixels repeat their left neighbour in every eighth of the screen; plasma noise:
 * 0%). Kept small on purpose: in code that runs once, cold, sampling every 16th row whole cost 5 ms, and
 * 4000 samples a band were enough for V8 to spend ~6 ms of the other core compiling the loop.
 */
const SAMPLE_ROWS = 8;
const SAMPLE_COLUMNS = 128;

/** The sampled rows of a band and the step between sampled columns (from 1, so x - 1 exists). */
function sampleGrid(rows: number, width: number): { rowStep: number; columnStep: number } {
  return {
    rowStep: Math.max(1, Math.floor(rows / SAMPLE_ROWS)),
    columnStep: Math.max(1, Math.floor(width / SAMPLE_COLUMNS)),
  };
}

/** 32 bpp BGRX rows that can be read as words (the WebAssembly and JS packers' input). */
function isWordBGRX(image: EncodableImage): boolean {
  const { channels, bitsPerPixel } = image.format;
  return (
    (channels === 'BGRX' || channels === 'BGRA') &&
    bitsPerPixel === 32 &&
    image.data.byteOffset % 4 === 0 &&
    image.stride % 4 === 0
  );
}

/**
 * A packer for a picture whose first strip is `first` (later strips have its width and format); rows() is
 * called with at most `runRows` rows at a time.
 */
function rowPacker(first: EncodableStrip, runRows: number, packer: 'simd' | 'js'): RowPacker {
  const { width, stride } = first;
  const rowBytes = width * 3 + 1;
  if (isWordBGRX(first)) {
    let strip = first;
    let words: Uint32Array = new Uint32Array(0);
    // No more slots than runs: a whole frame comes in one strip, as a run per band.
    const slots = Math.min(ROW_SLOTS, Math.ceil(first.regionHeight / runRows));
    const simd = packer === 'simd' ? simdRowPacker(width, stride, runRows, slots) : undefined;
    const buffers = simd ? [] : Array.from({ length: slots }, () => Buffer.allocUnsafe(runRows * rowBytes));
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
        const release = () => pool.give(slot);
        if (simd)
          return { data: simd.pack(strip.data, row - strip.y, rows, slot, filter === 'sub'), release };
        const data = buffers[slot]!.subarray(0, rows * rowBytes);
        packBGRXWords(words, stride / 4, width, row - strip.y, rows, filter === 'sub', data);
        return { data, release };
      },
    };
  }
  // Any other layout (RGB565, masks, unaligned rows): mit-shm converts each strip once, straight into
  // rows behind their filter bytes; a run then only needs its filter applied. Rare, so not pooled.
  let strip = first;
  let converted = Buffer.alloc(0);
  return {
    take(next) {
      strip = next;
      converted = Buffer.allocUnsafe(next.height * rowBytes);
      next.toRGB(converted, { stride: rowBytes, offset: 1 });
    },
    smoothness: (row, rows) => rgbSmoothness(converted, rowBytes, width, row - strip.y, rows),
    async rows(row, rows, filter) {
      const data = converted.subarray((row - strip.y) * rowBytes, (row - strip.y + rows) * rowBytes);
      if (filter === 'sub') subFilter(data, width, rows);
      else for (let y = 0; y < rows; y++) data[y * rowBytes] = 0;
      return { data, release: () => {} };
    },
  };
}

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

/** The high bit of every byte, for byte-wise subtraction inside a 32-bit word. */
const HIGH_BITS = 0x80808080;

/** Each byte of `a` minus the same byte of `b`, modulo 256, with no borrow between bytes (SWAR). */
function subtractBytes(a: number, b: number): number {
  return ((a | HIGH_BITS) - (b & ~HIGH_BITS)) ^ ((a ^ ~b) & HIGH_BITS);
}

/**
 * BGRX words to RGB rows with filter None or Sub: four pixels become three little-endian words written
 * through a DataView (rows of 3w+1 bytes are not word aligned); Sub first subtracts the previous pixel's
 * word byte-wise (its X byte is dropped anyway). Measured at 1080p in a fresh process, where this code runs
 * once and mostly unoptimised: 8.9 ms for None, against 10.7 ms packing each row in an aligned scratch row
 * and copying it, and 11 ms for a byte loop.
 */
function packBGRXWords(
  words: Uint32Array,
  rowWords: number,
  width: number,
  first: number,
  rows: number,
  sub: boolean,
  out: Buffer,
): void {
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  const quads = width >> 2;
  let o = 0;
  for (let y = first; y < first + rows; y++) {
    let i = y * rowWords;
    out[o++] = sub ? 1 : 0;
    let previous = 0;
    // A pixel word is 0xXXRRGGBB; the three words hold R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 in memory.
    for (let q = 0; q < quads; q++, i += 4, o += 12) {
      let p0 = words[i]!;
      let p1 = words[i + 1]!;
      let p2 = words[i + 2]!;
      let p3 = words[i + 3]!;
      if (sub) {
        const last = p3;
        p3 = subtractBytes(p3, p2);
        p2 = subtractBytes(p2, p1);
        p1 = subtractBytes(p1, p0);
        p0 = subtractBytes(p0, previous);
        previous = last;
      }
      view.setUint32(
        o,
        ((p0 >>> 16) & 0xff) | (p0 & 0xff00) | ((p0 & 0xff) << 16) | (((p1 >>> 16) & 0xff) << 24),
        true,
      );
      view.setUint32(
        o + 4,
        ((p1 >>> 8) & 0xff) | ((p1 & 0xff) << 8) | (p2 & 0xff0000) | ((p2 & 0xff00) << 16),
        true,
      );
      view.setUint32(
        o + 8,
        (p2 & 0xff) | ((p3 >>> 8) & 0xff00) | ((p3 & 0xff00) << 8) | ((p3 & 0xff) << 24),
        true,
      );
    }
    for (let x = quads * 4; x < width; x++, i++) {
      let p = words[i]!;
      if (sub) {
        const pixel = p;
        p = subtractBytes(p, previous);
        previous = pixel;
      }
      out[o++] = (p >>> 16) & 0xff;
      out[o++] = (p >>> 8) & 0xff;
      out[o++] = p & 0xff;
    }
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A chunk whose body is several parts, without joining them: length and type, the parts, the CRC. */
function chunkParts(type: string, body: readonly Buffer[]): Buffer[] {
  const head = Buffer.allocUnsafe(8);
  let length = 0;
  for (const part of body) length += part.length;
  head.writeUInt32BE(length, 0);
  head.write(type, 4, 'latin1');
  let crc = crc32(head.subarray(4, 8));
  for (const part of body) crc = crc32(part, crc);
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc, 0);
  return [head, ...body, tail];
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** node:zlib's crc32 (Node >= 20.15), else a table; `previous` continues an earlier CRC. */
function crc32(data: Buffer, previous = 0): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(data, previous) >>> 0;
  let table = crcTable;
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
    crcTable = table;
  }
  let c = previous ^ -1;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
let crcTable: Int32Array | undefined;

/** The sharp module, loaded on first use (it is the slowest thing xshot loads). */
export function loadSharp(): typeof Sharp {
  return require('sharp') as typeof Sharp;
}

async function encodeWithSharp(image: EncodableImage, format: 'jpeg' | 'webp' | 'avif', quality?: number) {
  const sharp = loadSharp();
  const { width, height } = image;
  const pixels = rgbxView(image) ?? image.toRGBA();
  const pipeline = sharp(pixels, { raw: { width, height, channels: 4 } }).removeAlpha();
  if (format === 'jpeg') return pipeline.jpeg({ quality: quality ?? 90 }).toBuffer();
  if (format === 'webp') return pipeline.webp({ quality: quality ?? 90 }).toBuffer();
  return pipeline.avif({ quality: quality ?? 60, effort: 2 }).toBuffer();
}

/**
 * Turns tightly packed BGRX into RGB? in place, with no copy: swap32 makes each pixel X R G B, and shifting
 * the whole buffer one byte left makes it R G B X' (X' is the next pixel's X, junk dropped by removeAlpha).
 * Measured on 1080p: ~2.5 ms for both native passes, against 7 ms (plus 8 MB allocated) for a JS loop into
 * a new buffer, 13 ms for sharp extractChannel/joinChannel, 63 ms for sharp recomb.
 */
function rgbxView(image: EncodableImage): Buffer | undefined {
  const { data, width, height, stride } = image;
  if (image.format.channels !== 'BGRX' && image.format.channels !== 'BGRA') return undefined;
  if (stride !== width * 4 || data.length < stride * height) return undefined;
  const pixels = data.subarray(0, stride * height);
  pixels.swap32();
  pixels.copyWithin(0, 1);
  return pixels;
}
