// `xshot shot` to JPEG and WebP against a real Xvfb, through the real bin: the system libraries
// (libjpeg-turbo, libwebp) and the sharp fallback when a library is missing (named by XSHOT_TURBOJPEG /
// XSHOT_LIBWEBP as a file that does not exist), each checked for region, stdout, quality and pixels.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import sharp from 'sharp';
import { turboJPEG } from '../src/jpeg';
import { importWindow, paintRoot, rgbOf, runXshot, testPicture } from './x-helpers';

jest.setTimeout(60_000);

let folder: string;
let xvfb: Xvfb;
beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'xshot-lossy-'));
  xvfb = await startXvfb({ width: 640, height: 480, depth: 24 });
  const picture = join(folder, 'root.png');
  await testPicture(picture, 640, 480, 5);
  await paintRoot(xvfb.display, picture);
});
afterAll(async () => {
  await xvfb?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** PSNR in dB of one decoded image against another of the same size. */
async function psnrOf(actual: Buffer, expected: Buffer): Promise<number> {
  const [a, b] = await Promise.all([rgbOf(actual), rgbOf(expected)]);
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let squares = 0;
  for (let i = 0; i < b.data.length; i++) squares += (a.data[i]! - b.data[i]!) ** 2;
  return 10 * Math.log10((255 * 255) / (squares / b.data.length));
}

const MISSING = {
  XSHOT_TURBOJPEG: '/nonexistent/libturbojpeg.so.0',
  XSHOT_LIBWEBP: '/nonexistent/libwebp.so.7',
};

describe.each([
  ['jpeg', 'libjpeg-turbo', {}],
  ['jpeg', 'sharp', MISSING],
  ['webp', 'libwebp', {}],
  ['webp', 'sharp', MISSING],
] as const)('%s through %s', (format, encoder, env) => {
  test('a region to stdout at the quality asked for, --verbose naming the encoder', async () => {
    const ran = await runXshot(
      [
        'shot',
        '-',
        '--format',
        format,
        '--quality',
        '70',
        '--region',
        '13,7,101,33',
        '--verbose',
        '--display',
        xvfb.display,
      ],
      env,
    );
    expect(ran.code).toBe(0);
    expect(ran.stderr).toMatch(
      encoder === 'sharp'
        ? new RegExp(
            `^xshot: ${format} by sharp \\(libvips\\): /nonexistent/\\S+ not loaded: .*, \\d+ KiB\\n$`,
          )
        : new RegExp(`^xshot: ${format} by ${encoder} \\(\\S+\\), \\d+ KiB\\n$`),
    );
    const identified = execFileSync('identify', ['-format', '%m %wx%h %[interlace] %Q', '-'], {
      input: ran.stdout,
    }).toString();
    // A baseline JPEG whose tables are those of quality 70 (identify estimates it from them).
    if (format === 'jpeg') expect(identified).toBe('JPEG 101x33 None 70');
    else expect(identified).toMatch(/^WEBP 101x33 /);
    const reference = await importWindow(xvfb.display, 'root', '101x33+13+7');
    expect(await psnrOf(ran.stdout, reference)).toBeGreaterThan(25);
  });

  test('the whole screen to a file: a higher quality is a larger file closer to the screen', async () => {
    const psnr: number[] = [];
    const sizes: number[] = [];
    for (const quality of ['40', '95']) {
      const file = join(folder, `${encoder}-${quality}.${format}`);
      const ran = await runXshot(['shot', file, '-q', quality, '--display', xvfb.display], env);
      expect(ran.code).toBe(0);
      expect(ran.stderr).toBe('');
      const written = readFileSync(file);
      sizes.push(written.length);
      psnr.push(await psnrOf(written, await importWindow(xvfb.display, 'root')));
    }
    // The test picture's fine colour detail is what 4:2:0 chroma loses at any quality (~25 dB at q95).
    expect(sizes[1]).toBeGreaterThan(sizes[0]! * 1.5);
    expect(psnr[1]).toBeGreaterThan(psnr[0]!);
  });
});

describe("TurboJPEG's encodeRGB (the stream's encoder, on a worker thread)", () => {
  const width = 320;
  const height = 200;
  const smooth = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) smooth.set([x & 0xff, y, (x + y) >> 1], (y * width + x) * 3);
  const png = () =>
    sharp(smooth, { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();

  test('overlapping calls each give a JPEG of its own picture, closer at a higher quality', async () => {
    const library = turboJPEG();
    if (library instanceof Error) throw library; // setup.sh installs libturbojpeg0
    const reversed = Buffer.from(smooth).reverse(); // another picture (BGR, upside down and mirrored)
    const [low, high, other] = await Promise.all([
      library.encodeRGB(smooth, width, height, 30),
      library.encodeRGB(smooth, width, height, 95),
      library.encodeRGB(reversed, width, height, 95),
    ]);
    for (const jpeg of [low, high, other]) expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const [psnrLow, psnrHigh, psnrOther] = [
      await psnrOf(low, await png()),
      await psnrOf(high, await png()),
      await psnrOf(other, await png()),
    ];
    expect(psnrHigh).toBeGreaterThan(35);
    expect(psnrLow).toBeLessThan(psnrHigh);
    expect(psnrOther).toBeLessThan(20); // not the first picture's bytes
    expect(high.length).toBeGreaterThan(low.length);
  });

  test('a bad size is an error, and the compressor is usable after it', async () => {
    const library = turboJPEG();
    if (library instanceof Error) throw library;
    await expect(library.encodeRGB(smooth, 0, height, 80)).rejects.toThrow(/tjCompress2 of 0x200 failed/);
    const jpeg = await library.encodeRGB(smooth, width, height, 90);
    expect(await psnrOf(jpeg, await png())).toBeGreaterThan(35);
  });
});
