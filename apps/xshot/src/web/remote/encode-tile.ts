// How one changed rectangle is sent: lossless when it looks like a screen (text, flat fills, UI), so the
// page shows exactly the server's pixels, and JPEG when it looks like a photo or video, where lossless is
// several times larger and exactness is invisible. Lossless rectangles of at most 16 colours (text on a flat
// background has 2-4) are palette indices packed 1, 2 or 4 bits a pixel, as VNC's Tight and ZRLE do; others
// are raw RGB. Either goes, with the update's headers, through each viewer's own zlib stream
// (deflatePiece), whose window remembers what that viewer was sent before: a character typed again, or a
// line scrolled up, costs a few back-references instead of a self-contained PNG.
import { constants, type Deflate } from 'node:zlib';
import sharp from 'sharp';
import { turboJPEG } from '../../jpeg';
import { type Rect, rgbOfWords, type ScreenCopy } from './tiles';

/**
 * The encoding byte of a rectangle (the page's decoder has the same table). `png` is no longer sent (kept so
 * the numbers stay put); `zlib` is raw RGB through the viewer's deflate stream; `palette` is a palette and
 * packed indices through it; `jpeg-half` is a JPEG of the rectangle at half its width and height (rounded
 * up), which the page draws stretched to the rectangle; `copy` is no pixels but a move of the page's own: the
 * rectangle is drawn from the canvas's pixels at the same x and width, `varint source y` (a scroll).
 */
export const ENCODING = { png: 0, jpeg: 1, zlib: 2, palette: 3, 'jpeg-half': 4, copy: 5 } as const;
export type Encoding = keyof typeof ENCODING;

export interface EncodedRect extends Rect {
  encoding: Encoding;
  data: Buffer;
}

/**
 * How a rectangle may be sent. `auto`: by its content. `lossy`: JPEG whatever it shows (full-screen motion,
 * where one JPEG is what the page can keep up with); `lossy-half`: the same at half the size, for a page
 * too slow to decode the whole size at the capture rate. `refresh`: lossless when it looks like a screen,
 * else nothing (a photo the page already has as JPEG stays so).
 */
export type EncodeMode = 'auto' | 'lossy' | 'lossy-half' | 'refresh';

/** Most colours a palette rectangle has: 16 fit 4 bits a pixel. */
export const MAX_PALETTE = 16;

/**
 * A rectangle is a screen when at least this share of sampled pixels repeat their left neighbour: the
 * test xshot's PNG encoder uses for its bands (a desktop picture 82-98%, plasma noise 0%).
 */
const SCREEN_SHARE = 0.5;
/** Sampled pixels per rectangle (a grid): enough to tell text from a photo, cheap for 1080p bands. */
const SAMPLES = 1024;

/** Whether `words` (0x00RRGGBB, width x height) look like screen content rather than a photo. */
export function looksLikeScreen(words: Uint32Array, width: number, height: number): boolean {
  if (width < 2) return true;
  const step = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLES)));
  let repeats = 0;
  let samples = 0;
  for (let y = 0; y < height; y += step)
    for (let x = 1; x < width; x += step) {
      const i = y * width + x;
      samples++;
      if (((words[i]! ^ words[i - 1]!) & 0xffffff) === 0) repeats++;
    }
  return repeats >= samples * SCREEN_SHARE;
}

/** Bits per index for a palette of `colours`: 0 (one colour: a fill), 1, 2 or 4. */
export function paletteBits(colours: number): number {
  return colours <= 1 ? 0 : colours <= 2 ? 1 : colours <= 4 ? 2 : 4;
}

/**
 * `words` as a palette rectangle, or null when they have more than MAX_PALETTE colours: `u8 colours`, the
 * colours as RGB, then each pixel's index in paletteBits(colours) bits, rows one after the other with no
 * padding, the first pixel in the high bits of the first byte.
 */
export function encodePalette(words: Uint32Array): Buffer | null {
  const palette: number[] = [];
  const indices = new Uint8Array(words.length);
  let last = -1;
  let lastIndex = 0;
  for (let i = 0; i < words.length; i++) {
    const colour = words[i]! & 0xffffff;
    if (colour !== last) {
      let index = palette.indexOf(colour);
      if (index < 0) {
        if (palette.length === MAX_PALETTE) return null;
        index = palette.push(colour) - 1;
      }
      last = colour;
      lastIndex = index;
    }
    indices[i] = lastIndex;
  }
  const bits = paletteBits(palette.length);
  const out = Buffer.alloc(1 + palette.length * 3 + Math.ceil((words.length * bits) / 8));
  out[0] = palette.length;
  palette.forEach((colour, i) => {
    out[1 + i * 3] = colour >>> 16;
    out[2 + i * 3] = (colour >>> 8) & 255;
    out[3 + i * 3] = colour & 255;
  });
  if (bits === 0) return out;
  const perByte = 8 / bits;
  const at = 1 + palette.length * 3;
  for (let i = 0; i < indices.length; i++)
    out[at + Math.floor(i / perByte)]! |= indices[i]! << (8 - bits * ((i % perByte) + 1));
  return out;
}

/**
 * A JPEG of `rect` of the screen copy. TurboJPEG reads the copy's BGRX rows where they are (no extract, no
 * conversion): 6-12 ms for 1080p here against 15-80 ms for sharp from RGB, which only runs where
 * libturbojpeg is missing.
 */
async function encodeJpeg(screen: ScreenCopy, rect: Rect, quality: number, half = false): Promise<Buffer> {
  const turbo = turboJPEG();
  const source = half ? halfSize(screen, rect) : null;
  const width = source ? Math.ceil(rect.width / 2) : rect.width;
  const height = source ? Math.ceil(rect.height / 2) : rect.height;
  if (turbo instanceof Error) {
    const words = source
      ? new Uint32Array(source.buffer, source.byteOffset, width * height)
      : screen.extractWords(rect);
    return sharp(rgbOfWords(words), { raw: { width, height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
  }
  const stride = source ? width * 4 : screen.width * 4;
  const data = source ?? screen.pixels.subarray(rect.y * stride + rect.x * 4);
  return turbo.encode(
    {
      width,
      height,
      stride,
      format: { channels: 'BGRX', bitsPerPixel: 32 },
      data,
      toRGBA: () => {
        throw new Error('a BGRX screen copy is never converted');
      },
      toRGB: () => {
        throw new Error('a BGRX screen copy is never converted');
      },
    },
    quality,
  );
}

/**
 * `rect` of the screen copy at half its width and height (rounded up) as BGRX, each pixel the mean of the
 * 2x2 it covers: a quarter of the pixels for the page to decode, and for TurboJPEG to encode.
 */
export function halfSize(screen: ScreenCopy, rect: Rect): Buffer {
  const width = Math.ceil(rect.width / 2);
  const height = Math.ceil(rect.height / 2);
  const pairs = rect.width >>> 1;
  const out = new Uint32Array(width * height);
  const words = new Uint32Array(screen.pixels.buffer, screen.pixels.byteOffset, screen.width * screen.height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    let top = (rect.y + 2 * y) * screen.width + rect.x;
    let bottom = 2 * y + 1 < rect.height ? top + screen.width : top;
    for (let x = 0; x < width; x++) {
      const a = words[top]!;
      const c = words[bottom]!;
      // The last column of an odd width is its own right neighbour.
      const b = x < pairs ? words[top + 1]! : a;
      const d = x < pairs ? words[bottom + 1]! : c;
      top += 2;
      bottom += 2;
      // Red and blue, then green, summed in place: each 8-bit field has room for four values plus 2 to round.
      const rb =
        (((a & 0xff00ff) + (b & 0xff00ff) + (c & 0xff00ff) + (d & 0xff00ff) + 0x20002) >>> 2) & 0xff00ff;
      const g = (((a & 0xff00) + (b & 0xff00) + (c & 0xff00) + (d & 0xff00) + 0x200) >>> 2) & 0xff00;
      out[o++] = rb | g;
    }
  }
  return Buffer.from(out.buffer);
}

/**
 * Encodes `rect` of the screen copy as it is now, by `mode` (see EncodeMode); null when a refresh leaves it
 * as it is.
 */
export async function encodeRect(
  screen: ScreenCopy,
  rect: Rect,
  quality: number,
  mode: EncodeMode = 'auto',
): Promise<EncodedRect | null> {
  if (mode === 'lossy') return { ...rect, encoding: 'jpeg', data: await encodeJpeg(screen, rect, quality) };
  if (mode === 'lossy-half')
    return { ...rect, encoding: 'jpeg-half', data: await encodeJpeg(screen, rect, quality, true) };
  const words = screen.extractWords(rect);
  const palette = encodePalette(words);
  if (palette) return { ...rect, encoding: 'palette', data: palette };
  if (looksLikeScreen(words, rect.width, rect.height))
    return { ...rect, encoding: 'zlib', data: rgbOfWords(words) };
  if (mode === 'refresh') return null;
  return { ...rect, encoding: 'jpeg', data: await encodeJpeg(screen, rect, quality) };
}

/**
 * `data` through a viewer's deflate stream, ended with a partial flush so the page can inflate all of it
 * now. A partial flush ends with an empty 10-bit block where a sync flush writes 4-5 bytes (00 00 ff ff):
 * 7-8 bytes a typed character instead of 11-12 in a measured run of small pieces. Calls on one stream must
 * not overlap (the viewer's `sending` flag sees to it): the page inflates the pieces in the order they were
 * made.
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
    stream.flush(constants.Z_PARTIAL_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** A copy rectangle: `rect` of the page's canvas takes the pixels the canvas holds at (rect.x, sourceY). */
export function copyRect(rect: Rect, sourceY: number): EncodedRect {
  return { ...rect, encoding: 'copy', data: Buffer.from(varint(sourceY)) };
}

/** Unsigned LEB128: 7 bits a byte, low first, the high bit set on every byte but the last. */
export function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/**
 * One update, in two parts. `plain` goes through the viewer's deflate stream: `varint count`, then per
 * rectangle `varint x, y, width, height, u8 encoding` and then by encoding: `zlib` its raw RGB, `palette`
 * what encodePalette wrote, `copy` a `varint source y`, `jpeg` and `jpeg-half` a `varint length` of its
 * bytes in the tail. `tail`: the JPEG rectangles' bytes, in order, sent as they are (deflate cannot shrink
 * them). The headers ride in the deflate stream, and are varints, because a typed character is ~20 bytes of
 * pixels after deflate: 16-byte headers were a large part of each update.
 */
export function updateParts(rects: EncodedRect[]): { plain: Buffer; tail: Buffer[] } {
  const plain: Buffer[] = [Buffer.from(varint(rects.length))];
  const tail: Buffer[] = [];
  for (const rect of rects) {
    const header = [
      ...varint(rect.x),
      ...varint(rect.y),
      ...varint(rect.width),
      ...varint(rect.height),
      ENCODING[rect.encoding],
    ];
    if (rect.encoding === 'jpeg' || rect.encoding === 'jpeg-half') {
      plain.push(Buffer.from([...header, ...varint(rect.data.length)]));
      tail.push(rect.data);
    } else plain.push(Buffer.from(header), rect.data);
  }
  return { plain: Buffer.concat(plain), tail };
}

/**
 * The WebSocket message (binary; text messages are JSON): `varint length of the deflated part`, that part,
 * the tail.
 */
export function updateMessage(deflated: Buffer, tail: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from(varint(deflated.length)), deflated, ...tail]);
}
