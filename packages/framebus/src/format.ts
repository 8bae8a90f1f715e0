// Pixel formats a ring slot may hold: @xshm/mit-shm's FourCC vocabulary (one definition for captures
// and rings, imported from the subpath that loads no X11 code), and how the layout stores a code: the
// u32 is the four ASCII bytes read little-endian, so the bytes in the segment spell the code.
import { bytesPerPixel, FOURCCS, type FourCC, isFourCC } from '@xshm/mit-shm/format';

/** The pixel formats a ring carries: mit-shm's FourCC. */
export type PixelFormat = FourCC;

export const PIXEL_FORMATS: readonly PixelFormat[] = FOURCCS;
export const isPixelFormat = isFourCC;
export { bytesPerPixel };

/** The u32 stored in the layout for a format: its ASCII bytes, little-endian. */
export function formatCode(format: PixelFormat): number {
  return (
    (format.charCodeAt(0) |
      (format.charCodeAt(1) << 8) |
      (format.charCodeAt(2) << 16) |
      (format.charCodeAt(3) << 24)) >>>
    0
  );
}

/** The format a stored u32 names, or null for a code this version does not know. */
export function formatFromCode(code: number): PixelFormat | null {
  const text = String.fromCharCode(code & 0xff, (code >>> 8) & 0xff, (code >>> 16) & 0xff, code >>> 24);
  return isPixelFormat(text) ? text : null;
}
