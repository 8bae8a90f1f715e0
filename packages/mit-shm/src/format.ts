// Pixel formats of X images (ZPixmap): how bytes in memory map to colours, and the one place pixels are
// converted between them and RGB(A): toRGBA, toRGB (encoders' input) and fromRGBA (decoders' output).
// Also the FourCC vocabulary other layers (@xshm/framebus rings) name pixels by, and the one mapping
// from an X visual to it. This module imports nothing, so `@xshm/mit-shm/format` loads without x11.

/** Memory layout of one pixel, spelled out in byte order; 'X' is a byte the server leaves undefined (often 0, never alpha). */
export type ChannelOrder = 'BGRX' | 'BGRA' | 'XRGB' | 'ARGB' | 'RGB565' | 'masks';

export interface PixelFormat {
  /** Significant bits per pixel, as X counts them (24 for the usual 32-bit BGRX). */
  depth: number;
  /** Bits each pixel occupies in memory (32 for depth 24, 16 for depth 16). */
  bitsPerPixel: number;
  /** Each row is padded to a multiple of this many bits. */
  scanlinePad: number;
  /** Byte order of a pixel's bits in memory. */
  byteOrder: 'LSBFirst' | 'MSBFirst';
  redMask: number;
  greenMask: number;
  blueMask: number;
  /**
   * Memory order of the channels, e.g. 'BGRX': byte 0 blue, 1 green, 2 red, 3 undefined (not alpha: do not
   * hand it to an RGBA consumer as is; use `toRGBA()`). 'RGB565' is a little-endian 16-bit word. 'masks'
   * means no common name: read the masks.
   */
  channels: ChannelOrder;
}

/**
 * A four-character code naming one pixel's bytes in memory order: 'BGRX' is blue first, then green, red
 * and a byte that means nothing (not alpha). 'RG16' is DRM's name for RGB 5:6:5 in a little-endian u16.
 * The pixel vocabulary shared outside X: a frame ring stores these codes.
 */
export type FourCC = 'BGRX' | 'BGRA' | 'RGBX' | 'RGBA' | 'RG16';

const FOURCC_BYTES: Readonly<Record<FourCC, number>> = { BGRX: 4, BGRA: 4, RGBX: 4, RGBA: 4, RG16: 2 };

/** Every FourCC, in a stable order. */
export const FOURCCS = Object.keys(FOURCC_BYTES) as readonly FourCC[];

export function isFourCC(value: unknown): value is FourCC {
  return typeof value === 'string' && Object.hasOwn(FOURCC_BYTES, value);
}

/** Bytes one pixel of `fourcc` takes in memory. */
export function bytesPerPixel(fourcc: FourCC): number {
  return FOURCC_BYTES[fourcc];
}

/**
 * The FourCC of an X pixel format, or null when it has none (a big-endian XRGB server, a palette, odd
 * masks): the one mapping from an X visual to the shared vocabulary. Depth 32 is the one depth whose
 * fourth byte is alpha.
 */
export function fourccOf(format: PixelFormat): FourCC | null {
  if (format.channels === 'BGRX' || format.channels === 'BGRA') return format.channels;
  if (format.channels === 'RGB565') return 'RG16';
  const rgbInMemoryOrder =
    format.bitsPerPixel === 32 &&
    format.byteOrder === 'LSBFirst' &&
    format.redMask === 0xff &&
    format.greenMask === 0xff00 &&
    format.blueMask === 0xff0000;
  if (rgbInMemoryOrder) return format.depth === 32 ? 'RGBA' : 'RGBX';
  return null;
}

/** The subset of the server's setup data a format is derived from. */
export interface FormatSource {
  format: Record<number, { bits_per_pixel: number; scanline_pad: number }>;
  image_byte_order: number;
  visualMasks?: { red_mask: number; green_mask: number; blue_mask: number };
}

/** Describe how the server lays out a ZPixmap image of `depth` (masks from the visual, if it has one). */
export function pixelFormat(source: FormatSource, depth: number): PixelFormat {
  const pixmap = source.format[depth];
  if (!pixmap)
    throw new RangeError(
      `depth ${depth} is not supported by this X server (it offers ${Object.keys(source.format).join(', ')})`,
    );
  const byteOrder = source.image_byte_order === 0 ? 'LSBFirst' : 'MSBFirst';
  const masks = source.visualMasks ?? defaultMasks(depth);
  const format: PixelFormat = {
    depth,
    bitsPerPixel: pixmap.bits_per_pixel,
    scanlinePad: pixmap.scanline_pad,
    byteOrder,
    redMask: masks.red_mask >>> 0,
    greenMask: masks.green_mask >>> 0,
    blueMask: masks.blue_mask >>> 0,
    channels: 'masks',
  };
  format.channels = channelOrder(format);
  return format;
}

function defaultMasks(depth: number): { red_mask: number; green_mask: number; blue_mask: number } {
  if (depth === 16) return { red_mask: 0xf800, green_mask: 0x07e0, blue_mask: 0x001f };
  if (depth === 15) return { red_mask: 0x7c00, green_mask: 0x03e0, blue_mask: 0x001f };
  if (depth === 30) return { red_mask: 0x3ff00000, green_mask: 0xffc00, blue_mask: 0x3ff };
  return { red_mask: 0xff0000, green_mask: 0xff00, blue_mask: 0xff };
}

function channelOrder(f: PixelFormat): ChannelOrder {
  const rgb888 = f.redMask === 0xff0000 && f.greenMask === 0xff00 && f.blueMask === 0xff;
  if (f.bitsPerPixel === 32 && rgb888) {
    if (f.byteOrder === 'LSBFirst') return f.depth === 32 ? 'BGRA' : 'BGRX';
    return f.depth === 32 ? 'ARGB' : 'XRGB';
  }
  if (f.bitsPerPixel === 16 && f.byteOrder === 'LSBFirst' && f.redMask === 0xf800 && f.greenMask === 0x07e0)
    return f.blueMask === 0x1f ? 'RGB565' : 'masks';
  return 'masks';
}

/** Bytes per row of a `width`-pixel ZPixmap row in `format`, padded as the server pads it. */
export function strideOf(format: PixelFormat, width: number): number {
  const bits = width * format.bitsPerPixel;
  const pad = format.scanlinePad;
  return (Math.ceil(bits / pad) * pad) / 8;
}

/** The geometry of an image in memory, the input of `toRGBA`. */
export interface ImageLayout {
  width: number;
  height: number;
  stride: number;
  format: PixelFormat;
}

/**
 * Convert an X image to tightly packed RGBA (alpha 255) in `out` (allocated when omitted).
 * Fast paths: 32 bpp BGRX/BGRA and 16 bpp RGB565; any other TrueColor layout goes through its masks.
 */
export function toRGBA(data: Buffer, layout: ImageLayout, out?: Buffer): Buffer {
  const { width, height, stride, format } = layout;
  checkSource('toRGBA', data, layout);
  const needed = width * height * 4;
  const target = out ?? Buffer.allocUnsafe(needed);
  if (target.length < needed)
    throw new RangeError(
      `toRGBA: output buffer has ${target.length} bytes, ${width}x${height} needs ${needed}`,
    );
  if (format.channels === 'BGRX' || format.channels === 'BGRA')
    bgrxToRGBA(data, width, height, stride, target);
  else convertRows(data, layout, target, 4, width * 4, 0);
  return target;
}

function bgrxToRGBA(src: Buffer, width: number, height: number, stride: number, out: Buffer): void {
  // Whole 32-bit words when both sides are 4-byte aligned (shared segments are page aligned): ~4x the byte loop.
  if (src.byteOffset % 4 === 0 && out.byteOffset % 4 === 0 && stride % 4 === 0) {
    const s = new Uint32Array(src.buffer, src.byteOffset, (stride * (height - 1)) / 4 + width);
    const d = new Uint32Array(out.buffer, out.byteOffset, width * height);
    const rowWords = stride / 4;
    let o = 0;
    for (let y = 0; y < height; y++) {
      let i = y * rowWords;
      const end = i + width;
      for (; i < end; i++) {
        const p = s[i]!;
        d[o++] = ((p >>> 16) & 0xff) | (p & 0xff00) | ((p & 0xff) << 16) | 0xff000000;
      }
    }
    return;
  }
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = y * stride;
    for (let x = 0; x < width; x++, i += 4) {
      out[o++] = src[i + 2]!;
      out[o++] = src[i + 1]!;
      out[o++] = src[i]!;
      out[o++] = 255;
    }
  }
}

/** Where `toRGB` writes each row: `offset + y * stride` in the target (e.g. PNG rows behind a filter byte). */
export interface RowPlacement {
  /** Bytes from one output row to the next; defaults to width * 3. */
  stride?: number;
  /** Byte offset of the first row; defaults to 0. */
  offset?: number;
}

/**
 * Convert an X image to 8-bit RGB (no alpha), the input JPEG and PNG encoders take, in `out` (allocated when
 * omitted), rows placed as `rows` says. Same fast paths and channel widening as `toRGBA`.
 */
export function toRGB(data: Buffer, layout: ImageLayout, out?: Buffer, rows: RowPlacement = {}): Buffer {
  const { width, height, stride, format } = layout;
  const outStride = rows.stride ?? width * 3;
  const outOffset = rows.offset ?? 0;
  if (!Number.isInteger(outStride) || outStride < width * 3 || !Number.isInteger(outOffset) || outOffset < 0)
    throw new RangeError(
      `toRGB: rows need a stride of at least ${width * 3} bytes and an offset >= 0 (got ${outStride}, ${outOffset})`,
    );
  checkSource('toRGB', data, layout);
  const needed = height === 0 ? 0 : outOffset + outStride * (height - 1) + width * 3;
  const target = out ?? Buffer.allocUnsafe(needed);
  if (target.length < needed)
    throw new RangeError(
      `toRGB: output buffer has ${target.length} bytes, ${width}x${height} RGB needs ${needed}`,
    );
  if (
    (format.channels === 'BGRX' || format.channels === 'BGRA') &&
    data.byteOffset % 4 === 0 &&
    stride % 4 === 0
  )
    bgrxToRGB(data, width, height, stride, target, outStride, outOffset);
  else convertRows(data, layout, target, 3, outStride, outOffset);
  return target;
}

// Four BGRX words become three RGB words (R0G0B0R1 G1B1R2G2 B2R3G3B3, little-endian): 32-bit stores are
// about twice as fast as byte stores (1080p: ~2.5 ms against ~5.5 ms). Rows that do not start on a 4-byte
// boundary (PNG rows behind their filter byte) store through a DataView instead.
function bgrxToRGB(
  src: Buffer,
  width: number,
  height: number,
  stride: number,
  out: Buffer,
  outStride: number,
  outOffset: number,
): void {
  const words = new Uint32Array(src.buffer, src.byteOffset, (stride * (height - 1)) / 4 + width);
  const aligned = (out.byteOffset + outOffset) % 4 === 0 && outStride % 4 === 0;
  const wordsOut = aligned
    ? new Uint32Array(out.buffer, out.byteOffset + outOffset, (out.length - outOffset) >> 2)
    : null;
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  const rowWords = stride / 4;
  const quads = width >> 2;
  for (let y = 0; y < height; y++) {
    let i = y * rowWords;
    let o = outOffset + y * outStride;
    for (let q = 0; q < quads; q++, i += 4, o += 12) {
      const p0 = words[i]!;
      const p1 = words[i + 1]!;
      const p2 = words[i + 2]!;
      const p3 = words[i + 3]!;
      const w0 = ((p0 >>> 16) & 0xff) | (p0 & 0xff00) | ((p0 & 0xff) << 16) | ((p1 >>> 16) << 24);
      const w1 = ((p1 >>> 8) & 0xff) | ((p1 & 0xff) << 8) | (p2 & 0xff0000) | ((p2 & 0xff00) << 16);
      const w2 = (p2 & 0xff) | ((p3 >>> 8) & 0xff00) | ((p3 & 0xff00) << 8) | ((p3 & 0xff) << 24);
      if (wordsOut) {
        const w = (o - outOffset) >> 2;
        wordsOut[w] = w0;
        wordsOut[w + 1] = w1;
        wordsOut[w + 2] = w2;
      } else {
        view.setUint32(o, w0, true);
        view.setUint32(o + 4, w1, true);
        view.setUint32(o + 8, w2, true);
      }
    }
    for (let x = quads * 4; x < width; x++, i++, o += 3) {
      const p = words[i]!;
      out[o] = p >>> 16;
      out[o + 1] = p >>> 8;
      out[o + 2] = p;
    }
  }
}

/**
 * Write tightly packed 8-bit RGBA (what image decoders give) into `data`, an image of `layout` (shared memory,
 * ready for `put`). Alpha is dropped where the format has none. `rgba` is left as it was.
 */
export function fromRGBA(rgba: Buffer, data: Buffer, layout: ImageLayout): void {
  const { width, height, stride, format } = layout;
  if (rgba.length < width * height * 4)
    throw new RangeError(`fromRGBA: ${rgba.length} bytes cannot hold ${width}x${height} RGBA`);
  checkSource('fromRGBA', data, layout);
  const bgrx = format.channels === 'BGRX' || format.channels === 'BGRA';
  if (bgrx && stride % 4 === 0 && data.byteOffset % 4 === 0 && rgba.byteOffset % 4 === 0) {
    const s = new Uint32Array(rgba.buffer, rgba.byteOffset, width * height);
    const d = new Uint32Array(data.buffer, data.byteOffset, (stride * (height - 1)) / 4 + width);
    const rowWords = stride / 4;
    // BGRX leaves the fourth byte undefined; 0xff there makes the picture opaque to whoever reads it as BGRA.
    const alpha = format.channels === 'BGRA' ? 0 : 0xff000000;
    for (let y = 0, i = 0; y < height; y++) {
      let o = y * rowWords;
      for (const end = i + width; i < end; i++) {
        const p = s[i]!; // 0xAABBGGRR
        d[o++] = (((p & 0xff) << 16) | (p & 0xff00) | ((p >>> 16) & 0xff) | (p & 0xff000000) | alpha) >>> 0;
      }
    }
    return;
  }
  const [red, green, blue] = masksOf(format, 'fromRGBA');
  const bytes = pixelBytes('fromRGBA', format);
  const lsb = format.byteOrder === 'LSBFirst';
  for (let y = 0, i = 0; y < height; y++) {
    let o = y * stride;
    for (let x = 0; x < width; x++, i += 4, o += bytes) {
      const p =
        (red.from8[rgba[i]!]! << red.shift) |
        (green.from8[rgba[i + 1]!]! << green.shift) |
        (blue.from8[rgba[i + 2]!]! << blue.shift);
      for (let b = 0; b < bytes; b++) data[o + b] = lsb ? p >>> (8 * b) : p >>> (8 * (bytes - 1 - b));
    }
  }
}

function checkSource(what: string, data: Buffer, layout: ImageLayout): void {
  const { width, height, stride, format } = layout;
  if (height > 0 && data.length < stride * (height - 1) + Math.ceil((width * format.bitsPerPixel) / 8))
    throw new RangeError(
      `${what}: ${data.length} bytes cannot hold ${width}x${height} at stride ${stride} and ${format.bitsPerPixel} bpp`,
    );
}

interface ChannelShift {
  mask: number;
  shift: number;
  max: number;
  /** channel value -> 8 bits, widened by bit replication like the fast paths (0 -> 0, max -> 255) */
  to8: Uint8Array;
  /** 8 bits -> channel value: the top bits, as pixman narrows (bit replication again when the channel is wider) */
  from8: Uint16Array;
}

function channel(mask: number): ChannelShift {
  let shift = 0;
  while (shift < 32 && ((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift || 1;
  const bits = Math.round(Math.log2(max + 1));
  const to8 = new Uint8Array(Math.min(max, 0xffff) + 1);
  for (let v = 0; v < to8.length; v++) {
    if (bits >= 8) to8[v] = v >>> (bits - 8);
    else if (bits >= 4) to8[v] = (v << (8 - bits)) | (v >>> (2 * bits - 8));
    else to8[v] = Math.round((v * 255) / max);
  }
  const from8 = Uint16Array.from({ length: 256 }, (_, v) =>
    bits <= 8 ? v >>> (8 - bits) : Math.min(max, (v << (bits - 8)) | (v >>> (16 - bits))),
  );
  return { mask: mask >>> 0, shift, max, to8, from8 };
}

/** Widening 5- and 6-bit channels by bit replication: 0 -> 0 and full -> 255, as X servers and pixman do. */
const WIDEN_5 = Uint8Array.from({ length: 32 }, (_, v) => (v << 3) | (v >>> 2));
const WIDEN_6 = Uint8Array.from({ length: 64 }, (_, v) => (v << 2) | (v >>> 4));

/**
 * Any TrueColor layout to RGB (`bytesOut` 3) or RGBA (`bytesOut` 4, alpha 255), rows placed at
 * `outOffset + y * outStride`. RGB565 has its own loop; everything else goes through its masks.
 */
function convertRows(
  src: Buffer,
  layout: ImageLayout,
  out: Buffer,
  bytesOut: 3 | 4,
  outStride: number,
  outOffset: number,
): void {
  const { width, height, stride, format } = layout;
  if (format.channels === 'RGB565') {
    for (let y = 0; y < height; y++) {
      let i = y * stride;
      let o = outOffset + y * outStride;
      for (let x = 0; x < width; x++, i += 2, o += bytesOut) {
        const p = src[i]! | (src[i + 1]! << 8);
        out[o] = WIDEN_5[p >>> 11]!;
        out[o + 1] = WIDEN_6[(p >>> 5) & 0x3f]!;
        out[o + 2] = WIDEN_5[p & 0x1f]!;
        if (bytesOut === 4) out[o + 3] = 255;
      }
    }
    return;
  }
  const what = bytesOut === 4 ? 'toRGBA' : 'toRGB';
  const bytes = pixelBytes(what, format);
  const [red, green, blue] = masksOf(format, what);
  const lsb = format.byteOrder === 'LSBFirst';
  for (let y = 0; y < height; y++) {
    let i = y * stride;
    let o = outOffset + y * outStride;
    for (let x = 0; x < width; x++, i += bytes, o += bytesOut) {
      let p = 0;
      for (let b = 0; b < bytes; b++) p = lsb ? p | (src[i + b]! << (8 * b)) : (p << 8) | src[i + b]!;
      p >>>= 0;
      out[o] = red.to8[(p & red.mask) >>> red.shift]!;
      out[o + 1] = green.to8[(p & green.mask) >>> green.shift]!;
      out[o + 2] = blue.to8[(p & blue.mask) >>> blue.shift]!;
      if (bytesOut === 4) out[o + 3] = 255;
    }
  }
}

function pixelBytes(what: string, format: PixelFormat): number {
  const bytes = format.bitsPerPixel / 8;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 4)
    throw new RangeError(
      `${what}: ${format.bitsPerPixel} bits per pixel is not supported (8, 16, 24 or 32 are)`,
    );
  return bytes;
}

function masksOf(format: PixelFormat, what: string): [ChannelShift, ChannelShift, ChannelShift] {
  if (format.redMask === 0 || format.greenMask === 0 || format.blueMask === 0)
    throw new RangeError(
      `${what}: depth ${format.depth} has no colour masks (a palette visual); it is not supported`,
    );
  return [channel(format.redMask), channel(format.greenMask), channel(format.blueMask)];
}

/** A cursor image: width*height premultiplied ARGB32 words (native byte order), placed at x, y in the image. */
export interface CursorImage {
  x: number;
  y: number;
  width: number;
  height: number;
  argb: Buffer;
}

/** Blend a premultiplied ARGB cursor over an image in place (any TrueColor format, clipped to the image). */
export function compositeCursor(data: Buffer, layout: ImageLayout, cursor: CursorImage): void {
  const { format, stride } = layout;
  const bytes = format.bitsPerPixel / 8;
  if (!Number.isInteger(bytes) || bytes < 2) return;
  const channels = [channel(format.redMask), channel(format.greenMask), channel(format.blueMask)];
  const lsb = format.byteOrder === 'LSBFirst';
  const x0 = Math.max(0, cursor.x);
  const y0 = Math.max(0, cursor.y);
  const x1 = Math.min(layout.width, cursor.x + cursor.width);
  const y1 = Math.min(layout.height, cursor.y + cursor.height);
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const argb = cursor.argb.readUInt32LE(((y - cursor.y) * cursor.width + (x - cursor.x)) * 4);
      const alpha = argb >>> 24;
      if (alpha === 0) continue;
      const source = [(argb >>> 16) & 0xff, (argb >>> 8) & 0xff, argb & 0xff];
      const i = y * stride + x * bytes;
      let p = 0;
      for (let b = 0; b < bytes; b++) p = lsb ? p | (data[i + b]! << (8 * b)) : (p << 8) | data[i + b]!;
      p >>>= 0;
      let out = p & ~(format.redMask | format.greenMask | format.blueMask);
      channels.forEach((c, k) => {
        const dst = c.to8[(p & c.mask) >>> c.shift]!;
        const blended = source[k]! + Math.round((dst * (255 - alpha)) / 255);
        out |= (Math.round((Math.min(255, blended) * c.max) / 255) << c.shift) & c.mask;
      });
      out >>>= 0;
      for (let b = 0; b < bytes; b++)
        data[i + b] = lsb ? (out >>> (8 * b)) & 0xff : (out >>> (8 * (bytes - 1 - b))) & 0xff;
    }
  }
}
