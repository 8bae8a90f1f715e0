// Pixel formats a ring slot may hold: the four-character codes stored in the layout, and their sizes.
// A code names the bytes of one pixel in memory order (BGRX: blue first), except RG16, which is
// DRM's name for 16-bit little-endian RGB 5:6:5. The u32 in the layout is the four ASCII bytes
// read little-endian, so the bytes in the segment spell the code.

/** The pixel formats a ring carries. */
export type PixelFormat = 'BGRX' | 'BGRA' | 'RGBX' | 'RGBA' | 'RG16';

const BYTES_PER_PIXEL: Readonly<Record<PixelFormat, number>> = {
  BGRX: 4,
  BGRA: 4,
  RGBX: 4,
  RGBA: 4,
  RG16: 2,
};

export const PIXEL_FORMATS = Object.keys(BYTES_PER_PIXEL) as readonly PixelFormat[];

export function isPixelFormat(value: unknown): value is PixelFormat {
  return typeof value === 'string' && Object.hasOwn(BYTES_PER_PIXEL, value);
}

export function bytesPerPixel(format: PixelFormat): number {
  return BYTES_PER_PIXEL[format];
}

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
