// How one changed rectangle is sent: lossless PNG when it looks like a screen (text, flat fills, UI), so
// the page shows exactly the server's pixels, and JPEG when it looks like a photo or video, where PNG is
// several times larger and exactness is invisible.
import sharp from 'sharp';
import type { Rect } from './tiles';

/** The encoding byte in an update message (the page's decoder has the same table). */
export const ENCODING = { png: 0, jpeg: 1 } as const;
export type Encoding = keyof typeof ENCODING;

export interface EncodedRect extends Rect {
  encoding: Encoding;
  data: Buffer;
}

/**
 * A rectangle is a screen when at least this share of sampled pixels repeat their left neighbour: the
 * test xshot's PNG encoder uses for its bands (a desktop picture 82-98%, plasma noise 0%).
 */
const SCREEN_SHARE = 0.5;
/** Sampled pixels per rectangle (a grid): enough to tell text from a photo, cheap for 1080p bands. */
const SAMPLES = 1024;
/** zlib level for PNG tiles: see the bench for the trade-off against size. */
const PNG_LEVEL = 6;

/** Whether `rgb` (packed, width x height) looks like screen content rather than a photo. */
export function looksLikeScreen(rgb: Buffer, width: number, height: number): boolean {
  if (width < 2) return true;
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLES)));
  let repeats = 0;
  let samples = 0;
  for (let y = 0; y < height; y += step)
    for (let x = 1; x < width; x += step) {
      const i = (y * width + x) * 3;
      samples++;
      if (rgb[i] === rgb[i - 3] && rgb[i + 1] === rgb[i - 2] && rgb[i + 2] === rgb[i - 1]) repeats++;
    }
  return repeats >= samples * SCREEN_SHARE;
}

/** Encodes `rgb` (the packed pixels of `rect`) by its content. */
export async function encodeRect(rect: Rect, rgb: Buffer, quality: number): Promise<EncodedRect> {
  const image = sharp(rgb, { raw: { width: rect.width, height: rect.height, channels: 3 } });
  if (looksLikeScreen(rgb, rect.width, rect.height)) {
    const data = await image.png({ compressionLevel: PNG_LEVEL, adaptiveFiltering: true }).toBuffer();
    return { ...rect, encoding: 'png', data };
  }
  const data = await image.jpeg({ quality }).toBuffer();
  return { ...rect, encoding: 'jpeg', data };
}

/**
 * One update message: `u8 1, u8 0, u16 count, u32 seq`, then per rectangle `u16 x, y, width, height,
 * u8 encoding, 3 zero bytes, u32 length`, then its bytes. Little-endian.
 */
export function updateMessage(seq: number, rects: EncodedRect[]): Buffer[] {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(8);
  head.writeUInt8(1, 0);
  head.writeUInt16LE(rects.length, 2);
  head.writeUInt32LE(seq >>> 0, 4);
  parts.push(head);
  for (const rect of rects) {
    const header = Buffer.alloc(16);
    header.writeUInt16LE(rect.x, 0);
    header.writeUInt16LE(rect.y, 2);
    header.writeUInt16LE(rect.width, 4);
    header.writeUInt16LE(rect.height, 6);
    header.writeUInt8(ENCODING[rect.encoding], 8);
    header.writeUInt32LE(rect.data.length, 12);
    parts.push(header, rect.data);
  }
  return parts;
}
