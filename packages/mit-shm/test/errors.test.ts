// Failures are typed and say what to do: bad arguments before any request, X errors with the request
// name (the connection stays usable), a closed or unreachable display as XConnectionError.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { connect, type Display, startXvfb, XConnectionError, XError, type Xvfb } from '../src';
import { sessionOf } from '../src/session';

let xvfb: Xvfb;
let d: Display;

beforeAll(async () => {
  xvfb = await startXvfb({ width: 200, height: 100, depth: 24 });
  d = await connect({ display: xvfb.display });
});
afterAll(async () => {
  await d?.close();
  await xvfb?.stop();
});

const stillWorks = async (display: Display): Promise<void> => {
  const frame = await display.capture({ width: 10, height: 10 });
  expect(frame.data.length).toBe(10 * 10 * 4);
};

test('a bogus window is an XError naming the request, and the connection stays usable', async () => {
  const err = await d.capture({ window: 0x1fffff0 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XError);
  expect(err).toMatchObject({ request: 'GetWindowAttributes', badValue: 0x1fffff0, error: 'BadWindow' });
  await stillWorks(d);
});

test('an image.get on a window that vanished is an XError from ShmGetImage', async () => {
  const window = await d.createWindow({ width: 50, height: 40, title: 'vanishing' });
  using image = d.createImage(50, 40);
  await image.get(window.id);
  window.destroy();
  const err = await image.get(window.id).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XError);
  expect(err).toMatchObject({ request: 'ShmGetImage', badValue: window.id });
  expect((err as XError).message).toMatch(/does not exist/);
  await stillWorks(d);
});

test('a window that vanishes while frames() follows it ends the iteration quietly', async () => {
  const window = await d.createWindow({ width: 30, height: 30 });
  const seen: number[] = [];
  const run = (async () => {
    for await (const frame of d.frames({ window: window.id })) {
      seen.push(frame.width);
      window.destroy();
    }
  })();
  await expect(run).resolves.toBeUndefined();
  expect(seen).toEqual([30]);
  await stillWorks(d);
});

test('an unknown shared segment is BadShmSeg, named through the extension', async () => {
  const err = await sessionOf(d)
    .wire.shmGetImage(d.root, 0, 0, 1, 1, 0x1234567, 0)
    .catch((e: unknown) => e);
  expect(err).toMatchObject({
    name: 'XError',
    error: 'BadShmSeg',
    request: 'ShmGetImage',
    badValue: 0x1234567,
  });
  await stillWorks(d);
});

test('an unmapped window is a WindowNotViewableError saying to map it', async () => {
  const id = sessionOf(d).wire.allocId();
  sessionOf(d).wire.client.CreateWindow(id, d.root, 0, 0, 20, 20, 0, 0, 1, 0, {});
  const err = await d.capture({ window: id }).catch((e: unknown) => e);
  expect(err).toMatchObject({ name: 'WindowNotViewableError', window: id });
  expect((err as Error).message).toMatch(/is not viewable \(unmapped.*map it first/);
  sessionOf(d).wire.client.DestroyWindow(id);
  await stillWorks(d);
});

test('a region outside the screen is a RangeError naming the bounds, before any request', async () => {
  const sent = sessionOf(d).wire.client.seq_num;
  await expect(d.capture({ x: 150, width: 60 })).rejects.toThrow(
    /region 60x100\+150\+0 is outside the root window \(200x100\); x \+ width must be <= 200/,
  );
  await expect(d.capture({ y: -1 })).rejects.toThrow(RangeError);
  await expect(d.capture({ width: 0 })).rejects.toThrow(RangeError);
  expect(sessionOf(d).wire.client.seq_num).toBe(sent);
  expect(() => d.createImage(0, 10)).toThrow(RangeError);
  const image = d.createImage(10, 10);
  await expect(image.put(d.root, { srcX: 5, width: 6 })).rejects.toThrow(
    /width=6 must be an integer between 1 and 5/,
  );
  image.dispose();
  await expect(image.get(d.root)).rejects.toThrow(/disposed/);
  expect(() => image.data).toThrow(/disposed/);
});

test('a frame is unusable after release() and after its memory is reused', async () => {
  const first = await d.capture({ width: 4, height: 4 });
  expect(first.valid).toBe(true);
  const second = await d.capture({ width: 4, height: 4 });
  expect(second.valid).toBe(true);
  expect(() => first.data).toThrow(/released or its memory was reused/);
  second.release();
  expect(() => second.toRGBA()).toThrow(/released/);
});

test('a closed display rejects with XConnectionError', async () => {
  const other = await connect({ display: xvfb.display });
  const image = other.createImage(8, 8);
  await other.close();
  await expect(other.capture()).rejects.toBeInstanceOf(XConnectionError);
  await expect(other.capture()).rejects.toThrow(/is closed — connect\(\) again/);
  expect(() => other.createImage(1, 1)).toThrow(XConnectionError);
  expect(image.disposed).toBe(true);
});

test('a server that dies fails pending and later requests with XConnectionError', async () => {
  const server = await startXvfb({ width: 64, height: 64 });
  const doomed = await connect({ display: server.display });
  await doomed.capture();
  await server.stop();
  await expect(doomed.capture()).rejects.toBeInstanceOf(XConnectionError);
  await doomed.close();
});

test('no X server: a clear error naming the display', async () => {
  const err = await connect({ display: ':987' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XConnectionError);
  expect((err as XConnectionError).display).toBe(':987');
  expect((err as Error).message).toMatch(/cannot open X display :987.*no X server is listening/);
});

test('a display that never answers is an error after the timeout, not a hang', async () => {
  // A unix socket where an X server would be, that accepts and stays silent. The lock file keeps
  // Xvfb -displayfd from picking the same number meanwhile.
  const number = [...Array(100).keys()].map((i) => 900 + i).find((n) => !existsSync(`/tmp/.X${n}-lock`))!;
  const lock = `/tmp/.X${number}-lock`;
  const socketPath = `/tmp/.X11-unix/X${number}`;
  writeFileSync(lock, `${String(process.pid).padStart(10)}\n`, { flag: 'wx' });
  const accepted: Socket[] = [];
  const server: Server = createServer((socket) => accepted.push(socket));
  try {
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const err = await connect({ display: `:${number}`, timeout: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XConnectionError);
    expect((err as Error).message).toMatch(new RegExp(`X display :${number} did not answer within 0.3 s`));
  } finally {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(socketPath, { force: true });
    rmSync(lock, { force: true });
  }
});

test('transport choice: option, XSHM_TRANSPORT, and a bad value', async () => {
  const saved = process.env.XSHM_TRANSPORT;
  try {
    process.env.XSHM_TRANSPORT = 'memfd';
    const viaEnv = await connect({ display: xvfb.display });
    expect(viaEnv.shm.transport).toBe('memfd');
    // Shared memory needs no BIG-REQUESTS: the plain 256 KiB limit stays (no round trips spent on it).
    expect(sessionOf(viaEnv).wire.setup.max_request_length).toBe(0xffff);
    await viaEnv.close();
    const viaOption = await connect({ display: xvfb.display, transport: 'socket' });
    expect(viaOption.shm).toMatchObject({ transport: 'socket', available: false });
    // The socket transport enables BIG-REQUESTS: Xvfb allows 4M words (16 MiB).
    expect(sessionOf(viaOption).wire.setup.max_request_length).toBe(4194303);
    await viaOption.close();
    process.env.XSHM_TRANSPORT = 'carrier-pigeon';
    await expect(connect({ display: xvfb.display })).rejects.toThrow(
      /XSHM_TRANSPORT.*must be one of auto, sysv/,
    );
  } finally {
    if (saved === undefined) delete process.env.XSHM_TRANSPORT;
    else process.env.XSHM_TRANSPORT = saved;
  }
});

test('no DISPLAY at all says how to fix it', async () => {
  const saved = process.env.DISPLAY;
  delete process.env.DISPLAY;
  try {
    await expect(connect()).rejects.toThrow(/DISPLAY is not set/);
  } finally {
    if (saved !== undefined) process.env.DISPLAY = saved;
  }
});
