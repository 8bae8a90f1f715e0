// Pixels, byte for byte, against ImageMagick's `import` on a private Xvfb at depth 24 and 16:
// full screen, odd regions, a window, put read back; the three transports agree.

import { execFileSync } from 'node:child_process';
import { connect, type Display, type Frame, type ShmImage, type Strip, startXvfb, type Xvfb } from '../src';
import { toRGBA } from '../src/format';
import { sessionOf } from '../src/session';
import {
  cropRGB,
  fileRGB,
  firstDifference,
  importRGB,
  makePicture,
  packRGB,
  paintRoot,
  quantize565,
  rgbOf,
  setMonitor,
} from './helpers';

const WIDTH = 320;

/** The pixel bytes of each row, without the row padding (whose content X leaves undefined). */
function pixelBytes(frame: Frame): Buffer {
  const row = (frame.width * frame.format.bitsPerPixel) / 8;
  return Buffer.concat(
    Array.from({ length: frame.height }, (_, y) =>
      frame.data.subarray(y * frame.stride, y * frame.stride + row),
    ),
  );
}
const HEIGHT = 240;

describe.each([24, 16])('depth %i', (depth) => {
  let xvfb: Xvfb;
  const displays: Partial<Record<'sysv' | 'memfd' | 'socket', Display>> = {};
  /**
   * Our frame against import's RGB. At depth 24, RGB byte for byte. At depth 16 the server holds 5/6/5
   * bits: compare those exactly (import widens them with floor(v*255/max), toRGBA with bit replication,
   * as pixman and libpng do; the two differ by one in some values, and neither is the server's data).
   */
  const expectSame = (frame: Frame, reference: Buffer): void => {
    if (depth === 24) {
      expect(firstDifference(rgbOf(frame.toRGBA()), reference, frame.width)).toBeNull();
      return;
    }
    expect(
      firstDifference(quantize565(rgbOf(frame.toRGBA())), quantize565(reference), frame.width),
    ).toBeNull();
    const packed = Buffer.alloc(frame.stride * frame.height);
    packRGB(reference, frame.width, frame.height, packed, frame.stride, 16);
    for (let y = 0; y < frame.height; y++) {
      const row = (b: Buffer): Buffer => b.subarray(y * frame.stride, y * frame.stride + frame.width * 2);
      expect(row(frame.data).equals(row(packed))).toBe(true);
    }
  };

  const expectSameImage = (image: ShmImage, reference: Buffer): void => {
    const rgb = rgbOf(image.toRGBA());
    if (depth === 24) expect(firstDifference(rgb, reference, image.width)).toBeNull();
    else expect(firstDifference(quantize565(rgb), quantize565(reference), image.width)).toBeNull();
  };

  beforeAll(async () => {
    xvfb = await startXvfb({ width: WIDTH, height: HEIGHT, depth });
    paintRoot(xvfb.display, makePicture(WIDTH, HEIGHT));
    for (const transport of ['sysv', 'memfd', 'socket'] as const)
      displays[transport] = await connect({ display: xvfb.display, transport });
  });
  afterAll(async () => {
    for (const d of Object.values(displays)) await d?.close();
    await xvfb?.stop();
  });

  test('auto proves memfd first (a private descriptor, no public id) and reports the server', async () => {
    const d = await connect({ display: xvfb.display });
    try {
      expect(d.shm).toMatchObject({ available: true, transport: 'memfd', version: '1.2' });
      expect(d.shm.reason).toBeUndefined();
      expect(d.depth).toBe(depth);
      expect(d.format.channels).toBe(depth === 24 ? 'BGRX' : 'RGB565');
      expect(d.format.bitsPerPixel).toBe(depth === 24 ? 32 : 16);
    } finally {
      await d.close();
    }
  });

  test.each(['sysv', 'memfd', 'socket'] as const)('%s: full screen equals import', async (transport) => {
    const d = displays[transport]!;
    const frame = await d.capture();
    expect([frame.width, frame.height, frame.stride]).toEqual([
      WIDTH,
      HEIGHT,
      WIDTH * (depth === 24 ? 4 : 2),
    ]);
    expectSame(frame, importRGB(xvfb.display, { x: 0, y: 0, width: WIDTH, height: HEIGHT }));
  });

  const oddRegions = [
    { x: 0, y: 0, width: 1, height: 1 },
    { x: 319, y: 239, width: 1, height: 1 },
    { x: 7, y: 3, width: 33, height: 17 },
    { x: 101, y: 57, width: 219, height: 183 },
    { x: 0, y: 100, width: 320, height: 1 },
  ];
  test.each(oddRegions)('regions $width x $height + $x + $y: all transports equal import', async (region) => {
    const reference = importRGB(xvfb.display, region);
    const raw: Buffer[] = [];
    for (const transport of ['sysv', 'memfd', 'socket'] as const) {
      const frame = await displays[transport]!.capture(region);
      expectSame(frame, reference);
      raw.push(pixelBytes(frame));
    }
    // Same raw pixels too (the X byte of 32-bit pixels included; row padding is undefined).
    expect(raw[1]!.equals(raw[0]!)).toBe(true);
    expect(raw[2]!.equals(raw[0]!)).toBe(true);
  });

  test.each(['sysv', 'memfd', 'socket'] as const)('%s: put, read back with import', async (transport) => {
    const d = displays[transport]!;
    const picture = fileRGB(makePicture(90, 70, 11));
    const image = d.createImage(90, 70);
    try {
      packRGB(picture, 90, 70, image.data, image.stride, image.format.bitsPerPixel);
      await image.put(d.root, { x: 200, y: 150 });
      const back = importRGB(xvfb.display, { x: 200, y: 150, width: 90, height: 70 });
      if (depth === 16) expect(firstDifference(quantize565(back), quantize565(picture), 90)).toBeNull();
      else expect(firstDifference(back, picture, 90)).toBeNull();
      // A sub-rectangle to another place.
      await image.put(d.root, { x: 3, y: 4, srcX: 10, srcY: 20, width: 31, height: 13 });
      const part = importRGB(xvfb.display, { x: 3, y: 4, width: 31, height: 13 });
      const expected = cropRGB(picture, 90, { x: 10, y: 20, width: 31, height: 13 });
      if (depth === 16) expect(firstDifference(quantize565(part), quantize565(expected), 31)).toBeNull();
      else expect(firstDifference(part, expected, 31)).toBeNull();
      if (transport === 'socket') {
        // Strips: with a request limit of 1000 bytes the 90x70 image goes as many PutImage requests.
        const limit = sessionOf(d).wire.setup.max_request_length;
        sessionOf(d).wire.setup.max_request_length = 250;
        try {
          await image.put(d.root, { x: 100, y: 50 });
        } finally {
          sessionOf(d).wire.setup.max_request_length = limit;
        }
        const strips = importRGB(xvfb.display, { x: 100, y: 50, width: 90, height: 70 });
        if (depth === 16) expect(firstDifference(quantize565(strips), quantize565(picture), 90)).toBeNull();
        else expect(firstDifference(strips, picture, 90)).toBeNull();
      }
    } finally {
      image.dispose();
      // Restore the background for the other tests.
      paintRoot(xvfb.display, makePicture(WIDTH, HEIGHT));
    }
  });

  test.each(['sysv', 'memfd', 'socket'] as const)('%s: a window, its own coordinates', async (transport) => {
    const d = displays[transport]!;
    const window = await d.createWindow({ width: 120, height: 80, x: 40, y: 30, title: 'pixels' });
    const image = d.createImage(120, 80);
    try {
      packRGB(fileRGB(makePicture(120, 80, 5)), 120, 80, image.data, image.stride, image.format.bitsPerPixel);
      await image.put(window.id);
      const whole = await d.capture({ window: window.id });
      expect([whole.width, whole.height]).toEqual([120, 80]);
      expectSame(whole, importRGB(xvfb.display, { x: 0, y: 0, width: 120, height: 80 }, String(window.id)));
      const part = { x: 13, y: 9, width: 51, height: 33 };
      const frame = await d.capture({ window: window.id, ...part });
      expectSame(frame, importRGB(xvfb.display, part, String(window.id)));
    } finally {
      image.dispose();
      window.destroy();
      await sessionOf(d).wire.sync();
    }
  });

  /** The strips of one capture joined into one frame-like picture (strides equal, in order, no gaps). */
  const joinStrips = async (strips: AsyncIterable<Strip>): Promise<Frame> => {
    const parts: Buffer[] = [];
    let first: Strip | undefined;
    let previous: Strip | undefined;
    for await (const strip of strips) {
      first ??= strip;
      expect(strip.y).toBe(previous ? previous.y + previous.height : 0);
      // The strip before is no longer valid: its buffer is being filled again.
      if (previous && strip.y + strip.height < strip.regionHeight) expect(previous.valid).toBe(false);
      parts.push(Buffer.from(strip.data));
      previous = strip;
    }
    expect(previous!.y + previous!.height).toBe(previous!.regionHeight);
    const data = Buffer.concat(parts);
    const { width, stride, format } = first!;
    const height = previous!.regionHeight;
    return {
      width,
      height,
      stride,
      format,
      data,
      toRGBA: () => toRGBA(data, { width, height, stride, format }),
    } as Frame;
  };

  test.each(['sysv', 'memfd', 'socket'] as const)(
    '%s: strips of a region equal import, in order',
    async (transport) => {
      const d = displays[transport]!;
      const region = { x: 5, y: 11, width: 211, height: 157 };
      const reference = importRGB(xvfb.display, region);
      // 157 rows in strips of 10: fifteen of 10 and one of 7.
      expectSame(await joinStrips(d.strips({ ...region, rows: 10 })), reference);
      const whole = await joinStrips(d.strips());
      expectSame(whole, importRGB(xvfb.display, { x: 0, y: 0, width: WIDTH, height: HEIGHT }));
      expect(whole.height).toBe(HEIGHT);
    },
  );

  test('image.get fills an image; frames() delivers the same pixels', async () => {
    const d = displays.sysv!;
    using image = d.createImage(64, 48);
    await image.get(d.root, 20, 10);
    const reference = importRGB(xvfb.display, { x: 20, y: 10, width: 64, height: 48 });
    expectSameImage(image, reference);
    let count = 0;
    for await (const frame of d.frames({ x: 20, y: 10, width: 64, height: 48 })) {
      expectSame(frame, reference);
      if (++count === 5) break;
    }
    expect(count).toBe(5);
  });
});

test('monitors: RandR 1.5 monitors, a monitor captured equals import', async () => {
  const xvfb = await startXvfb({ width: 400, height: 150, depth: 24 });
  const d = await connect({ display: xvfb.display });
  try {
    paintRoot(xvfb.display, makePicture(400, 150, 3));
    await setMonitor(d, 'LEFT', 0, 0, 200, 150);
    await setMonitor(d, 'RIGHT', 200, 0, 200, 150);
    const monitors = await d.monitors();
    const right = monitors.find((m) => m.name === 'RIGHT');
    expect(right).toMatchObject({ x: 200, y: 0, width: 200, height: 150 });
    expect(monitors.find((m) => m.name === 'LEFT')).toMatchObject({ x: 0, y: 0, width: 200, height: 150 });
    const frame = await d.capture({ monitor: right!.index });
    expect(
      firstDifference(
        rgbOf(frame.toRGBA()),
        importRGB(xvfb.display, { x: 200, y: 0, width: 200, height: 150 }),
        200,
      ),
    ).toBeNull();
    const part = await d.capture({ monitor: right!.index, x: 10, y: 20, width: 30, height: 40 });
    expect(
      firstDifference(
        rgbOf(part.toRGBA()),
        importRGB(xvfb.display, { x: 210, y: 20, width: 30, height: 40 }),
        30,
      ),
    ).toBeNull();
    await expect(d.capture({ monitor: monitors.length })).rejects.toThrow(/does not exist/);
    await expect(d.capture({ monitor: right!.index, x: 190, width: 20 })).rejects.toThrow(RangeError);
  } finally {
    await d.close();
    await xvfb.stop();
  }
});

test('cursor: true draws the pointer (XFixes) where it is, and only there', async () => {
  const xvfb = await startXvfb({ width: 200, height: 150, depth: 24 });
  const d = await connect({ display: xvfb.display });
  try {
    paintRoot(xvfb.display, makePicture(200, 150, 4));
    execFileSync('xdotool', ['mousemove', '100', '70'], { env: { ...process.env, DISPLAY: xvfb.display } });
    const plain = Buffer.from((await d.capture()).data);
    const withCursor = Buffer.from((await d.capture({ cursor: true })).data);
    const changed: Array<[number, number]> = [];
    for (let i = 0; i < plain.length; i += 4)
      if (plain.readUInt32LE(i) !== withCursor.readUInt32LE(i))
        changed.push([(i / 4) % 200, Math.floor(i / 4 / 200)]);
    expect(changed.length).toBeGreaterThan(10);
    for (const [x, y] of changed) {
      expect(Math.abs(x - 100)).toBeLessThan(40);
      expect(Math.abs(y - 70)).toBeLessThan(40);
    }
    // A window capture places it relative to the window.
    const window = await d.createWindow({ width: 80, height: 60, x: 60, y: 40 });
    const inWindow = await d.capture({ window: window.id, cursor: true });
    const bare = await d.capture({ window: window.id });
    expect(inWindow.valid).toBe(false); // the second capture reused the memory
    expect(bare.data.length).toBe(80 * 60 * 4);
    window.destroy();
    // In strips (of 9 rows, so the cursor straddles several), the same picture as one capture.
    const stripped: Buffer[] = [];
    for await (const strip of d.strips({ cursor: true, rows: 9 })) stripped.push(Buffer.from(strip.data));
    expect(Buffer.concat(stripped).equals(withCursor)).toBe(true);
  } finally {
    await d.close();
    await xvfb.stop();
  }
});

test('strips: the server is held until the last strip is taken, and released by break and by errors', async () => {
  const xvfb = await startXvfb({ width: 64, height: 64, depth: 24 });
  const d = await connect({ display: xvfb.display });
  const other = await connect({ display: xvfb.display });
  const settledWithin = (promise: Promise<unknown>, ms: number): Promise<boolean> =>
    Promise.race([promise.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  try {
    let waiting: Promise<unknown> | undefined;
    for await (const strip of d.strips({ rows: 16 })) {
      if (strip.y === 0) {
        // Another client's request waits while we hold the server...
        waiting = other.capture();
        expect(await settledWithin(waiting, 300)).toBe(false);
      }
      if (strip.y === 32) break;
    }
    // ...and runs once the iteration has ended.
    expect(await settledWithin(waiting!, 5000)).toBe(true);
    // Bad rows and regions are RangeErrors before anything is sent.
    await expect(d.strips({ rows: 0 }).next()).rejects.toThrow(/rows=0 must be an integer between 1/);
    await expect(d.strips({ rows: 2.5 }).next()).rejects.toThrow(/rows=2.5/);
    await expect(d.strips({ y: 60, height: 10 }).next()).rejects.toThrow(/outside the root window/);
    // A window that vanished: the error comes out of the iteration and the server is free again.
    const window = await d.createWindow({ width: 20, height: 20 });
    const gone = window.id;
    window.destroy();
    await expect(d.strips({ window: gone, rows: 4 }).next()).rejects.toThrow(
      /BadWindow|BadDrawable|BadMatch/,
    );
    expect(await settledWithin(other.capture(), 5000)).toBe(true);
  } finally {
    await other.close();
    await d.close();
    await xvfb.stop();
  }
});
