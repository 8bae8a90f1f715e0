// The encoders, with no X server: PNG (every band, strip and packer path) decoded by sharp and checked by
// identify, the WebAssembly packer against @xshm/mit-shm's toRGB (the reference), JPEG through TurboJPEG
// and WebP through libwebp, each also through the sharp fallback. Frames are built around mit-shm's real toRGB and toRGBA.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { type PixelFormat, toRGB, toRGBA } from '@xshm/mit-shm';
import sharp from 'sharp';
import {
  adler32Combine,
  type EncodableImage,
  type EncodableStrip,
  encode,
  encodeImage,
  encodePNG,
} from '../src/encode';
import { TURBOJPEG_LIBRARY, turboJPEG } from '../src/jpeg';
import { WASM_BASE64 } from '../src/png/pack-rows.wasm';
import { simdRowPacker } from '../src/png/simd-rows';
import { LIBWEBP_LIBRARY, libWebP } from '../src/webp';

const BGRX: PixelFormat = {
  depth: 24,
  bitsPerPixel: 32,
  scanlinePad: 32,
  byteOrder: 'LSBFirst',
  redMask: 0xff0000,
  greenMask: 0xff00,
  blueMask: 0xff,
  channels: 'BGRX',
};

const RGB565: PixelFormat = {
  depth: 16,
  bitsPerPixel: 16,
  scanlinePad: 32,
  byteOrder: 'LSBFirst',
  redMask: 0xf800,
  greenMask: 0x07e0,
  blueMask: 0x001f,
  channels: 'RGB565',
};

/**
 * A frame as mit-shm's Frame is: its pixels in `data`, converted by mit-shm's own toRGB and toRGBA (read
 * through `this`, so a copy with other `data`, as a strip is, converts its own pixels).
 */
function frameOf(data: Buffer, width: number, height: number, stride: number, format = BGRX): EncodableImage {
  const layout = { width, height, stride, format };
  return {
    width,
    height,
    stride,
    format,
    data,
    toRGBA(this: EncodableImage) {
      return toRGBA(this.data, { ...layout, height: this.height });
    },
    toRGB(this: EncodableImage, out, rows) {
      return toRGB(this.data, { ...layout, height: this.height }, out, rows);
    },
  };
}

/** The same frame with its data starting `offset` bytes into a larger buffer (not word aligned when odd). */
function shifted(frame: EncodableImage, offset: number): EncodableImage {
  const data = Buffer.concat([Buffer.alloc(offset), frame.data]).subarray(offset);
  return { ...frame, data };
}

/** A width x height BGRX frame with distinct R, G, B in every pixel, rows padded to `stride`. */
function bgrxFrame(
  width: number,
  height: number,
  stride = width * 4,
): { frame: EncodableImage; rgb: Buffer } {
  const data = Buffer.alloc(stride * height, 0xee);
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const pixel = [(x * 7 + y) & 0xff, (y * 5 + 3) & 0xff, (x * y + 11) & 0xff];
      rgb.set(pixel, (y * width + x) * 3);
      data.set([pixel[2]!, pixel[1]!, pixel[0]!, 0x5a], y * stride + x * 4);
    }
  return { frame: frameOf(data, width, height, stride), rgb };
}

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
  return { frame: frameOf(data, width, height, stride), rgb };
}

/** The frame as strips of `rows` rows (the last shorter), as mit-shm's display.strips() delivers them. */
async function* inStrips(frame: EncodableImage, rows: number): AsyncGenerator<EncodableStrip> {
  const { height, stride } = frame;
  for (let y = 0; y < height; y += rows) {
    const count = Math.min(rows, height - y);
    yield { ...frame, y, height: count, regionHeight: height, data: frame.data.subarray(y * stride) };
  }
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

const SYNC = Buffer.from([0, 0, 0xff, 0xff]);

/**
 * Sync-flush markers in a PNG's zlib stream: band streams joined leave one per write at least; the
 * whole picture deflated again in one piece (much slower) leaves none.
 */
function syncMarkers(png: Buffer): number {
  const idat = idatOf(png);
  let count = 0;
  for (let at = idat.indexOf(SYNC); at >= 0; at = idat.indexOf(SYNC, at + 1)) count++;
  return count;
}

/** The IDAT payload of a PNG, checked by inflating it (zlib verifies the Adler-32), and its filter bytes. */
function inflatedRows(png: Buffer, width: number, height: number): number[] {
  const rows = inflateSync(idatOf(png));
  expect(rows.length).toBe((width * 3 + 1) * height);
  return Array.from({ length: height }, (_, y) => rows[y * (width * 3 + 1)]!);
}

/** Decodes any image to 8-bit RGB. */
async function decoded(image: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** PSNR in dB of `actual` against `expected` (8-bit samples of equal length). */
function psnr(actual: Buffer, expected: Buffer): number {
  let squares = 0;
  for (let i = 0; i < expected.length; i++) squares += (actual[i]! - expected[i]!) ** 2;
  return squares === 0
    ? Number.POSITIVE_INFINITY
    : 10 * Math.log10((255 * 255) / (squares / expected.length));
}

describe('PNG', () => {
  test.each([
    [37, 23, 37 * 4 + 12, 0],
    [40, 9, 40 * 4, 0],
    [13, 5, 13 * 4, 1], // not word aligned: through toRGB
  ])(
    'from BGRX %p x %p, stride %p, offset %p decodes to the same pixels',
    async (width, height, stride, offset) => {
      const made = bgrxFrame(width, height, stride);
      const frame = offset ? shifted(made.frame, offset) : made.frame;
      const before = Buffer.from(frame.data);
      const png = await encodePNG(frame);
      expect(frame.data.equals(before)).toBe(true);
      const { data, ...size } = await decoded(png);
      expect(size).toEqual({ width, height });
      expect(data.equals(made.rgb)).toBe(true);
    },
  );

  test.each([
    [1, 203, 0, 'simd'],
    [2, 203, 0, 'simd'],
    [3, 203, 0, 'simd'],
    [4, 203, 0, 'simd'],
    [1, 203, 0, 'toRGB'],
    [3, 203, 0, 'toRGB'],
    [4, 201, 1, 'simd'], // not word aligned: converted once by toRGB, each band's filter applied after
    [8, 64, 0, 'simd'], // more bands than 64-row minimum allows: 4
    [8, 64, 0, 'toRGB'],
  ] as const)(
    'in %p bands of a %p-wide frame (offset %p, %s packer) decodes to the same pixels',
    async (bands, width, offset, packer) => {
      const height = 300;
      const made = mixedFrame(width, height, width * 4 + 8);
      const frame = offset ? shifted(made.frame, offset) : made.frame;
      const png = await encodePNG(frame, { bands, packer });
      const { data, ...size } = await decoded(png);
      expect(size).toEqual({ width, height });
      expect(data.equals(made.rgb)).toBe(true);
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

  test.each([
    [1, 'simd', 0],
    [7, 'simd', 0],
    [68, 'simd', 0],
    [300, 'simd', 0],
    [13, 'toRGB', 0],
    [29, 'simd', 1], // not word aligned: each strip converted by toRGB
  ] as const)(
    'from strips of %p rows (%s packer, offset %p) decodes to the frame, in four bands',
    async (rows, packer, offset) => {
      const [width, height] = [203, 300];
      const made = mixedFrame(width, height, width * 4 + 8);
      const frame = offset ? shifted(made.frame, offset) : made.frame;
      const png = await encodePNG(inStrips(frame, rows), { packer });
      const { data, ...size } = await decoded(png);
      expect(size).toEqual({ width, height });
      expect(data.equals(made.rgb)).toBe(true);
      expect(new Set(inflatedRows(png, width, height))).toEqual(new Set([0, 1]));
      // Four band streams, each fed strip by strip, joined (not deflated again as a whole).
      expect(syncMarkers(png)).toBeGreaterThanOrEqual(Math.min(4, Math.ceil(height / rows)));
    },
  );

  test('strips out of order, or too few, are an error, not a wrong picture', async () => {
    const { frame } = mixedFrame(64, 100, 256);
    async function* skipping(): AsyncGenerator<EncodableStrip> {
      for await (const strip of inStrips(frame, 10)) if (strip.y !== 20) yield strip;
    }
    await expect(encodePNG(skipping())).rejects.toThrow(
      /rows 30-39 \(64 wide\) do not follow row 20 of 64x100/,
    );
    async function* short(): AsyncGenerator<EncodableStrip> {
      for await (const strip of inStrips(frame, 10)) if (strip.y < 50) yield strip;
    }
    await expect(encodePNG(short())).rejects.toThrow(/the rows ended at 50 of 100/);
  });

  test('from a 16 bpp RGB565 frame goes through toRGB, channels widened by bit replication', async () => {
    const [width, height, stride] = [6, 4, 12];
    const data = Buffer.alloc(stride * height);
    const expected = Buffer.alloc(width * height * 3);
    const widen = (value: number, bits: number): number => (value << (8 - bits)) | (value >> (2 * bits - 8));
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const [r, g, b] = [(x * 5 + y) & 31, (x * 11 + y * 3) & 63, (y * 7 + x) & 31];
        data.writeUInt16LE((r << 11) | (g << 5) | b, y * stride + x * 2);
        expected.set([widen(r, 5), widen(g, 6), widen(b, 5)], (y * width + x) * 3);
      }
    const png = await encodePNG(frameOf(data, width, height, stride, RGB565));
    expect((await decoded(png)).data.equals(expected)).toBe(true);
  });

  test('the adler32 of joined bands is that of the whole', () => {
    const whole = Buffer.from('xshot '.repeat(4000));
    const adler = (data: Buffer): number =>
      deflateSync(data, { level: 0 }).readUInt32BE(deflateSync(data, { level: 0 }).length - 4);
    const split = 9001;
    expect(
      adler32Combine(adler(whole.subarray(0, split)), adler(whole.subarray(split)), whole.length - split),
    ).toBe(adler(whole));
  });
});

describe('the WebAssembly row packer', () => {
  test('pack-rows.wasm.ts is pack-rows.wat assembled (run `node scripts/wasm.mjs` when this fails)', async () => {
    const wat = join(__dirname, '..', 'src', 'png', 'pack-rows.wat');
    const wabt = await (require('wabt') as () => Promise<WabtTools>)();
    const module = wabt.parseWat('pack-rows.wat', readFileSync(wat, 'utf8'), { simd: true });
    module.validate();
    expect(Buffer.from(module.toBinary({}).buffer).toString('base64')).toBe(WASM_BASE64);
    module.destroy();
  });

  test.each([1, 2, 3, 4, 5, 7, 13, 33, 641])(
    'matches @xshm/mit-shm toRGB on a %p-wide frame, filters None and Sub',
    (width) => {
      const height = 7;
      const stride = width * 4 + 12;
      const data = Buffer.alloc(stride * height);
      let seed = width;
      for (let i = 0; i < data.length; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        data[i] = seed >>> 24;
      }
      const rowBytes = width * 3 + 1;
      // toRGB writes each row's pixels behind a byte left for the filter type: PNG rows with filter None.
      const none = toRGB(data, { width, height, stride, format: BGRX }, Buffer.alloc(rowBytes * height), {
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
        // In two runs into two slots, as rows.ts calls it; a slot's last 16-byte store lands in its slack.
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
});

/** The part of wabt's API the staleness test uses. */
interface WabtTools {
  parseWat(
    name: string,
    text: string,
    features: Record<string, boolean>,
  ): { validate(): void; toBinary(options: object): { buffer: Uint8Array }; destroy(): void };
}

describe('JPEG and WebP', () => {
  /** A screen-like picture: gradients and flat blocks, which JPEG keeps well (PSNR well above 30 dB). */
  function screenFrame(width: number, height: number): { frame: EncodableImage; rgb: Buffer } {
    const stride = width * 4 + 16;
    const data = Buffer.alloc(stride * height);
    const rgb = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const block = ((x >> 4) + (y >> 4)) % 3;
        const pixel = [block === 0 ? 200 : (x * 2) & 0xff, block === 1 ? 40 : (y * 2) & 0xff, 128];
        rgb.set(pixel, (y * width + x) * 3);
        data.set([pixel[2]!, pixel[1]!, pixel[0]!, 0], y * stride + x * 4);
      }
    return { frame: frameOf(data, width, height, stride), rgb };
  }

  const previous = { jpeg: process.env.XSHOT_TURBOJPEG, webp: process.env.XSHOT_LIBWEBP };
  afterEach(() => {
    for (const [name, value] of [
      ['XSHOT_TURBOJPEG', previous.jpeg],
      ['XSHOT_LIBWEBP', previous.webp],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test.each([
    ['libjpeg-turbo', TURBOJPEG_LIBRARY],
    ['sharp', '/nonexistent/libturbojpeg.so.0'],
  ])(
    'through %s: a baseline JPEG at the quality asked for, close to the capture, the frame untouched',
    async (path, library) => {
      process.env.XSHOT_TURBOJPEG = library;
      const { frame, rgb } = screenFrame(160, 96);
      const before = Buffer.from(frame.data);
      const folder = mkdtempSync(join(tmpdir(), 'xshot-jpeg-'));
      try {
        const sizes: number[] = [];
        for (const quality of [30, 80, 95]) {
          const { parts, encoder } = await encodeImage(frame, 'jpeg', { quality });
          expect(encoder).toMatch(path === 'sharp' ? /^sharp \(libvips\): .*not loaded/ : /^libjpeg-turbo/);
          const file = join(folder, `q${quality}.jpg`);
          writeFileSync(file, Buffer.concat(parts));
          // identify: a JPEG, not progressive, at the quality asked for (estimated from its tables).
          expect(execFileSync('identify', ['-format', '%m %wx%h %[interlace] %Q', file]).toString()).toBe(
            `JPEG 160x96 None ${quality}`,
          );
          const image = await decoded(readFileSync(file));
          if (quality === 80) expect(psnr(image.data, rgb)).toBeGreaterThan(30);
          sizes.push(parts[0]!.length);
        }
        expect(sizes[0]).toBeLessThan(sizes[1]!);
        expect(sizes[1]).toBeLessThan(sizes[2]!);
        expect(frame.data.equals(before)).toBe(true);
      } finally {
        rmSync(folder, { recursive: true });
      }
    },
  );

  test('both paths give pixels within JPEG error of each other at the same quality', async () => {
    const { frame, rgb } = screenFrame(160, 96);
    process.env.XSHOT_TURBOJPEG = TURBOJPEG_LIBRARY;
    const turbo = await decoded(await encode(frame, 'jpeg', { quality: 80 }));
    process.env.XSHOT_TURBOJPEG = '/nonexistent/libturbojpeg.so.0';
    const fallback = await decoded(await encode(frame, 'jpeg', { quality: 80 }));
    expect(Math.abs(psnr(turbo.data, rgb) - psnr(fallback.data, rgb))).toBeLessThan(1.5);
  });

  test.each([
    ['libwebp', LIBWEBP_LIBRARY],
    ['sharp', '/nonexistent/libwebp.so.7'],
  ])(
    'WebP through %s: quality honoured, close to the capture, the frame untouched',
    async (path, library) => {
      process.env.XSHOT_LIBWEBP = library;
      const { frame, rgb } = screenFrame(160, 96);
      const before = Buffer.from(frame.data);
      const sizes: number[] = [];
      for (const quality of [30, 80, 95]) {
        const { parts, encoder } = await encodeImage(frame, 'webp', { quality });
        expect(encoder).toMatch(path === 'sharp' ? /^sharp \(libvips\): .*not loaded/ : /^libwebp/);
        const webp = Buffer.concat(parts);
        expect(execFileSync('identify', ['-format', '%m %wx%h', '-'], { input: webp }).toString()).toBe(
          'WEBP 160x96',
        );
        // WebP's 4:2:0 loses more than JPEG at these 16-pixel colour edges (both paths: 26.2 dB).
        if (quality === 80) expect(psnr((await decoded(webp)).data, rgb)).toBeGreaterThan(25);
        sizes.push(webp.length);
      }
      expect(sizes[0]).toBeLessThan(sizes[1]!);
      expect(sizes[1]).toBeLessThan(sizes[2]!);
      expect(frame.data.equals(before)).toBe(true);
    },
  );

  test('libwebp writes the same bytes as sharp at the same quality', async () => {
    const { frame } = screenFrame(160, 96);
    process.env.XSHOT_LIBWEBP = LIBWEBP_LIBRARY;
    const direct = await encode(frame, 'webp', { quality: 80 });
    process.env.XSHOT_LIBWEBP = '/nonexistent/libwebp.so.7';
    expect((await encode(frame, 'webp', { quality: 80 })).equals(direct)).toBe(true);
  });

  test('a 16 bpp frame is converted by toRGB first, and colours stay in their channels', async () => {
    const [width, height, stride] = [32, 16, 64];
    const data = Buffer.alloc(stride * height);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) data.writeUInt16LE(0xf800, y * stride + x * 2);
    const { data: pixels } = await decoded(
      await encode(frameOf(data, width, height, stride, RGB565), 'jpeg'),
    );
    expect(pixels[0]).toBeGreaterThan(240);
    expect(pixels[1]).toBeLessThan(15);
    expect(pixels[2]).toBeLessThan(15);
  });

  test('a missing library is an Error that names it, not a crash; TurboJPEG when present', () => {
    const missing = turboJPEG('/nonexistent/libturbojpeg.so.0');
    expect(missing).toBeInstanceOf(Error);
    expect((missing as Error).message).toMatch(/^\/nonexistent\/libturbojpeg\.so\.0 not loaded: /);
    expect(turboJPEG(TURBOJPEG_LIBRARY)).not.toBeInstanceOf(Error);
    expect(libWebP('/nonexistent/libwebp.so.7')).toBeInstanceOf(Error);
    expect(libWebP(LIBWEBP_LIBRARY)).not.toBeInstanceOf(Error);
  });
});

test('each format is what identify says it is; raw is RGBA; the frame is never written to', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'xshot-enc-'));
  try {
    // ImageMagick 6 reads AVIF through libheif and names it HEIC; the ftyp brand below tells them apart.
    const expected: Record<string, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WEBP', avif: 'HEIC' };
    for (const [format, magick] of Object.entries(expected)) {
      const { frame } = bgrxFrame(64, 48);
      const before = Buffer.from(frame.data);
      const file = join(folder, `shot.${format}`);
      writeFileSync(file, await encode(frame, format as 'png', { quality: 80 }));
      const identified = execFileSync('identify', ['-format', '%m %w %h', file]).toString();
      expect(identified).toBe(`${magick} 64 48`);
      if (format === 'avif') expect(readFileSync(file).subarray(4, 12).toString('latin1')).toBe('ftypavif');
      expect(frame.data.equals(before)).toBe(true);
    }
    const { frame, rgb } = bgrxFrame(5, 4);
    const raw = await encode(frame, 'raw');
    for (let p = 0; p < 20; p++)
      expect([...raw.subarray(p * 4, p * 4 + 4)]).toEqual([...rgb.subarray(p * 3, p * 3 + 3), 255]);
  } finally {
    rmSync(folder, { recursive: true });
  }
});
