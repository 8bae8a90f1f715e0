// `xshot stream` against a real Xvfb (1920x1080x24, and 16-bit for the pixel check): pixels of
// /frame.png against ImageMagick's `import`, frames while the screen changes, no encodes while it
// does not, nothing captured without a viewer, segments released, and the viewer page in Chromium.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Display, type ShmImage } from '@xshm/mit-shm';
import sharp from 'sharp';
import { openDisplaySource } from '../src/web/open-display';
import { type StreamServer, startStreamServer } from '../src/web/server';
import type { XSource } from '../src/web/x-source';
import {
  delay,
  fetchUrl,
  launchChromium,
  MjpegReader,
  run,
  segmentsCreatedBy,
  startTestXvfb,
  type TestXvfb,
} from './stream-helpers';

jest.setTimeout(30_000);

const WIDTH = 1920;
const HEIGHT = 1080;

let xvfb: TestXvfb;
let painter: Display;
let canvas: ShmImage;

/** Fills the whole root window with one colour, or with a pattern seeded by `seed`, via ShmPutImage. */
async function paint(colour: { r: number; g: number; b: number } | { seed: number }): Promise<void> {
  const words = new Uint32Array(canvas.data.buffer, canvas.data.byteOffset, (canvas.stride / 4) * HEIGHT);
  const rowWords = canvas.stride / 4;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      let pixel: number;
      if ('seed' in colour) {
        const s = colour.seed;
        pixel = (((x * 7 + s * 31) & 255) << 16) | (((y * 3 + s * 17) & 255) << 8) | ((x ^ y ^ s) & 255);
      } else {
        pixel = (colour.r << 16) | (colour.g << 8) | colour.b;
      }
      words[y * rowWords + x] = pixel;
    }
  }
  await canvas.put(painter.root);
}

/** The root window as packed RGB, read by ImageMagick. */
async function importRoot(display: string): Promise<Buffer> {
  return run('import', ['-window', 'root', '-depth', '8', 'rgb:-'], { DISPLAY: display });
}

beforeAll(async () => {
  xvfb = await startTestXvfb(WIDTH, HEIGHT, 24);
  painter = await connect({ display: xvfb.display });
  canvas = painter.createImage(WIDTH, HEIGHT);
  await paint({ r: 10, g: 20, b: 30 });
});

afterAll(async () => {
  canvas?.dispose();
  await painter?.close();
  await xvfb?.stop();
});

describe('serving a 1920x1080 display', () => {
  let source: XSource;
  let server: StreamServer;
  let base: string;
  let segmentsBefore: number[];

  beforeAll(async () => {
    segmentsBefore = await segmentsCreatedBy(process.pid);
    source = await openDisplaySource({ display: xvfb.display });
    server = await startStreamServer({ source, port: 0, fps: 30, quality: 80 });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.close();
    await source?.close();
  });

  test('captures nothing while no viewer is connected, even when the screen changes', async () => {
    expect(source.detection).toBe('damage');
    await paint({ r: 200, g: 100, b: 50 });
    await delay(300);
    expect(server.stats().captured).toBe(0);
  });

  test('/frame.png has exactly the pixels ImageMagick import reads', async () => {
    await paint({ seed: 5 });
    const png = await fetchUrl(`${base}/frame.png`);
    expect(png.status).toBe(200);
    const served = await sharp(png.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([served.info.width, served.info.height]).toEqual([WIDTH, HEIGHT]);
    const imported = await importRoot(xvfb.display);
    expect(imported.length).toBe(WIDTH * HEIGHT * 3);
    expect(served.data.equals(imported)).toBe(true);
  });

  test('every change reaches /stream.mjpeg; a still screen is neither encoded nor sent', async () => {
    const viewer = new MjpegReader(`${base}/stream.mjpeg`);
    await viewer.waitForParts(1);
    const colours = [
      { r: 255, g: 0, b: 0 },
      { r: 0, g: 255, b: 0 },
      { r: 0, g: 0, b: 255 },
      { r: 255, g: 255, b: 255 },
      { r: 128, g: 64, b: 32 },
    ];
    for (const [i, colour] of colours.entries()) {
      await paint(colour);
      await viewer.waitForParts(2 + i);
    }
    const last = await sharp(viewer.parts.at(-1)!.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([last.info.width, last.info.height]).toEqual([WIDTH, HEIGHT]);
    const centre = ((HEIGHT / 2) * WIDTH + WIDTH / 2) * 3;
    expect([...last.data.subarray(centre, centre + 3)].map((v) => Math.round(v / 8))).toEqual([16, 8, 4]);

    const still = server.stats();
    expect(still.detection).toBe('damage');
    // Wait for the pipeline's next check of the still screen (a capture that finds it unchanged), not
    // for a fixed time: then nothing was encoded or sent for it.
    await waitUntil(async () => server.stats().unchanged > still.unchanged);
    const later = server.stats();
    expect(later.encoded).toBe(still.encoded);
    expect(viewer.parts.length).toBe(1 + colours.length);
    viewer.close();
  });

  test('the viewer page in headless Chromium shows the live picture at 1920x1080', async () => {
    const { browser, close } = await launchChromium({ width: 960, height: 540 });
    try {
      const page = await browser.newPage();
      await paint({ r: 0, g: 200, b: 0 });
      // Not 'load': the page's picture is an endless response.
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      // Page-side code is passed as strings: this package's TypeScript has no DOM types.
      await page.waitForFunction(`document.getElementById('screen').naturalWidth > 0`);
      const size = await page.evaluate(`(() => {
        const img = document.getElementById('screen');
        return [img.naturalWidth, img.naturalHeight, img.clientWidth, img.clientHeight];
      })()`);
      expect(size).toEqual([WIDTH, HEIGHT, 960, 540]);
      // What a person sees: the page's own rendering, read back from a screenshot.
      const centreColour = async (): Promise<number[]> => {
        const shot = await sharp(await page.screenshot())
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true });
        const centre = ((shot.info.height >> 1) * shot.info.width + (shot.info.width >> 1)) * 3;
        return [...shot.data.subarray(centre, centre + 3)];
      };
      const isNear = (target: number[]) => async () =>
        (await centreColour()).every((v, i) => Math.abs(v - target[i]!) < 12);
      await waitUntil(isNear([0, 200, 0]));
      // Live: a change on the X screen shows up in the page without a reload.
      await paint({ r: 220, g: 0, b: 220 });
      await waitUntil(isNear([220, 0, 220]));
      await page.waitForFunction(
        `/1920\u00d71080 \u00b7 [\\d.]+ fps \u00b7 (sysv|memfd|socket)/.test(document.getElementById('status').textContent)`,
      );

      // The server goes away: the page says so.
      await server.close();
      await page.waitForFunction(`document.body.dataset.state === 'stopped'`, undefined, { timeout: 10_000 });
      expect(await page.isVisible('#message')).toBe(true);
    } finally {
      await close();
    }
  });

  test('closing the source releases every segment it used', async () => {
    await source.close();
    let left: number[] = [];
    for (let i = 0; i < 20; i++) {
      left = (await segmentsCreatedBy(process.pid)).filter((id) => !segmentsBefore.includes(id));
      if (left.length === 0) break;
      await delay(100);
    }
    expect(left).toEqual([]);
  });
});

test('--region streams that rectangle only, pixel for pixel', async () => {
  await paint({ seed: 9 });
  const region = { x: 101, y: 57, width: 333, height: 211 };
  const source = await openDisplaySource({ display: xvfb.display, area: { region } });
  const server = await startStreamServer({ source, port: 0, fps: 30, quality: 80 });
  try {
    expect([source.width, source.height]).toEqual([region.width, region.height]);
    const png = await fetchUrl(`http://127.0.0.1:${server.port}/frame.png`);
    const served = await sharp(png.body).removeAlpha().raw().toBuffer();
    const crop = `${region.width}x${region.height}+${region.x}+${region.y}`;
    const imported = await run('import', ['-window', 'root', '-crop', crop, '-depth', '8', 'rgb:-'], {
      DISPLAY: xvfb.display,
    });
    expect(served.equals(imported)).toBe(true);
  } finally {
    await server.close();
    await source.close();
  }
});

test('without DAMAGE it polls: changes still stream, a still screen is captured but not encoded', async () => {
  // A server without the extension (Xvfb -extension DAMAGE), so mit-shm's watch falls back to polling.
  const plain = await startTestXvfb(320, 200, 24, ['-extension', 'DAMAGE']);
  const plainPainter = await connect({ display: plain.display });
  const picture = plainPainter.createImage(320, 200);
  const source = await openDisplaySource({ display: plain.display });
  const server = await startStreamServer({ source, port: 0, fps: 20, quality: 80 });
  const viewer = new MjpegReader(`http://127.0.0.1:${server.port}/stream.mjpeg`);
  try {
    expect(source.detection).toBe('polling');
    expect(source.pollingReason).toMatch(/no DAMAGE/);
    await viewer.waitForParts(1);
    picture.data.fill(0xc8);
    await picture.put(plainPainter.root);
    await viewer.waitForParts(2);
    const still = server.stats();
    // Polling keeps capturing a still screen (three captures, however long they take) and encodes none.
    await waitUntil(async () => server.stats().unchanged - still.unchanged >= 3);
    expect(server.stats().encoded).toBe(still.encoded);
  } finally {
    viewer.close();
    await server.close();
    await source.close();
    picture.dispose();
    await plainPainter.close();
    await plain.stop();
  }
});

test('--cursor: moving the pointer alone (no damage) shows in the stream', async () => {
  await paint({ r: 90, g: 90, b: 90 });
  await run('xdotool', ['mousemove', '200', '200'], { DISPLAY: xvfb.display });
  const source = await openDisplaySource({ display: xvfb.display, area: { cursor: true } });
  const server = await startStreamServer({ source, port: 0, fps: 30, quality: 80, pollEveryFrame: true });
  const viewer = new MjpegReader(`http://127.0.0.1:${server.port}/stream.mjpeg`);
  try {
    await viewer.waitForParts(1);
    await delay(300);
    const still = server.stats().encoded;
    await run('xdotool', ['mousemove', '900', '700'], { DISPLAY: xvfb.display });
    await viewer.waitForParts(2);
    expect(server.stats().encoded).toBe(still + 1);
    expect(server.stats().detection).toBe('damage');
  } finally {
    viewer.close();
    await server.close();
    await source.close();
  }
});

test('/frame.png is exact at depth 16 too', async () => {
  const small = await startTestXvfb(320, 200, 16);
  try {
    const picture = await run('convert', [
      '-size',
      '320x200',
      'gradient:yellow-blue',
      '-depth',
      '8',
      'png:-',
    ]);
    const file = join(tmpdir(), `xshot-stream-${process.pid}.png`);
    require('node:fs').writeFileSync(file, picture);
    await run('display', ['-window', 'root', file], { DISPLAY: small.display }, { ignoreStatus: true });
    rmSync(file, { force: true });
    const source = await openDisplaySource({ display: small.display });
    const server = await startStreamServer({ source, port: 0, fps: 30, quality: 80 });
    try {
      const png = await fetchUrl(`http://127.0.0.1:${server.port}/frame.png`);
      const served = await sharp(png.body).removeAlpha().raw().toBuffer();
      const imported = await importRoot(small.display);
      // ImageMagick widens 5/6-bit channels as floor(v * 255 / max), we by bit replication (as X servers
      // and pixman do): the same pixel bits, so compare those, then check our widening of them exactly.
      const bits = (rgb: Buffer) => Buffer.from(rgb.map((v, i) => (i % 3 === 1 ? v >> 2 : v >> 3)));
      expect(bits(served).equals(bits(imported))).toBe(true);
      const replicated = bits(served).map((v, i) =>
        i % 3 === 1 ? (v << 2) | (v >> 4) : (v << 3) | (v >> 2),
      );
      expect(served.equals(replicated)).toBe(true);
    } finally {
      await server.close();
      await source.close();
    }
  } finally {
    await small.stop();
  }
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(100);
  }
}
