// The HTTP server, fan-out and pipeline of `xshot stream` over a FakeSource: no X needed.
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import {
  accessCheck,
  generateToken,
  ListenError,
  type ServerLimits,
  type StreamServer,
  type StreamStats,
  startStreamServer,
} from '../src/web/server';
import { delay, FakeSource, fetchUrl, MjpegReader, noise, RawClient, waitUntil } from './stream-helpers';

const WIDTH = 320;
const HEIGHT = 240;

let source: FakeSource;
let server: StreamServer;
let base: string;

async function start(
  options: {
    token?: string;
    probeMs?: number;
    width?: number;
    height?: number;
    host?: string;
    limits?: Partial<ServerLimits>;
  } = {},
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
    ...(options.host ? { host: options.host } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
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
  await waitUntil(() => server.stats().captured >= still.captured + 2, 'two verification captures');
  expect(server.stats().encoded).toBe(still.encoded);
  expect(viewers[0]!.parts.length).toBe(1 + colours.length);
  for (const viewer of viewers) viewer.close();
  await waitUntil(() => server.stats().clients === 0, 'the server to see every viewer go');
});

test.each([
  ['libjpeg-turbo', undefined],
  ['sharp (libjpeg-turbo missing)', '/nonexistent/libturbojpeg.so.0'],
])('frames are encoded through %s, with the pixels of the picture', async (_encoder, library) => {
  const saved = process.env.XSHOT_TURBOJPEG;
  if (library) process.env.XSHOT_TURBOJPEG = library;
  try {
    await start();
    const viewer = new MjpegReader(`${base}/stream.mjpeg`);
    await viewer.waitForParts(1);
    source.paint({ r: 20, g: 140, b: 250 });
    await viewer.waitForParts(2);
    const { data, info } = await sharp(viewer.parts.at(-1)!.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([WIDTH, HEIGHT]);
    // A flat colour comes back within JPEG's rounding (a few levels) everywhere.
    const painted = [20, 140, 250];
    for (const offset of [0, data.length / 2, data.length - 3])
      for (const [channel, value] of painted.entries())
        expect(Math.abs(data[offset + channel]! - value)).toBeLessThanOrEqual(4);
    viewer.close();
  } finally {
    if (saved === undefined) delete process.env.XSHOT_TURBOJPEG;
    else process.env.XSHOT_TURBOJPEG = saved;
  }
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
}, 60_000);

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
  await waitUntil(() => viewer.ended, 'the viewer to see its stream end');
});

describe('access: Host, Origin and token', () => {
  test('a wrong token costs no capture and no encode: /frame.png is refused before any work', async () => {
    await start({ token: 's3cret' });
    const refused = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetchUrl(`${base}/frame.png${i % 2 ? '?token=s3cre' : '?token=s3cretX'}`),
      ),
    );
    expect(refused.map((response) => response.status)).toEqual(Array(20).fill(401));
    expect(refused[0]!.headers['www-authenticate']).toBe('Bearer realm="xshot"');
    const stats = server.stats();
    expect([source.captures, stats.captured, stats.pngEncoded, stats.pictureRequests]).toEqual([0, 0, 0, 0]);
    expect((await fetchUrl(`${base}/frame.png?token=s3cret`)).status).toBe(200);
    expect(source.captures).toBe(1);
  });

  test('a Host that is not this server (DNS rebinding) is refused with 403 on every endpoint', async () => {
    await start({ token: 's3cret' });
    for (const host of [
      'evil.example',
      `evil.example:${server.port}`,
      '192.168.1.10',
      'localhost.evil.example',
    ]) {
      for (const path of ['/healthz', '/?token=s3cret', '/frame.png?token=s3cret', '/stats?token=s3cret']) {
        const refused = await fetchUrl(`${base}${path}`, { Host: host });
        expect([host, path, refused.status]).toEqual([host, path, 403]);
        expect(refused.body.toString()).toMatch(/is not this server's address.*DNS rebinding/);
      }
    }
    for (const host of [
      `127.0.0.1:${server.port}`,
      `localhost:${server.port}`,
      'LOCALHOST',
      `[::1]:${server.port}`,
      '127.0.0.2',
    ]) {
      expect([host, (await fetchUrl(`${base}/stats?token=s3cret`, { Host: host })).status]).toEqual([
        host,
        200,
      ]);
    }
    expect(source.captures).toBe(0);
  });

  test("a request from a page elsewhere (Origin) is refused; the server's own origin is not", async () => {
    await start();
    const own = `http://127.0.0.1:${server.port}`;
    expect((await fetchUrl(`${base}/frame.jpg`, { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await fetchUrl(`${base}/frame.jpg`, { Origin: 'null' })).status).toBe(403);
    expect((await fetchUrl(`${base}/stats`, { Origin: own })).status).toBe(200);
  });

  test('bound to every address, any IP address is a fine Host, a name is not', async () => {
    await start({ host: '0.0.0.0' });
    expect((await fetchUrl(`${base}/stats`, { Host: `10.1.2.3:${server.port}` })).status).toBe(200);
    expect((await fetchUrl(`${base}/stats`, { Host: '[fe80::1]' })).status).toBe(200);
    expect((await fetchUrl(`${base}/stats`, { Host: 'attacker.example' })).status).toBe(403);
  });

  test('a name given as --host is a fine Host; the check is the one exported for upgrades', () => {
    const check = accessCheck({ host: 'mybox.lan', token: 'abc' });
    const request = (headers: Record<string, string>): IncomingMessage => ({ headers }) as IncomingMessage;
    const url = (query: string): URL => new URL(`/stats${query}`, 'http://localhost');
    expect(check(request({ host: 'mybox.lan:8080' }), url('?token=abc'))).toBeNull();
    expect(check(request({ host: 'MyBox.LAN.' }), url('?token=abc'))).toBeNull();
    expect(check(request({ host: 'otherbox.lan' }), url('?token=abc'))?.status).toBe(403);
    expect(check(request({ host: 'mybox.lan', authorization: 'Bearer abc' }), url(''))).toBeNull();
    expect(check(request({ host: 'mybox.lan' }), url('?token=ab'))?.status).toBe(401);
    expect(check(request({ host: 'mybox.lan' }), url('?token=abcd'))?.status).toBe(401);
    expect(check(request({ host: 'bad host' }), url('?token=abc'))?.status).toBe(403);
  });

  test('generated tokens are URL-safe, long and different each time', () => {
    const tokens = new Set(Array.from({ length: 50 }, () => generateToken()));
    expect(tokens.size).toBe(50);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(encodeURIComponent(token)).toBe(token);
    }
  });

  test('upgrades are refused without a handler, and reach one only past the same checks', async () => {
    await start({ token: 's3cret' });
    const upgrade = (path: string, host = `127.0.0.1:${server.port}`): string =>
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
    const none = new RawClient(server.port, upgrade('/ws?token=s3cret'));
    await none.whenClosed('a refused upgrade to be closed');
    expect(none.status).toBe(400);

    const reached: string[] = [];
    server.onUpgrade((request, socket) => {
      reached.push(request.url ?? '');
      socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    });
    const noToken = new RawClient(server.port, upgrade('/ws'));
    const rebound = new RawClient(server.port, upgrade('/ws?token=s3cret', 'evil.example'));
    const good = new RawClient(server.port, upgrade('/ws?token=s3cret'));
    await Promise.all([noToken, rebound, good].map((client) => client.whenClosed('the upgrade answers')));
    expect([noToken.status, rebound.status, good.status]).toEqual([401, 403, 101]);
    expect(reached).toEqual(['/ws?token=s3cret']);
  });

  test('the viewer page works with the token in its URL: picture and status line', async () => {
    const token = generateToken();
    await start({ token });
    const userDataDir = mkdtempSync(join(tmpdir(), 'xshot-chromium-'));
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    try {
      const page = await browser.newPage();
      const statuses: number[] = [];
      page.on('response', (response) => statuses.push(response.status()));
      // Not 'load': the page's picture is an endless response.
      await page.goto(server.url, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction(`document.getElementById('screen').naturalWidth === ${WIDTH}`);
      await page.waitForFunction(
        `/^320\u00d7240 \u00b7/.test(document.getElementById('status').textContent)`,
      );
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(server.stats().clients).toBe(1);
    } finally {
      await browser.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('hostile clients: malformed requests, floods, idle connections', () => {
  const openClients: RawClient[] = [];
  afterEach(() => {
    for (const client of openClients.splice(0)) client.destroy();
  });
  const client = (request: string, options: { read?: boolean } = {}): RawClient => {
    const opened = new RawClient(server.port, request, options);
    openClients.push(opened);
    return opened;
  };
  const statsOverHttp = async (): Promise<StreamStats> =>
    JSON.parse((await fetchUrl(`${base}/stats`)).body.toString()) as StreamStats;

  test('a malformed request target is 400, not 503', async () => {
    await start();
    const bad = client('GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await bad.whenClosed('the answer to GET http://[');
    expect(bad.status).toBe(400);
    expect(bad.received).toContain('malformed request target: "http://["');
    expect(source.captures).toBe(0);
  });

  const pngRequest = (): string => `GET /frame.png HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`;

  test('1000 non-reading /frame.png clients: one capture and encode per batch, bounded in flight, 503 beyond', async () => {
    const [width, height] = [1600, 1500];
    const limits = { maxPictureRequests: 16, maxConnections: 2000, stallTimeoutMs: 120_000 };
    await start({ width, height, limits });
    source.paint(noise(width * height * 3));
    source.holdCaptures();
    // In batches, each counted by the server before the next: a burst of 1000 overflows the listen
    // backlog, and the kernel's SYN-ACK retries would then spread the requests over many seconds.
    const flood: RawClient[] = [];
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 100; i++) flood.push(client(pngRequest(), { read: false }));
      await waitUntil(
        () => {
          const stats = server.stats();
          return stats.pictureRequests + stats.refusedBusy === flood.length;
        },
        `the server to admit or refuse ${flood.length} requests`,
        30_000,
      );
    }
    const held = await statsOverHttp();
    expect(held.pictureRequests).toBe(limits.maxPictureRequests);
    expect(held.refusedBusy).toBe(flood.length - limits.maxPictureRequests);
    expect(held.pngEncoded).toBe(0);

    // The first request's capture and the one all others share (they came while it ran): two.
    source.releaseCaptures();
    await waitUntil(() => server.stats().pngEncoded === 2, 'the two PNG encodes');
    await waitUntil(() => server.stats().pictureBytes > 0, 'the pictures to be sent');
    const sending = await statsOverHttp();
    expect(source.captures).toBe(2);
    expect(sending.pngEncoded).toBe(2);
    expect(sending.pictureRequests).toBeLessThanOrEqual(limits.maxPictureRequests);
    // A noise PNG is about its raw size: never more than maxPictureRequests of them held.
    expect(sending.pictureBytes).toBeLessThanOrEqual(
      limits.maxPictureRequests * (3 * width * height + 65536),
    );

    for (const c of flood) c.destroy();
    await waitUntil(() => server.stats().pictureRequests === 0, 'the budget to be given back');
    expect((await statsOverHttp()).pictureBytes).toBe(0);
    const png = await fetchUrl(`${base}/frame.png`);
    expect(png.status).toBe(200);
    const decoded = await sharp(png.body).removeAlpha().raw().toBuffer();
    expect(decoded.equals(source.pixels())).toBe(true);
  }, 120_000);

  test('a /frame.png response whose client takes nothing for stallTimeoutMs loses its socket', async () => {
    // Noise compresses to nothing: each PNG is ~7 MB, more than loopback buffers take from a
    // client that never reads, so those responses stay in flight until stallTimeoutMs ends them.
    const [width, height] = [1600, 1500];
    await start({ width, height, limits: { stallTimeoutMs: 1000 } });
    source.paint(noise(width * height * 3));
    for (let i = 0; i < 8; i++) client(pngRequest(), { read: false });
    await waitUntil(() => server.stats().stallTimeouts > 0, 'a stall timeout', 30_000);
    await waitUntil(() => server.stats().pictureRequests === 0, 'every stalled response to end', 30_000);
    const after = await statsOverHttp();
    expect(after.pictureBytes).toBe(0);
    expect((await fetchUrl(`${base}/frame.png`)).status).toBe(200);
  }, 60_000);

  test('past the busy limit the answer is 503 with Retry-After', async () => {
    await start({ limits: { maxPictureRequests: 1 } });
    source.holdCaptures();
    const first = client(`GET /frame.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await waitUntil(() => server.stats().pictureRequests === 1, 'the first request to be admitted');
    const busy = await fetchUrl(`${base}/frame.jpg`);
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    source.releaseCaptures();
    await waitUntil(() => first.status === 200, 'the first request to be answered');
  });

  test('connections past maxConnections are closed at once; the others are served', async () => {
    await start({ limits: { maxConnections: 5 } });
    const idle = Array.from({ length: 5 }, () => client(''));
    await Promise.all(idle.map((c) => c.connected));
    await waitUntil(() => server.stats().connections === 5, 'five open connections');
    const extra = client(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await extra.whenClosed('the sixth connection to be closed');
    expect(extra.received).toBe('');
    expect(server.stats().droppedConnections).toBe(1);
    idle[0]!.destroy();
    await waitUntil(() => server.stats().connections === 4, 'one connection to go');
    expect((await fetchUrl(`${base}/healthz`)).status).toBe(200);
  });

  test('a connection that sends no whole header, or idles after a response, is closed', async () => {
    await start({ limits: { headersTimeoutMs: 300, keepAliveTimeoutMs: 300 } });
    const silent = client('');
    const partial = client(`GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    const keptAlive = client(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await Promise.all([
      silent.whenClosed('a silent connection to be closed'),
      partial.whenClosed('a connection with half a header to be closed'),
      keptAlive.whenClosed('an idle keep-alive connection to be closed'),
    ]);
    expect(partial.status).toBe(408);
    expect(keptAlive.status).toBe(200);
    await waitUntil(() => server.stats().connections === 0, 'no connection left');
  });
});
