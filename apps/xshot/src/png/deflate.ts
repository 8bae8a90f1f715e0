// Deflating a PNG's rows in bands: each band is its own zlib stream on node:zlib's thread pool, fed as its
// rows are packed, and the bands' streams are joined into the one zlib stream a PNG holds.
import { createDeflate, constants as zlibConstants } from 'node:zlib';

/** Screen-like bands: zlib's default matcher at level 3 (fast, and within ~10% of libpng's default size). */
export const PNG_DEFLATE = { level: 3, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY } as const;
/** Photo-like bands (after filter Sub): run-length matches only. */
export const PNG_DEFLATE_DETAILED = { level: 3, memLevel: 9, strategy: zlibConstants.Z_RLE } as const;

export type DeflateSettings = typeof PNG_DEFLATE | typeof PNG_DEFLATE_DETAILED;

/** The tail every band stream ends with: a sync-flush marker, then an empty final fixed block (03 00). */
const SYNC_MARKER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY_FINAL_BLOCK = Buffer.from([0x03, 0x00]);

/** Adler-32's modulus. */
const ADLER_BASE = 65521;

/** The Adler-32 of A followed by B, from adler(A), adler(B) and B's length (zlib's adler32_combine). */
export function adler32Combine(first: number, second: number, secondLength: number): number {
  const rem = secondLength % ADLER_BASE;
  let sum1 = first & 0xffff;
  let sum2 = (rem * sum1) % ADLER_BASE;
  sum1 += (second & 0xffff) + ADLER_BASE - 1;
  sum2 += (first >>> 16) + (second >>> 16) + ADLER_BASE - rem;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum1 >= ADLER_BASE) sum1 -= ADLER_BASE;
  if (sum2 >= ADLER_BASE * 2) sum2 -= ADLER_BASE * 2;
  if (sum2 >= ADLER_BASE) sum2 -= ADLER_BASE;
  return ((sum2 << 16) | sum1) >>> 0;
}

/** A band's zlib stream: write() its rows in order (`written` runs once zlib is done with them), then end(). */
export interface BandStream {
  write(rows: Buffer, written: () => void): void;
  end(): Promise<Buffer>;
}

/**
 * One band as a complete zlib stream, fed as its rows are packed: each write is deflated on the thread pool
 * while the next rows are captured, and ends with Z_SYNC_FLUSH (byte aligned, in a non-final block; the
 * window carries over, so the flushes cost ~5 bytes each); end() adds Z_FINISH with no input, which is only
 * an empty final block and the band's Adler-32. `bytes`, the band's size, sizes the output buffer, so the
 * stream never waits for a new one.
 */
export function bandStream(settings: DeflateSettings, bytes: number): BandStream {
  const deflate = createDeflate({
    ...settings,
    flush: zlibConstants.Z_SYNC_FLUSH,
    chunkSize: Math.max(64 * 1024, bytes + (bytes >> 3) + 1024),
  });
  const parts: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    deflate.on('data', (part: Buffer) => parts.push(part));
    deflate.on('error', reject);
    deflate.on('end', () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
  });
  done.catch(() => {});
  let written: Promise<void> = Promise.resolve();
  return {
    write(rows, onWritten) {
      written = new Promise((resolve) =>
        deflate.write(rows, () => {
          onWritten();
          resolve();
        }),
      );
    },
    // Ended only once the last rows are deflated: node:zlib gives the write still queued at end() Z_FINISH
    // instead of Z_SYNC_FLUSH, and the band would end in a final block, which joinZlibStreams refuses.
    async end() {
      await written;
      deflate.end();
      return done;
    },
  };
}

/**
 * Band streams (each `78 xx | body ending 00 00 ff ff | 03 00 | adler`) as one zlib stream, as parts:
 * the first header, every body, one empty final block and the Adler-32 of all the data, combined from the
 * bands' (`lengths`: each band's uncompressed bytes). The packed rows are gone by now (their slots were
 * reused), so a band that ends otherwise is an error; zlib ends them so whenever the last write is flushed
 * before the stream ends (see bandStream).
 */
export function joinZlibStreams(streams: readonly Buffer[], lengths: readonly number[]): Buffer[] {
  const parts: Buffer[] = [streams[0]!.subarray(0, 2)];
  let adler = 1;
  for (const [band, stream] of streams.entries()) {
    const end = stream.length - 6;
    const wellFormed =
      end >= 6 &&
      stream.subarray(end - 4, end).equals(SYNC_MARKER) &&
      stream.subarray(end, end + 2).equals(EMPTY_FINAL_BLOCK);
    if (!wellFormed)
      throw new Error(`encodePNG: zlib ended band ${band} in a way it cannot be joined (a zlib change?)`);
    parts.push(stream.subarray(2, end));
    adler = adler32Combine(adler, stream.readUInt32BE(end + 2), lengths[band]!);
  }
  const trailer = Buffer.allocUnsafe(4);
  trailer.writeUInt32BE(adler, 0);
  parts.push(EMPTY_FINAL_BLOCK, trailer);
  return parts;
}
