// RGBA pictures (what sharp decodes) into the server's pixel layout, written straight into shared memory.
import type { PixelLayout } from './xdisplay';

/**
 * Writes tightly packed RGBA `rgba` (width x height) into `target` rows of `stride` bytes in `format`.
 * `rgba` is used as scratch (its bytes are reordered in place): it is the decoder's own buffer.
 */
export function writeRGBA(
  rgba: Buffer,
  width: number,
  height: number,
  format: PixelLayout,
  target: Buffer,
  stride: number,
): void {
  if (rgba.length < width * height * 4) {
    throw new RangeError(`writeRGBA: ${rgba.length} bytes cannot hold ${width}x${height} RGBA`);
  }
  if (format.channels === 'BGRX' || format.channels === 'BGRA') {
    // RGBA -> (swap32) ABGR -> (shift one byte left) BGRA': two native passes over the decoder's buffer,
    // then one copy into shared memory; a per-pixel JS loop costs ~3x as much at 1080p.
    const pixels = rgba.subarray(0, width * height * 4);
    pixels.swap32();
    pixels.copyWithin(0, 1);
    const row = width * 4;
    if (stride === row) pixels.copy(target, 0, 0, row * height);
    else for (let y = 0; y < height; y++) pixels.copy(target, y * stride, y * row, y * row + row);
    return;
  }
  if (format.channels === 'RGB565') {
    for (let y = 0; y < height; y++) {
      let o = y * stride;
      let i = y * width * 4;
      for (let x = 0; x < width; x++, i += 4, o += 2) {
        target.writeUInt16LE(((rgba[i]! >> 3) << 11) | ((rgba[i + 1]! >> 2) << 5) | (rgba[i + 2]! >> 3), o);
      }
    }
    return;
  }
  throw new Error(
    `the display's pixel layout (${format.channels}, depth ${format.depth}, ${format.bitsPerPixel} bpp) is not supported by xshot; use a 24- or 16-bit TrueColor display`,
  );
}
