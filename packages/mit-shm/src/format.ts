// Pixel formats of X images (ZPixmap): how bytes in memory map to colours, and conversion to RGBA.

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
  const needed = width * height * 4;
  if (data.length < stride * (height - 1) + Math.ceil((width * format.bitsPerPixel) / 8))
    throw new RangeError(
      `toRGBA: ${data.length} bytes cannot hold ${width}x${height} at stride ${stride} and ${format.bitsPerPixel} bpp`,
    );
  const target = out ?? Buffer.allocUnsafe(needed);
  if (target.length < needed)
    throw new RangeError(
      `toRGBA: output buffer has ${target.length} bytes, ${width}x${height} needs ${needed}`,
    );
  if (format.channels === 'BGRX' || format.channels === 'BGRA')
    bgrxToRGBA(data, width, height, stride, target);
  else if (format.channels === 'RGB565') rgb565ToRGBA(data, width, height, stride, target);
  else masksToRGBA(data, layout, target);
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

function rgb565ToRGBA(src: Buffer, width: number, height: number, stride: number, out: Buffer): void {
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = y * stride;
    for (let x = 0; x < width; x++, i += 2) {
      const p = src[i]! | (src[i + 1]! << 8);
      const r = p >>> 11;
      const g = (p >>> 5) & 0x3f;
      const b = p & 0x1f;
      // Bit replication: 0 -> 0 and full -> 255, as X servers and ImageMagick expand 5/6-bit channels.
      out[o++] = (r << 3) | (r >>> 2);
      out[o++] = (g << 2) | (g >>> 4);
      out[o++] = (b << 3) | (b >>> 2);
      out[o++] = 255;
    }
  }
}

interface ChannelShift {
  mask: number;
  shift: number;
  max: number;
  /** channel value -> 8 bits, widened by bit replication like the fast paths (0 -> 0, max -> 255) */
  to8: Uint8Array;
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
  return { mask: mask >>> 0, shift, max, to8 };
}

function masksToRGBA(src: Buffer, layout: ImageLayout, out: Buffer): void {
  const { width, height, stride, format } = layout;
  const bytes = format.bitsPerPixel / 8;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 4)
    throw new RangeError(
      `toRGBA: ${format.bitsPerPixel} bits per pixel is not supported (8, 16, 24 or 32 are)`,
    );
  if (format.redMask === 0 || format.greenMask === 0 || format.blueMask === 0)
    throw new RangeError(
      `toRGBA: depth ${format.depth} has no colour masks (a palette visual); it is not supported`,
    );
  const channels = [channel(format.redMask), channel(format.greenMask), channel(format.blueMask)];
  const lsb = format.byteOrder === 'LSBFirst';
  let o = 0;
  for (let y = 0; y < height; y++) {
    let i = y * stride;
    for (let x = 0; x < width; x++, i += bytes) {
      let p = 0;
      for (let b = 0; b < bytes; b++) p = lsb ? p | (src[i + b]! << (8 * b)) : (p << 8) | src[i + b]!;
      p >>>= 0;
      for (const c of channels) out[o++] = c.to8[(p & c.mask) >>> c.shift]!;
      out[o++] = 255;
    }
  }
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
