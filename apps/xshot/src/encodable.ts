// What the encoders take: a captured picture (a whole frame, or the strips of one capture) in the X server's
// pixel layout. @xshm/mit-shm's Frame and Strip have these shapes; tests build them around its toRGB.

/**
 * A picture in memory. `format.channels` names the memory order ('BGRX' is the 32 bpp little-endian
 * TrueColor every common server uses).
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

/** 32 bpp BGRX rows that can be read as 32-bit words (the SIMD packer's and TurboJPEG's input). */
export function isWordBGRX(image: EncodableImage): boolean {
  const { channels, bitsPerPixel } = image.format;
  return (
    (channels === 'BGRX' || channels === 'BGRA') &&
    bitsPerPixel === 32 &&
    image.data.byteOffset % 4 === 0 &&
    image.stride % 4 === 0
  );
}

/** 8-bit RGB rows, tightly packed, converted by the image's own toRGB (mit-shm's converter). */
export function packedRGB(image: EncodableImage): Buffer {
  const stride = image.width * 3;
  return image.toRGB(Buffer.allocUnsafe(stride * image.height), { stride, offset: 0 });
}
