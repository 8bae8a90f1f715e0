// The HTTP server, fan-out and pipeline of `xshot stream` over a FakeSource: no X needed.
import { createServer } from 'node:net';
import sharp from 'sharp';
import { ListenError, type StreamServer, startStreamServer } from '../src/web/server';
import { delay, FakeSource, fetchUrl, MjpegReader, noise } from './stream-helpers';

const WIDTH = 320;
const HEIGHT = 240;

let source: FakeSource;
let server: StreamServer;
let base: string;

async function start(
  options: { token?: string; probeMs?: number; width?: number; height?: number } = {},
): Promise<void> {
  source = new FakeSource(options.width ?? WIDTH, options.height ?? HEIGHT);
  source.paint({ r: 200, g: 30, b: 60 });
  server = await startStreamServer({
    source,
    port: 0,
    fps: 100,
    quality: 80,
    probeMs: options.probeMs ?? 200,
    ...(options.token ? { token: options.token } : {}),
  });
  base = `http://127.0.0.1:${server.port}`;
}

afterEach(async () => {
  await server?.close();
});

test('binds 127.0.0.1 by default and serves every endpoint with the right status and type', async () => {
  await start();
  expect(server.host).toBe('127.0.0.1');
  expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);

  const health = await fetchUrl(`${base}/healthz`);
  expect(health.status).toBe(200);

  const page = await fetchUrl(`${base}/`);
  expect(page.status).toBe(200);
  expect(page.headers['content-type']).toMatch(/^text\/html/);
  expect(page.body.toString()).toContain('stream.mjpeg');

  const jpeg = await fetchUrl(`${base}/frame.jpg`);
  expect(jpeg.status).toBe(200);
  expect(jpeg.headers['content-type']).toBe('image/jpeg');
  const jpegInfo = await sharp(jpeg.body).metadata();
  expect([jpegInfo.format, jpegInfo.width, jpegInfo.height]).toEqual(['jpeg', WIDTH, HEIGHT]);

  const png = await fetchUrl(`${base}/frame.png`);
  expect(png.status).toBe(200);
  expect(png.headers['content-type']).toBe('image/png');
  const decoded = await sharp(png.body).removeAlpha().raw().toBuffer();
  expect(decoded.equals(source.pixels())).toBe(true);

  const stats = await fetchUrl(`${base}/stats`);
  expect(stats.status).toBe(200);
  expect(stats.headers['content-type']).toBe('application/json');
  const json = JSON.parse(stats.body.toString());
  for (const key of ['fps', 'clients', 'captured', 'encoded', 'transport']) expect(json).toHaveProperty(key);
  expect(json.transport).toBe('test');
  expect(json.width).toBe(WIDTH);

  expect((await fetchUrl(`${base}/nothing-here`)).status).toBe(404);
  const post = await new Promise<number>((resolve, reject) => {
    const request = require('node:http').request(
      `${base}/stats`,
      { method: 'POST' },
      (response: { statusCode: number; resume(): void }) => {
        response.resume();
        resolve(response.statusCode);
      },
    );
    request.on('error', reject);
    request.end();
  });
  expect(post).toBe(405);
});

test('captures nothing while no viewer is connected', async () => {
  await start();
  source.paint({ r: 1, g: 2, b: 3 });
  await delay(400);
  expect(source.captures).toBe(0);
  expect(server.stats().captured).toBe(0);
});

test('with --token every endpoint but /healthz needs it, as ?token= or Authorization: Bearer', async () => {
  await start({ token: 's3cret' });
  expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=s3cret`);
  for (const path of ['/', '/stream.mjpeg', '/frame.jpg', '/frame.png', '/stats']) {
    const denied = await fetchUrl(`${base}${path}`);
    expect([path, denied.status]).toEqual([path, 401]);
    expect((await fetchUrl(`${base}${path}?token=wrong`)).status).toBe(401);
    expect((await fetchUrl(`${base}${path}`, { Authorization: 'Bearer wrong' })).status).toBe(401);
  }
  expect((await fetchUrl(`${base}/healthz`)).status).toBe(200);
  expect((await fetchUrl(`${base}/stats?token=s3cret`)).status).toBe(200);
  expect((await fetchUrl(`${base}/frame.jpg`, { Authorization: 'Bearer s3cret' })).status).toBe(200);
  const viewer = new MjpegReader(`${base}/stream.mjpeg?token=s3cret`);
  await viewer.waitForParts(1);
  expect(viewer.status).toBe(200);
  viewer.close();
});

test('a port in use is a ListenError that says what to do', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    await expect(
      startStreamServer({ source: new FakeSource(8, 8), port, fps: 10, quality: 80 }),
    ).rejects.toThrow(ListenError);
    await expect(
      startStreamServer({ source: new FakeSource(8, 8), port, fps: 10, quality: 80 }),
    ).rejects.toThrow(new RegExp(`port ${port} on 127.0.0.1 is in use — pick another with --port`));
  } finally {
    blocker.close();
  }
});

test('each change is captured and encoded once for all viewers; nothing is encoded while nothing changes', async () => {
  await start({ probeMs: 100 });
  const viewers = [0, 1, 2].map(() => new MjpegReader(`${base}/stream.mjpeg`));
  await Promise.all(viewers.map((viewer) => viewer.waitForParts(1)));
  expect(viewers[0]!.contentType).toBe('multipart/x-mixed-replace; boundary=xshotframe');
  const before = server.stats();

  const colours = [
    { r: 255, g: 0, b: 0 },
    { r: 0, g: 255, b: 0 },
    { r: 0, g: 0, b: 255 },
    { r: 255, g: 255, b: 0 },
  ];
  for (const [i, colour] of colours.entries()) {
    source.paint(colour);
    await Promise.all(viewers.map((viewer) => viewer.waitForParts(2 + i)));
  }
  const after = server.stats();
  expect(after.clients).toBe(3);
  expect(after.encoded - before.encoded).toBe(colours.length);
  expect(after.latencyMs).toBeGreaterThan(0);
  for (const viewer of viewers) {
    const last = await sharp(viewer.parts.at(-1)!.jpeg).raw().toBuffer();
    expect([...last.subarray(0, 3)].map((v) => Math.round(v / 16))).toEqual([16, 16, 0]);
  }

  // A still picture: probes capture now and then, nothing is encoded or sent.
  const still = server.stats();
  await delay(500);
  const later = server.stats();
  expect(later.encoded).toBe(still.encoded);
  expect(later.captured).toBeGreaterThan(still.captured);
  expect(viewers[0]!.parts.length).toBe(1 + colours.length);
  for (const viewer of viewers) viewer.close();
  await delay(50);
  expect(server.stats().clients).toBe(0);
});

test('50 viewers, 20 of them stalled: stalled ones skip frames, nothing queues, the others get the newest', async () => {
  // Frames of noise, ~1 MB as JPEG: enough to fill the stalled sockets' kernel buffers (several
  // MB on loopback) within a few dozen frames.
  const [width, height] = [1000, 700];
  const pictures = [noise(width * height * 3), noise(width * height * 3)];
  await start({ width, height });
  source.paint(pictures[0]!);
  const stalled = Array.from({ length: 20 }, () => new MjpegReader(`${base}/stream.mjpeg`));
  await Promise.all(stalled.map((viewer) => viewer.ready));
  for (const viewer of stalled) viewer.pause();
  const others = Array.from({ length: 29 }, () => new MjpegReader(`${base}/stream.mjpeg`));
  const live = new MjpegReader(`${base}/stream.mjpeg`);
  await Promise.all([live, ...others].map((viewer) => viewer.waitForParts(1)));

  let frameBytes = 0;
  for (let i = 0; i < 30; i++) {
    source.paint(pictures[(i + 1) % 2]!);
    await live.waitForParts(2 + i);
    frameBytes = Math.max(frameBytes, live.parts.at(-1)!.jpeg.length);
  }
  const stats = server.stats();
  expect(stats.clients).toBe(50);
  // The stalled sockets filled up, so frames were skipped rather than buffered: at most one
  // (partly sent) frame waits in each response.
  expect(stats.skipped).toBeGreaterThan(0);
  expect(stats.bufferedBytes).toBeLessThanOrEqual(50 * (frameBytes + 256));
  const newest = server.pipeline.newest!;
  expect(live.parts.at(-1)!.jpeg.equals(newest.jpeg)).toBe(true);
  // Every reading viewer ends on the newest frame, skipped frames or not.
  for (let i = 0; i < 50 && !others.every((v) => v.parts.at(-1)?.jpeg.equals(newest.jpeg)); i++)
    await delay(50);
  expect(others.filter((v) => !v.parts.at(-1)?.jpeg.equals(newest.jpeg))).toEqual([]);
  for (const viewer of [...stalled, ...others, live]) viewer.close();
}, 30_000);

test('a verification capture that finds a change DAMAGE never reported switches to polling', async () => {
  await start({ probeMs: 100 });
  const viewer = new MjpegReader(`${base}/stream.mjpeg`);
  await viewer.waitForParts(1);
  expect(server.stats().detection).toBe('damage');
  source.paint({ r: 9, g: 99, b: 199 }, { damage: false });
  await viewer.waitForParts(2);
  expect(source.fallbackReason).toMatch(/without any DAMAGE event/);
  expect(server.stats().detection).toBe('polling');
  // From now on changes show up without any damage report.
  source.paint({ r: 250, g: 250, b: 250 }, { damage: false });
  await viewer.waitForParts(3);
  viewer.close();
});

test('close() ends every viewer stream', async () => {
  await start();
  const viewer = new MjpegReader(`${base}/stream.mjpeg`);
  await viewer.waitForParts(1);
  await server.close();
  await delay(50);
  expect(viewer.ended).toBe(true);
});
