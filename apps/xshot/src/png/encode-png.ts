// The PNG encoder: a capture's rows, strip by strip, packed into PNG rows (rows.ts), deflated in bands on
// node:zlib's thread pool (deflate.ts) and wrapped in the PNG container (container.ts).
//
// Why PNG does not go through sharp: one 1080p `xshot shot` is measured as a whole process, and loading
// sharp (libvips) costs ~50 ms, while packing and deflating here gives files within ~10% of libpng's
// default size on screens and ~9% smaller than scrot's on photo-like noise.
import type { EncodableImage, EncodableStrip } from '../encodable';
import { pngFile } from './container';
import { type BandStream, bandStream, joinZlibStreams, PNG_DEFLATE, PNG_DEFLATE_DETAILED } from './deflate';
import { type RowFilter, type RowPackerName, rowPacker } from './rows';

/** How a PNG is split for parallel deflate and who packs its rows; tests use both. */
export interface PNGOptions {
  /** The most bands it uses (fewer for short images); default 4. */
  bands?: number;
  /** Who packs 32 bpp BGRX rows: WebAssembly SIMD when the runtime has it (default), or mit-shm's toRGB. */
  packer?: RowPackerName;
}

/**
 * Bands per PNG: zlib streams deflated side by side on the thread pool. With strips, a band's stream is
 * fed as its rows arrive, so the bands mostly run one after the other and what they buy is the last
 * band's backlog: at 1080p the last deflate ends ~4 ms after the last strip. Before strips (a whole frame
 * packed band by band), whole-process medians of 1 band (one deflateSync) against 4 were equal within the
 * noise (desktop 125 / 121 ms and 107 / 110 ms over 41 alternating runs, noise 160 / 157 ms); 2 and 8
 * measured no better. 4 costs little (a zlib state each) and keeps the other core busy where it is free.
 */
const PNG_BANDS = 4;

/** Rows per band below which a split costs more in thread hops than it gains. */
const MIN_BAND_ROWS = 64;

/** Share of sampled pixels equal to their left neighbour from which a band counts as screen-like. */
const SMOOTH_SHARE = 0.5;

/** An 8-bit RGB PNG (colour type 2, one IDAT) in one buffer. See encodePNGParts(). */
export async function encodePNG(
  source: EncodableImage | AsyncIterable<EncodableStrip>,
  options: PNGOptions = {},
): Promise<Buffer> {
  return Buffer.concat(await encodePNGParts(source, options));
}

/**
 * The PNG file as parts, from a whole frame or from the strips of one capture (in order, from the top). Rows
 * are packed on the main thread as they come, in horizontal bands; each band is a zlib stream on node:zlib's
 * thread pool, fed each run of rows as soon as it is packed, so the other core deflates while the next rows
 * are captured and packed, and only the last rows remain when the last strip is in. Packed rows wait for
 * their deflate in a few reused slots, not in a buffer of the whole picture (1080p: ~1500 fewer page faults,
 * ~3 ms of the main thread). Each band is its own zlib stream ended with a sync flush (byte aligned, not
 * final) and an empty final block; their bodies concatenate into one deflate stream, whose Adler-32 is
 * combined from the bands'. A band whose first rows mostly repeat their left neighbour (screens: flat fills,
 * text, gradients) keeps filter None and zlib's default matcher; any other band (photos, noise) gets filter
 * Sub and Z_RLE, which is both faster and smaller there. Measured at 1080p in fresh processes (deflate time,
 * file size): desktop picture, None + level 3: 10 ms, 365 KiB (Sub + Z_RLE: 12 ms, 654 KiB); plasma-fractal
 * noise, None + level 3: 109 ms, 5285 KiB; Sub + Z_RLE: 45 ms, 3522 KiB (scrot: 3860 KiB). Also measured and
 * not kept: filter Up (desktop 444-458 KiB at levels 1-3, 622 KiB with Z_RLE; noise 3698-3798 KiB, no faster
 * than Sub), levels 1 and 2 on screens (379 and 373 KiB, within 1 ms of level 3), Z_FILTERED (as the default
 * on screens, slower on noise), Z_RLE with filter None (desktop 2127 KiB).
 */
export async function encodePNGParts(
  source: EncodableImage | AsyncIterable<EncodableStrip>,
  options: PNGOptions = {},
): Promise<Buffer[]> {
  const strips: AsyncIterable<EncodableStrip> | Iterable<EncodableStrip> =
    Symbol.asyncIterator in source ? source : [{ ...wholeImage(source), y: 0, regionHeight: source.height }];
  let png: ReturnType<typeof bandedPNG> | undefined;
  for await (const strip of strips) {
    png ??= bandedPNG(strip, options);
    await png.add(strip);
  }
  if (!png) throw new Error('encodePNG: no rows to encode');
  return png.finish();
}

/** A frame's fields read once (Frame.data is a getter that checks the frame is still valid). */
function wholeImage(image: EncodableImage): EncodableImage {
  return {
    width: image.width,
    height: image.height,
    stride: image.stride,
    format: image.format,
    data: image.data,
    toRGBA: () => image.toRGBA(),
    toRGB: (out, rows) => image.toRGB(out, rows),
  };
}

/** The banded encoder of a picture whose first rows are `first`: add() its rows in order, then finish(). */
function bandedPNG(first: EncodableStrip, options: PNGOptions) {
  const { width, regionHeight: height } = first;
  const rowBytes = width * 3 + 1;
  const count = Math.max(1, Math.min(options.bands ?? PNG_BANDS, Math.floor(height / MIN_BAND_ROWS)));
  const edges = Array.from({ length: count + 1 }, (_, band) => Math.round((band * height) / count));
  // A run of rows is packed and deflated as one: a strip, cut at band edges (a whole frame: a band).
  const runRows = Math.min(first.height, edges[1]!);
  const pack = rowPacker(first, runRows, options.packer);
  const bands: Promise<Buffer>[] = [];
  let band = 0;
  let filter: RowFilter = 'none';
  let stream: BandStream | undefined;
  let done = 0;
  return {
    async add(strip: EncodableStrip): Promise<void> {
      if (strip.y !== done || strip.width !== width || strip.y + strip.height > height)
        throw new Error(
          `encodePNG: rows ${strip.y}-${strip.y + strip.height - 1} (${strip.width} wide) do not follow row ${done} of ${width}x${height}`,
        );
      pack.take(strip);
      // The strip in runs that stop at band edges: a band's filter is chosen from its first run.
      while (done < strip.y + strip.height) {
        const run = Math.min(strip.y + strip.height, edges[band + 1]!, done + runRows) - done;
        if (done === edges[band]) {
          filter = pack.smoothness(done, run) >= SMOOTH_SHARE ? 'none' : 'sub';
          const settings = filter === 'none' ? PNG_DEFLATE : PNG_DEFLATE_DETAILED;
          stream = bandStream(settings, (edges[band + 1]! - done) * rowBytes);
        }
        const rows = await pack.rows(done, run, filter);
        stream!.write(rows.data, rows.release);
        done += run;
        if (done === edges[band + 1]) {
          bands.push(stream!.end());
          band++;
        }
      }
    },
    async finish(): Promise<Buffer[]> {
      if (done !== height) throw new Error(`encodePNG: the rows ended at ${done} of ${height}`);
      const lengths = edges.slice(1).map((edge, b) => (edge - edges[b]!) * rowBytes);
      return pngFile(width, height, joinZlibStreams(await Promise.all(bands), lengths));
    },
  };
}
