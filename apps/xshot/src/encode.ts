// Image files from captured X frames: PNG through node:zlib, JPEG/WebP/AVIF through sharp, raw RGBA.
//
// Why PNG does not go through sharp: one 1080p `xshot shot` is measured as a whole process, and loading
// sharp (libvips) costs ~49 ms of a ~27 ms Node start on the reference machine, while packing BGRX rows
// to RGB (~9 ms) and deflating them with node:zlib at level 3 (~8 ms, Chromium's SIMD zlib) gives files
// within ~10% of libpng's default size. Sharp is loaded only for the lossy formats.
import { deflateSync, constants as zlibConstants, crc32 as zlibCrc32 } from 'node:zlib';
import type Sharp from 'sharp';

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
}

export interface EncodeOptions {
  /** 1-100, for jpeg, webp and avif. */
  quality?: number;
}

/** PNG deflate settings; see the file comment for the measurement. */
export const PNG_DEFLATE = { level: 3, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY } as const;

/** `--format NAME` to a format, accepting `jpg`; undefined when unknown. */
export function formatFromName(name: string): ImageFormat | undefined {
  return EXTENSION_FORMATS[name.toLowerCase()];
}

/** The format a file name's extension implies; undefined when it has none we know. */
export function formatFromPath(path: string): ImageFormat | undefined {
  const match = /\.([A-Za-z0-9]+)$/.exec(path);
  return match ? EXTENSION_FORMATS[match[1]!.toLowerCase()] : undefined;
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

/**
 * An 8-bit RGB PNG (colour type 2, filter None on every row, one IDAT). Packing everything, then one
 * deflateSync, measured faster (median 20 ms at 1080p) than packing 64-row bands while node:zlib deflates
 * the previous band on its thread pool (median 33 ms: the yields and stream cost more than the overlap gains
 * on a busy 2-core machine).
 */
export function encodePNG(image: EncodableImage): Buffer {
  const { width, height } = image;
  const rows = Buffer.allocUnsafe((width * 3 + 1) * height);
  rowPacker(image)(0, height, rows);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per channel
  header[9] = 2; // colour type: truecolour, no alpha (X pixels have none)
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, PNG_DEFLATE)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Packs `rows` rows from `first` into `out` as filter-None RGB rows. */
type RowPacker = (first: number, rows: number, out: Buffer) => void;

function rowPacker(image: EncodableImage): RowPacker {
  const { width, stride, data } = image;
  const bgrx = image.format.channels === 'BGRX' || image.format.channels === 'BGRA';
  if (bgrx && data.byteOffset % 4 === 0 && stride % 4 === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, (stride * (image.height - 1)) / 4 + width);
    return (first, rows, out) => packBGRXWords(words, stride / 4, width, first, rows, out);
  }
  if (bgrx) return (first, rows, out) => packRows(data, stride, width, first, rows, 2, 1, 0, out);
  const rgba = image.toRGBA();
  return (first, rows, out) => packRows(rgba, width * 4, width, first, rows, 0, 1, 2, out);
}

/**
 * BGRX words to filter-None RGB rows: four pixels become three little-endian words written through a
 * DataView (rows of 3w+1 bytes are not word aligned). Measured at 1080p in a fresh process, where this
 * code runs once and mostly unoptimised: 8.9 ms, against 10.7 ms packing each row in an aligned scratch
 * row and copying it, and 11 ms for a byte loop.
 */
function packBGRXWords(
  words: Uint32Array,
  rowWords: number,
  width: number,
  first: number,
  rows: number,
  out: Buffer,
): void {
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  const quads = width >> 2;
  let o = 0;
  for (let y = first; y < first + rows; y++) {
    let i = y * rowWords;
    out[o++] = 0;
    // A pixel word is 0xXXRRGGBB; the three words hold R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 in memory.
    for (let q = 0; q < quads; q++, i += 4, o += 12) {
      const p0 = words[i]!;
      const p1 = words[i + 1]!;
      const p2 = words[i + 2]!;
      const p3 = words[i + 3]!;
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
      const p = words[i]!;
      out[o++] = (p >>> 16) & 0xff;
      out[o++] = (p >>> 8) & 0xff;
      out[o++] = p & 0xff;
    }
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** 4-byte pixels to filter-None RGB rows; r, g and b are the byte offsets of each channel in a pixel. */
function packRows(
  source: Buffer,
  stride: number,
  width: number,
  first: number,
  rows: number,
  r: number,
  g: number,
  b: number,
  out: Buffer,
): void {
  let o = 0;
  for (let y = first; y < first + rows; y++) {
    out[o++] = 0;
    let i = y * stride;
    for (let x = 0; x < width; x++, i += 4) {
      out[o++] = source[i + r]!;
      out[o++] = source[i + g]!;
      out[o++] = source[i + b]!;
    }
  }
}

function chunk(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** node:zlib's crc32 (Node >= 20.15), else a table. */
function crc32(data: Buffer): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(data) >>> 0;
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
  let c = -1;
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
