// Image files from captured X frames: PNG through node:zlib (png/), JPEG through libjpeg-turbo (jpeg.ts)
// and WebP through libwebp (webp.ts), each with sharp as the fallback, AVIF through sharp, raw RGBA. Nothing here writes into the frame:
// it may alias shared memory that is not ours to change.
//
// Why sharp is the last resort: a screenshot is a whole process, and loading sharp (libvips) costs ~50 ms,
// more than capturing and encoding a 1080p PNG (~21 ms). Measured per phase inside a whole 1080p PNG shot
// (desktop picture, quiet 2-core VM, ~80 ms spawn to exit): Node start ~21 ms, the code cache and the
// bundle ~5.5, x11's core and koffi ~12, the X connection ~5, the MIT-SHM query and transport probe ~3,
// capture in strips and PNG ~21, the write ~1.5, exit ~9. AVIF stays on sharp: its encode dominates (1080p
// q60 effort 2, measured as jpeg.ts's candidates: median 3087 ms, fastest 1454, of which loading sharp is
// ~293 and 155), and libavif's API is structs whose layout changes between its versions.
import type Sharp from 'sharp';
import { type EncodableImage, packedRGB } from './encodable';
import { turboJPEG } from './jpeg';
import { encodePNGParts } from './png/encode-png';
import { libWebP } from './webp';

export type { EncodableImage, EncodableStrip } from './encodable';
export { adler32Combine } from './png/deflate';
export { encodePNG, encodePNGParts, type PNGOptions } from './png/encode-png';

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

/** Quality when none is asked for, per lossy format. */
const DEFAULT_QUALITY = { jpeg: 90, webp: 90, avif: 60 } as const;

export interface EncodeOptions {
  /** 1-100, for jpeg, webp and avif. */
  quality?: number;
}

/** An encoded file as its parts in order (one vectored write, never joined), and who encoded it. */
export interface EncodedImage {
  parts: Buffer[];
  /** For --verbose, e.g. 'libjpeg-turbo (libturbojpeg.so.0)' or 'sharp (libvips): <why not libjpeg-turbo>'. */
  encoder: string;
}

/** `--format NAME` to a format, accepting `jpg`; undefined when unknown. */
export function formatFromName(name: string): ImageFormat | undefined {
  return EXTENSION_FORMATS[name.toLowerCase()];
}

/** The format a file name's extension implies; undefined when it has none we know. */
export function formatFromPath(path: string): ImageFormat | undefined {
  const match = /\.([A-Za-z0-9]+)$/.exec(path);
  return match ? EXTENSION_FORMATS[match[1]!.toLowerCase()] : undefined;
}

/** Encodes a frame; `data` is only read. */
export async function encodeImage(
  image: EncodableImage,
  format: ImageFormat,
  options: EncodeOptions = {},
): Promise<EncodedImage> {
  switch (format) {
    case 'png':
      return { parts: await encodePNGParts(image), encoder: 'node:zlib' };
    case 'raw':
      return { parts: [image.toRGBA()], encoder: "mit-shm's toRGBA" };
    case 'jpeg':
    case 'webp': {
      // A system library when it is there (no libvips to load), else sharp, saying why.
      const quality = options.quality ?? DEFAULT_QUALITY[format];
      const library = format === 'jpeg' ? turboJPEG() : libWebP();
      if (!(library instanceof Error))
        return { parts: [library.encode(image, quality)], encoder: library.name };
      return {
        parts: [await encodeWithSharp(image, format, quality)],
        encoder: `sharp (libvips): ${library.message}`,
      };
    }
    case 'avif':
      return {
        parts: [await encodeWithSharp(image, format, options.quality ?? DEFAULT_QUALITY.avif)],
        encoder: 'sharp (libvips)',
      };
  }
}

/** encodeImage() in one buffer. */
export async function encode(
  image: EncodableImage,
  format: ImageFormat,
  options: EncodeOptions = {},
): Promise<Buffer> {
  const { parts } = await encodeImage(image, format, options);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The sharp module, loaded on first use (it is the slowest thing xshot loads). */
export function loadSharp(): typeof Sharp {
  return require('sharp') as typeof Sharp;
}

/**
 * JPEG (the fallback), WebP and AVIF through sharp, from RGB converted by mit-shm's toRGB into a buffer of
 * our own: the frame may alias a segment the server (or another reader) still uses, so it is never
 * reordered in place (that saved ~2.5 ms at 1080p, against ~50 ms for loading sharp).
 */
export function encodeWithSharp(
  image: EncodableImage,
  format: 'jpeg' | 'webp' | 'avif',
  quality: number,
): Promise<Buffer> {
  const { width, height } = image;
  const pipeline = loadSharp()(packedRGB(image), { raw: { width, height, channels: 3 } });
  if (format === 'jpeg') return pipeline.jpeg({ quality }).toBuffer();
  if (format === 'webp') return pipeline.webp({ quality }).toBuffer();
  return pipeline.avif({ quality, effort: 2 }).toBuffer();
}
