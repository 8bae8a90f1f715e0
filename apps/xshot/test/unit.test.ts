// Unit tests: output naming, and the encoders checked by
// decoding their files with sharp and ImageMagick's identify. Nothing here needs an X server.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { type PixelFormat, toRGB } from '@xshm/mit-shm';
import sharp from 'sharp';
import {
  adler32Combine,
  type EncodableImage,
  type EncodableStrip,
  encode,
  encodePNG,
  formatFromPath,
} from '../src/encode';
import { defaultFileName, freshDefaultPath } from '../src/output';
import { simdRowPacker } from '../src/simd-pack';

/** A width x height BGRX frame with distinct R, G, B in every pixel, rows padded to `stride`. */
function bgrxFrame(
  width: number,
  height: number,
  stride = width * 4,
): EncodableImage & { rgb(x: number, y: number): number[] } {
  const data = Buffer.alloc(stride * height, 0xee);
  const rgb = (x: number, y: number): number[] => [
    (x * 7 + y) & 0xff,
    (y * 5 + 3) & 0xff,
    (x * y + 11) & 0xff,
  ];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      data.set([b!, g!, r!, 0x5a], y * stride + x * 4);
    }
  const image = {
    width,
    height,
    stride,
    format: { channels: 'BGRX', bitsPerPixel: 32 },
    data,
    rgb,
    toRGBA(): Buffer {
      const out = Buffer.alloc(width * height * 4);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) out.set([...rgb(x, y), 255], (y * width + x) * 4);
      return out;
    },
    toRGB(out: Buffer, rows: { stride: number; offset: number }): Buffer {
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++) out.set(rgb(x, y), rows.offset + y * rows.stride + x * 3);
      return out;
    },
  };
  return image;
}

describe('output naming', () => {
  test('xshot-YYYYMMDD-HHMMSS.png in local time', () => {
    expect(defaultFileName(new Date(2026, 0, 2, 3, 4, 5))).toBe('xshot-20260102-030405.png');
    expect(defaultFileName(new Date(2026, 10, 26, 17, 59, 9), 'jpg')).toBe('xshot-20261126-175909.jpg');
  });
  test('a second shot in the same second does not overwrite the first', () => {
    const folder = mkdtempSync(join(tmpdir(), 'xshot-name-'));
    try {
      const date = new Date(2026, 0, 2, 3, 4, 5);
      const first = freshDefaultPath(folder, date);
      writeFileSync(first, 'x');
      expect(freshDefaultPath(folder, date)).toBe(join(folder, 'xshot-20260102-030405-2.png'));
    } finally {
      rmSync(folder, { recursive: true });
    }
  });
  test('formats from extensions', () => {
    expect(formatFromPath('a.PNG')).toBe('png');
    expect(formatFromPath('a.jpg')).toBe('jpeg');
    expect(formatFromPath('a.rgba')).toBe('raw');
    expect(formatFromPath('a')).toBeUndefined();
  });
});

describe('encoders', () => {
  test.each([
    [37, 23, 37 * 4 + 12, 0],
    [40, 9, 40 * 4, 0],
    [13, 5, 13 * 4, 1], // not word aligned: the byte loop
  ])(
    'PNG from BGRX %p x %p, stride %p, offset %p decodes to the same pixels',
    async (width, height, stride, offset) => {
      const frame = bgrxFrame(width, height, stride);
      if (offset) frame.data = Buffer.concat([Buffer.alloc(offset), frame.data]).subarray(offset);
      const before = Buffer.from(frame.data);
      const png = await encodePNG(frame);
      expect(frame.data.equals(before)).toBe(true);
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
      for (let y = 0; y < height; y++)
        for (let x = 0; x < width; x++)
          expect([...data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)]).toEqual(frame.rgb(x, y));
    },
  );

  /**
   * A width x height BGRX frame whose top third is screen-like (runs of one colour: filter None) and the
   * rest noise (filter Sub, Z_RLE), so that with two bands or more, bands of both kinds meet in one file.
   */
  function mixedFrame(width: number, height: number, stride: number): { frame: EncodableImage; rgb: Buffer } {
    const data = Buffer.alloc(stride * height, 0x77);
    const rgb = Buffer.alloc(width * height * 3);
    let seed = 12345;
    const noise = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 24;
    };
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const flat = y < height / 3;
        const pixel = flat ? [(x >> 5) * 40, y & 0xff, 200] : [noise(), noise(), noise()];
        rgb.set(pixel, (y * width + x) * 3);
        data.set([pixel[2]!, pixel[1]!, pixel[0]!, 0xa5], y * stride + x * 4);
      }
    const frame: EncodableImage = {
      width,
      height,
      stride,
      format: { channels: 'BGRX', bitsPerPixel: 32 },
      data,
      toRGBA: () => {
        throw new Error('not used for BGRX');
      },
      // What mit-shm's converter gives; the PNG encoder uses it for rows that are not word aligned.
      toRGB: (out, rows) => {
        for (let y = 0; y < height; y++)
          rgb.copy(out, rows.offset + y * rows.stride, y * width * 3, (y + 1) * width * 3);
        return out;
      },
    };
    return { frame, rgb };
  }

  /** The zlib stream in a PNG's IDAT chunks. */
  function idatOf(png: Buffer): Buffer {
    const idat: Buffer[] = [];
    for (let at = 8; at < png.length; ) {
      const length = png.readUInt32BE(at);
      if (png.toString('latin1', at + 4, at + 8) === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + length));
      at += 12 + length;
    }
    return Buffer.concat(idat);
  }

  /**
   * Sync-flush markers in a PNG's zlib stream: band streams joined leave one per write at least; the
   * fallback (the whole picture deflated again in one piece, much slower) leaves none.
   */
  function syncMarkers(png: Buffer): number {
    const idat = idatOf(png);
    let count = 0;
    for (let at = idat.indexOf(SYNC); at >= 0; at = idat.indexOf(SYNC, at + 1)) count++;
    return count;
  }
  const SYNC = Buffer.from([0, 0, 0xff, 0xff]);

  /** The IDAT payload of a PNG, checked by inflating it (zlib verifies the Adler-32), and its filter bytes. */
  function inflatedRows(png: Buffer, width: number, height: number): number[] {
    const rows = inflateSync(idatOf(png));
    expect(rows.length).toBe((width * 3 + 1) * height);
    return Array.from({ length: height }, (_, y) => rows[y * (width * 3 + 1)]!);
  }

  test.each([
    [1, 203, 0, 'simd'],
    [2, 203, 0, 'simd'],
    [3, 203, 0, 'simd'],
    [4, 203, 0, 'simd'],
    [1, 203, 0, 'js'],
    [3, 203, 0, 'js'],
    [4, 201, 1, 'simd'], // not word aligned: converted once by toRGB, each band's filter applied after
    [8, 64, 0, 'simd'], // more bands than 64-row minimum allows: 4
    [8, 64, 0, 'js'],
  ] as const)(
    'a PNG in %p bands of a %p-wide frame (offset %p, %s packer) decodes to the same pixels',
    async (bands, width, offset, packer) => {
      const height = 300;
      const stride = width * 4 + 8;
      const { frame, rgb } = mixedFrame(width, height, stride);
      if (offset) frame.data = Buffer.concat([Buffer.alloc(offset), frame.data]).subarray(offset);
      const png = await encodePNG(frame, { bands, packer });
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
      expect(data.equals(rgb)).toBe(true);
      const filters = inflatedRows(png, width, height);
      // Band streams joined, not deflated again as a whole.
      expect(syncMarkers(png)).toBeGreaterThanOrEqual(Math.min(bands, 4) - 1);
      // Screen-like bands keep filter None, noisy ones use Sub; with one band the noise decides.
      expect(new Set(filters)).toEqual(bands === 1 ? new Set([1]) : new Set([0, 1]));
      expect(execFileSync('identify', ['-format', '%m %w %h', '-'], { input: png }).toString()).toBe(
        `PNG ${width} ${height}`,
      );
    },
  );

  /** The frame as strips of `rows` rows (the last shorter), as mit-shm's display.strips() delivers them. */
  async function* inStrips(frame: EncodableImage, rgb: Buffer, rows: number): AsyncGenerator<EncodableStrip> {
    const { width, height, stride } = frame;
    for (let y = 0; y < height; y += rows) {
      const count = Math.min(rows, height - y);
      yield {
        ...frame,
        y,
        height: count,
        regionHeight: height,
        data: frame.data.subarray(y * stride, (y + count) * stride),
        toRGB: (out, placement) => {
          for (let r = 0; r < count; r++)
            rgb.copy(
              out,
              placement.offset + r * placement.stride,
              (y + r) * width * 3,
              (y + r + 1) * width * 3,
            );
          return out;
        },
      };
    }
  }

  test.each([
    [1, 'simd', 0],
    [7, 'simd', 0],
    [68, 'simd', 0],
    [300, 'simd', 0],
    [13, 'js', 0],
    [29, 'simd', 1], // not word aligned: each strip converted by toRGB
  ] as const)(
    'a PNG from strips of %p rows (%s packer, offset %p) decodes to the frame, in four bands',
    async (rows, packer, offset) => {
      const [width, height] = [203, 300];
      const { frame, rgb } = mixedFrame(width, height, width * 4 + 8);
      if (offset) frame.data = Buffer.concat([Buffer.alloc(offset), frame.data]).subarray(offset);
      const png = await encodePNG(inStrips(frame, rgb, rows), { packer });
      const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([width, height]);
      expect(data.equals(rgb)).toBe(true);
      expect(new Set(inflatedRows(png, width, height))).toEqual(new Set([0, 1]));
      // Four band streams, each fed strip by strip, joined (not deflated again as a whole).
      expect(syncMarkers(png)).toBeGreaterThanOrEqual(Math.min(4, Math.ceil(height / rows)));
    },
  );

  test('strips out of order, or too few, are an error, not a wrong picture', async () => {
    const { frame, rgb } = mixedFrame(64, 100, 256);
    async function* skipping(): AsyncGenerator<EncodableStrip> {
      for await (const strip of inStrips(frame, rgb, 10)) if (strip.y !== 20) yield strip;
    }
    await expect(encodePNG(skipping())).rejects.toThrow(
      /rows 30-39 \(64 wide\) do not follow row 20 of 64x100/,
    );
    async function* short(): AsyncGenerator<EncodableStrip> {
      for await (const strip of inStrips(frame, rgb, 10)) if (strip.y < 50) yield strip;
    }
    await expect(encodePNG(short())).rejects.toThrow(/the rows ended at 50 of 100/);
  });

  test.each([1, 2, 3, 4, 5, 7, 13, 33, 641])(
    'the SIMD packer matches @xshm/mit-shm toRGB on a %p-wide frame, filters None and Sub',
    (width) => {
      const height = 7;
      const stride = width * 4 + 12;
      const data = Buffer.alloc(stride * height);
      let seed = width;
      for (let i = 0; i < data.length; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        data[i] = seed >>> 24;
      }
      const format: PixelFormat = {
        depth: 24,
        bitsPerPixel: 32,
        scanlinePad: 32,
        byteOrder: 'LSBFirst',
        redMask: 0xff0000,
        greenMask: 0xff00,
        blueMask: 0xff,
        channels: 'BGRX',
      };
      const rowBytes = width * 3 + 1;
      // toRGB writes each row's pixels behind a byte left for the filter type: PNG rows with filter None.
      const none = toRGB(data, { width, height, stride, format }, Buffer.alloc(rowBytes * height), {
        stride: rowBytes,
        offset: 1,
      });
      const sub = Buffer.from(none);
      for (let y = 0; y < height; y++) {
        sub[y * rowBytes] = 1;
        for (let i = rowBytes - 1; i > 3; i--)
          sub[y * rowBytes + i] = (none[y * rowBytes + i]! - none[y * rowBytes + i - 3]!) & 0xff;
      }
      for (const [filter, expected] of [
        [false, none],
        [true, sub],
      ] as const) {
        const packer = simdRowPacker(width, stride, 4, 2);
        if (!packer) throw new Error('this Node has no WebAssembly SIMD');
        // In two runs into two slots, as encode.ts calls it; a slot's last 16-byte store lands in its slack.
        const top = Buffer.from(packer.pack(data, 0, 4, 0, filter));
        const bottom = packer.pack(data, 4, 3, 1, filter);
        expect(Buffer.concat([top, bottom]).equals(expected)).toBe(true);
        // A slot packed again holds the new rows.
        expect(packer.pack(data, 1, 2, 0, filter).equals(expected.subarray(rowBytes, 3 * rowBytes))).toBe(
          true,
        );
      }
    },
  );

  test('the adler32 of joined bands is that of the whole', () => {
    const whole = Buffer.from('xshot '.repeat(4000));
    const adler = (data: Buffer): number =>
      deflateSync(data, { level: 0 }).readUInt32BE(deflateSync(data, { level: 0 }).length - 4);
    const split = 9001;
    expect(
      adler32Combine(adler(whole.subarray(0, split)), adler(whole.subarray(split)), whole.length - split),
    ).toBe(adler(whole));
  });

  test('PNG from a non-BGRX frame goes through toRGB', async () => {
    const frame = bgrxFrame(6, 4);
    frame.format = { channels: 'RGB565', bitsPerPixel: 16 };
    const { data } = await sharp(await encodePNG(frame))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([...data.subarray(3 * 5, 3 * 6)]).toEqual(frame.rgb(5, 0));
  });

  test('each format is what identify says it is; raw is RGBA', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'xshot-enc-'));
    try {
      // ImageMagick 6 reads AVIF through libheif and names it HEIC; the ftyp brand below tells them apart.
      const expected: Record<string, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WEBP', avif: 'HEIC' };
      for (const [format, magick] of Object.entries(expected)) {
        const frame = bgrxFrame(64, 48);
        const file = join(folder, `shot.${format}`);
        writeFileSync(file, await encode(frame, format as 'png', { quality: 80 }));
        const identified = execFileSync('identify', ['-format', '%m %w %h', file]).toString();
        expect(identified).toBe(`${magick} 64 48`);
        if (format === 'avif') expect(readFileSync(file).subarray(4, 12).toString('latin1')).toBe('ftypavif');
      }
      const frame = bgrxFrame(5, 4);
      expect((await encode(frame, 'raw')).equals(frame.toRGBA())).toBe(true);
    } finally {
      rmSync(folder, { recursive: true });
    }
  });

  test('JPEG keeps colours in the right channels (BGRX swapped in place)', async () => {
    const frame = bgrxFrame(16, 16);
    frame.data.fill(0);
    for (let i = 0; i < frame.data.length; i += 4) frame.data[i + 2] = 255; // pure red in BGRX
    const jpeg = await encode(frame, 'jpeg', { quality: 95 });
    const { data } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(240);
    expect(data[1]).toBeLessThan(15);
    expect(data[2]).toBeLessThan(15);
  });
});

test('the committed screenshot is a PNG', () => {
  const file = join(__dirname, '..', 'docs', 'screenshot.png');
  const header = (() => {
    try {
      return readFileSync(file).subarray(0, 8);
    } catch {
      return Buffer.alloc(0);
    }
  })();
  expect(
    header.length === 0 || header.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  ).toBe(true);
});
