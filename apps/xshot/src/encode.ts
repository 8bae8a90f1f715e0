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

/** An 8-bit RGB PNG (colour type 2, filter None on every row, one IDAT). */
export function encodePNG(image: EncodableImage): Buffer {
  const { width, height } = image;
  const rowBytes = width * 3 + 1;
  const rows = Buffer.allocUnsafe(rowBytes * height);
  const bgrx = image.format.channels === 'BGRX' || image.format.channels === 'BGRA';
  if (bgrx && image.data.byteOffset % 4 === 0 && image.stride % 4 === 0) {
    packBGRXRows(image.data, image.stride, width, height, rows);
  } else if (bgrx) {
    packRows(image.data, image.stride, width, height, 2, 1, 0, rows);
  } else {
    packRows(image.toRGBA(), width * 4, width, height, 0, 1, 2, rows);
  }
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

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * BGRX words to filter-None RGB rows, four pixels into three aligned words per step, each row built in an
 * aligned scratch row and copied after its filter byte. Measured at 1080p in a fresh process (the code
 * runs once, mostly before V8 optimises it): 10 ms, against 14 ms for the byte loop of packRows.
 */
function packBGRXRows(source: Buffer, stride: number, width: number, height: number, out: Buffer): void {
  const words = new Uint32Array(source.buffer, source.byteOffset, (stride * (height - 1)) / 4 + width);
  const rowBytes = width * 3;
  const row = Buffer.allocUnsafe(rowBytes + 12);
  const packed = new Uint32Array(row.buffer, row.byteOffset, (rowBytes + 12) >> 2);
  const quads = width >> 2;
  const rowWords = stride >> 2;
  for (let y = 0; y < height; y++) {
    let i = y * rowWords;
    let o = 0;
    // A pixel word is 0xXXRRGGBB; the three words hold R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 in memory.
    for (let q = 0; q < quads; q++, i += 4) {
      const p0 = words[i]!;
      const p1 = words[i + 1]!;
      const p2 = words[i + 2]!;
      const p3 = words[i + 3]!;
      packed[o++] = ((p0 >>> 16) & 0xff) | (p0 & 0xff00) | ((p0 & 0xff) << 16) | (((p1 >>> 16) & 0xff) << 24);
      packed[o++] = ((p1 >>> 8) & 0xff) | ((p1 & 0xff) << 8) | (p2 & 0xff0000) | ((p2 & 0xff00) << 16);
      packed[o++] = (p2 & 0xff) | ((p3 >>> 8) & 0xff00) | ((p3 & 0xff00) << 8) | ((p3 & 0xff) << 24);
    }
    for (let x = quads * 4, b = quads * 12; x < width; x++, i++) {
      const p = words[i]!;
      row[b++] = (p >>> 16) & 0xff;
      row[b++] = (p >>> 8) & 0xff;
      row[b++] = p & 0xff;
    }
    const start = y * (rowBytes + 1);
    out[start] = 0;
    row.copy(out, start + 1, 0, rowBytes);
  }
}

/** 4-byte pixels to filter-None RGB rows; r, g and b are the byte offsets of each channel in a pixel. */
function packRows(
  source: Buffer,
  stride: number,
  width: number,
  height: number,
  r: number,
  g: number,
  b: number,
  out: Buffer,
): void {
  let o = 0;
  for (let y = 0; y < height; y++) {
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
