// Memory shared beyond one image: the same image on two displays (mirroring without a copy), a caller's
// SysV segment captured into and put from at an offset, a shared pixmap, and the window helper's events.

import { execFileSync } from 'node:child_process';
import { Segment } from '@xshm/shm';
import { connect, type Display, startXvfb, toRGBA, type Xvfb } from '../src';
import { sessionOf } from '../src/session';
import { firstDifference, importRGB, makePicture, paintRoot, rgbOf } from './helpers';

let a: Xvfb;
let b: Xvfb;
let displayA: Display;
let displayB: Display;

beforeAll(async () => {
  [a, b] = await Promise.all([
    startXvfb({ width: 160, height: 120 }),
    startXvfb({ width: 160, height: 120 }),
  ]);
  paintRoot(a.display, makePicture(160, 120, 21));
  displayA = await connect({ display: a.display });
  displayB = await connect({ display: b.display });
});
afterAll(async () => {
  await displayA?.close();
  await displayB?.close();
  await a?.stop();
  await b?.stop();
});

test.each(['sysv', 'memfd'] as const)(
  '%s: an image attached on two displays mirrors A onto B with no copy',
  async (transport) => {
    const source = await connect({ display: a.display, transport });
    const image = source.createImage(100, 80);
    try {
      const onB = await displayB.attachImage(image);
      expect(onB.data.buffer).toBe(image.data.buffer); // the very same memory
      await image.get(source.root, 30, 20);
      await onB.put(displayB.root, { x: 5, y: 6 });
      const expected = importRGB(a.display, { x: 30, y: 20, width: 100, height: 80 });
      expect(
        firstDifference(importRGB(b.display, { x: 5, y: 6, width: 100, height: 80 }), expected, 100),
      ).toBeNull();
      onB.dispose();
      await expect(onB.put(displayB.root)).rejects.toThrow(/disposed/);
      await image.get(source.root); // the original is still attached on A
    } finally {
      image.dispose();
      await source.close();
    }
  },
);

test('a socket image cannot be attached elsewhere, and says why', async () => {
  const remoteLike = await connect({ display: a.display, transport: 'socket' });
  const image = remoteLike.createImage(4, 4);
  await expect(displayB.attachImage(image)).rejects.toThrow(
    /socket transport.*connect its display with transport "sysv" or "memfd"/,
  );
  await remoteLike.close();
});

test('captureInto / putFrom: a caller-owned segment at an offset', async () => {
  const segment = Segment.create(256 * 1024);
  const attachment = segment.attach();
  try {
    const onA = await displayA.attachSegment(segment);
    const onB = await displayB.attachSegment(segment, { readOnly: true });
    const offset = 4096 * 3;
    const layout = await displayA.captureInto(onA, offset, { x: 10, y: 12, width: 70, height: 50 });
    expect(layout).toMatchObject({ width: 70, height: 50, stride: 280 });
    const reference = importRGB(a.display, { x: 10, y: 12, width: 70, height: 50 });
    const pixels = attachment.buffer.subarray(offset, offset + layout.stride * layout.height);
    expect(firstDifference(rgbOf(toRGBA(pixels, layout)), reference, 70)).toBeNull();
    await displayB.putFrom(onB, offset, { width: 70, height: 50, x: 80, y: 60 });
    expect(
      firstDifference(importRGB(b.display, { x: 80, y: 60, width: 70, height: 50 }), reference, 70),
    ).toBeNull();
    await expect(displayA.captureInto(onA, 256 * 1024 - 100, { width: 70, height: 50 })).rejects.toThrow(
      RangeError,
    );
    // Read-only on B: the server may not write into it.
    await expect(displayB.captureInto(onB, 0, { width: 4, height: 4 })).rejects.toMatchObject({
      error: 'BadAccess',
      request: 'ShmGetImage',
    });
    onA.detach();
    onB.detach();
    await expect(displayB.putFrom(onB, 0, { width: 1, height: 1 })).rejects.toThrow(/detached/);
  } finally {
    attachment.detach();
    segment.destroy();
  }
});

test('createPixmap: X draws into the image memory, read without a request', async () => {
  expect(displayA.shm.sharedPixmaps).toBe(true);
  using image = displayA.createImage(32, 16);
  image.data.fill(0);
  const pixmap = await image.createPixmap();
  expect(await image.createPixmap()).toBe(pixmap);
  // CopyArea from the root into the shared pixmap: the pixels appear in image.data.
  const gc = sessionOf(displayA).wire.allocId();
  sessionOf(displayA).wire.client.CreateGC(gc, pixmap, {});
  (sessionOf(displayA).wire.client as unknown as { CopyArea(...args: number[]): void }).CopyArea(
    displayA.root,
    pixmap,
    gc,
    40,
    30,
    0,
    0,
    32,
    16,
  );
  await sessionOf(displayA).wire.sync();
  expect(
    firstDifference(rgbOf(image.toRGBA()), importRGB(a.display, { x: 40, y: 30, width: 32, height: 16 }), 32),
  ).toBeNull();
  sessionOf(displayA).wire.client.FreeGC(gc);
});

test('a socket display has no shared pixmaps and says so', async () => {
  const d = await connect({ display: a.display, transport: 'socket' });
  using image = d.createImage(4, 4);
  await expect(image.createPixmap()).rejects.toThrow(/socket transport/);
  await d.close();
});

test('createWindow: mapped with its title, expose and keypress events', async () => {
  const window = await displayB.createWindow({
    width: 64,
    height: 48,
    x: 10,
    y: 10,
    title: 'xshm test window',
  });
  // The first Expose arrives while createWindow is still waiting; it is held for listeners added right after.
  const exposed = await new Promise((resolve) => window.once('expose', resolve));
  expect(exposed).toMatchObject({ x: 0, y: 0, width: 64, height: 48 });
  const env = { ...process.env, DISPLAY: b.display };
  expect(
    execFileSync('xdotool', ['getwindowname', String(window.id)], { env })
      .toString()
      .trim(),
  ).toBe('xshm test window');
  const key = new Promise((resolve) => window.once('keypress', resolve));
  execFileSync('xdotool', ['key', '--window', String(window.id), 'q'], { env });
  expect(await key).toMatchObject({ key: 'q', keysym: 0x71 });

  await window.setTitle('renamed: ünïcode');
  const name = execFileSync('xdotool', ['getwindowname', String(window.id)], { env })
    .toString()
    .trim();
  expect(name).toBe('renamed: ünïcode');
  const resized = new Promise((resolve) => window.once('resize', resolve));
  window.resize(90, 30);
  expect(await resized).toEqual({ width: 90, height: 30 });
  expect(execFileSync('xwininfo', ['-id', String(window.id)], { env }).toString()).toMatch(
    /Width: 90\s+Height: 30/,
  );
  expect(() => window.resize(0, 10)).toThrow(RangeError);

  const closed = new Promise<void>((resolve) => window.once('close', () => resolve()));
  sessionOf(displayB).wire.client.DestroyWindow(window.id);
  await closed;
  window.destroy(); // already gone: a no-op
});
