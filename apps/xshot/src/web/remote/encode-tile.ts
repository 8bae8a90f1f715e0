// How one changed rectangle is sent: lossless when it looks like a screen (text, flat fills, UI), so the
// page shows exactly the server's pixels, and JPEG when it looks like a photo or video, where lossless is
// several times larger and exactness is invisible. Lossless rectangles are raw RGB here; each viewer's
// socket deflates them, with the update's headers, through its own zlib stream (deflatePiece), whose window
// remembers what that viewer was sent before: a character typed again, or a line scrolled up, costs a few
// back-references instead of a self-contained PNG.
import { constants, type Deflate } from 'node:zlib';
import sharp from 'sharp';
import type { Rect } from './tiles';

/**
 * The encoding byte in an update message (the page's decoder has the same table). `png` is no longer sent
 * (kept so the numbers stay put); `zlib` is raw RGB through the viewer's deflate stream.
 */
export const ENCODING = { png: 0, jpeg: 1, zlib: 2 } as const;
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

/**
 * Encodes `rgb` (the packed pixels of `rect`) by its content: JPEG for a photo, else the raw pixels
 * (`zlib`), which deflatePiece compresses per viewer.
 */
export async function encodeRect(rect: Rect, rgb: Buffer, quality: number): Promise<EncodedRect> {
  if (looksLikeScreen(rgb, rect.width, rect.height)) return { ...rect, encoding: 'zlib', data: rgb };
  const data = await sharp(rgb, { raw: { width: rect.width, height: rect.height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return { ...rect, encoding: 'jpeg', data };
}

/**
 * `data` through a viewer's deflate stream, ended with a sync flush so the page can inflate all of it now.
 * Calls on one stream must not overlap (the viewer's `sending` flag sees to it): the page inflates the
 * pieces in the order they were made.
 */
export function deflatePiece(stream: Deflate, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
    };
    const onError = (error: Error): void => {
      stream.off('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(data);
    // The flush's callback runs after the output it produced was pushed (emitted as 'data').
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * One update, in two parts. `plain` goes through the viewer's deflate stream: `u8 1, u8 0, u16 count,
 * u32 seq`, then per rectangle `u16 x, y, width, height, u8 encoding, 3 zero bytes, u32 length`, followed
 * by its raw RGB when it is `zlib`. `tail`: the JPEG rectangles' bytes, in order, sent as they are (deflate
 * cannot shrink them). The headers ride in the deflate stream because a typed character is ~40 bytes of
 * pixels after deflate, and 24 bytes of headers sent plain were a third of that update. Little-endian.
 */
export function updateParts(seq: number, rects: EncodedRect[]): { plain: Buffer; tail: Buffer[] } {
  const plain: Buffer[] = [];
  const tail: Buffer[] = [];
  const head = Buffer.alloc(8);
  head.writeUInt8(1, 0);
  head.writeUInt16LE(rects.length, 2);
  head.writeUInt32LE(seq >>> 0, 4);
  plain.push(head);
  for (const rect of rects) {
    const header = Buffer.alloc(16);
    header.writeUInt16LE(rect.x, 0);
    header.writeUInt16LE(rect.y, 2);
    header.writeUInt16LE(rect.width, 4);
    header.writeUInt16LE(rect.height, 6);
    header.writeUInt8(ENCODING[rect.encoding], 8);
    header.writeUInt32LE(rect.data.length, 12);
    plain.push(header);
    if (rect.encoding === 'zlib') plain.push(rect.data);
    else tail.push(rect.data);
  }
  return { plain: Buffer.concat(plain), tail };
}

/** The WebSocket message: `u8 2, 3 zero bytes, u32 length of the deflated part`, that part, the tail. */
export function updateMessage(deflated: Buffer, tail: Buffer[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt8(2, 0);
  head.writeUInt32LE(deflated.length, 4);
  return Buffer.concat([head, deflated, ...tail]);
}
