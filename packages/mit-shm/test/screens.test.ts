// Several screens, monitors chosen by name, and window captures on a server without Composite, on real
// Xvfbs; pixels checked against ImageMagick (display paints, import reads).

import { connect, startXvfb } from '../src';
import { sessionOf } from '../src/session';
import {
  cropRGB,
  fileRGB,
  firstDifference,
  importRGB,
  makePicture,
  packRGB,
  paintRoot,
  rgbOf,
  setMonitor,
  spawnXvfb,
} from './helpers';

jest.setTimeout(30_000);

test("connect({ display: ':N.1' }) captures screen 1 of a two-screen Xvfb", async () => {
  const xvfb = await startXvfb({ width: 160, height: 100, depth: 24, screens: 2 });
  try {
    const one = makePicture(160, 100, 21);
    const zero = makePicture(160, 100, 22);
    paintRoot(`${xvfb.display}.1`, one);
    paintRoot(`${xvfb.display}.0`, zero);
    const d = await connect({ display: `${xvfb.display}.1` });
    try {
      const first = await connect({ display: xvfb.display });
      expect(d.root).not.toBe(first.root);
      await first.close();
      const frame = await d.capture();
      expect([frame.width, frame.height]).toEqual([160, 100]);
      expect(firstDifference(rgbOf(frame.toRGBA()), fileRGB(one), 160)).toBeNull();
    } finally {
      await d.close();
    }
  } finally {
    await xvfb.stop();
  }
});

test('a monitor is chosen by name as well as by index; an unknown name lists the names', async () => {
  const xvfb = await startXvfb({ width: 200, height: 100, depth: 24 });
  const d = await connect({ display: xvfb.display });
  try {
    const picture = makePicture(200, 100, 23);
    paintRoot(xvfb.display, picture);
    await setMonitor(d, 'RIGHT-HALF', 100, 0, 100, 100);
    const monitors = await d.monitors();
    const right = monitors.find((m) => m.name === 'RIGHT-HALF')!;
    const byName = await d.capture({ monitor: 'RIGHT-HALF' });
    const expected = cropRGB(fileRGB(picture), 200, { x: 100, y: 0, width: 100, height: 100 });
    expect(firstDifference(rgbOf(byName.toRGBA()), expected, 100)).toBeNull();
    expect(rgbOf((await d.capture({ monitor: right.index })).toRGBA()).equals(expected)).toBe(true);
    await expect(d.capture({ monitor: 'nowhere' })).rejects.toThrow(
      /monitor 'nowhere' does not exist.*'RIGHT-HALF'/,
    );
    await expect(d.capture({ monitor: '' })).rejects.toThrow(/must be an index .* or a monitor's name/);
  } finally {
    await d.close();
    await xvfb.stop();
  }
});

test('without Composite, a window partly off the screen gives its part on the screen and says why', async () => {
  const server = await spawnXvfb(['-extension', 'Composite', '-screen', '0', '200x150x24']);
  const d = await connect({ display: server.display });
  const owner = await connect({ display: server.display });
  try {
    const file = makePicture(100, 80, 24);
    const window = await owner.createWindow({ width: 100, height: 80, x: 150, y: 100, title: 'half out' });
    const image = owner.createImage(100, 80);
    packRGB(fileRGB(file), 100, 80, image.data, image.stride, image.format.bitsPerPixel);
    await image.put(window.id);
    const frame = await d.capture({ window: window.id });
    expect([frame.width, frame.height]).toEqual([50, 50]);
    expect(frame.reason).toMatch(
      /no Composite extension: this is the part of window 0x[0-9a-f]+ on the screen \(50x50\+0\+0 of 100x80\)/,
    );
    const onScreen = importRGB(server.display, { x: 150, y: 100, width: 50, height: 50 });
    expect(firstDifference(rgbOf(frame.toRGBA()), onScreen, 50)).toBeNull();
    expect(
      firstDifference(onScreen, cropRGB(fileRGB(file), 100, { x: 0, y: 0, width: 50, height: 50 }), 50),
    ).toBeNull();
    // Wholly off the screen: nothing to capture without Composite, and the message says so.
    (
      sessionOf(owner).wire.client as unknown as { MoveWindow(w: number, x: number, y: number): void }
    ).MoveWindow(window.id, 300, 300);
    await sessionOf(owner).wire.sync();
    await expect(d.capture({ window: window.id })).rejects.toThrow(/wholly off the screen.*no Composite/);
    image.dispose();
  } finally {
    await owner.close();
    await d.close();
    await server.stop();
  }
});

test('depth 16: a covered window partly off the screen comes back byte for byte as its owner drew it', async () => {
  const xvfb = await startXvfb({ width: 200, height: 150, depth: 16 });
  const owner = await connect({ display: xvfb.display });
  const d = await connect({ display: xvfb.display });
  try {
    const window = await owner.createWindow({ width: 120, height: 90, x: 130, y: 100, title: 'sixteen' });
    const image = owner.createImage(120, 90);
    packRGB(fileRGB(makePicture(120, 90, 25)), 120, 90, image.data, image.stride, image.format.bitsPerPixel);
    window.on('expose', () => void image.put(window.id).catch(() => {}));
    await image.put(window.id);
    const cover = await owner.createWindow({ width: 100, height: 100, x: 100, y: 80, title: 'cover' });
    await sessionOf(owner).wire.sync();
    const frame = await d.capture({ window: window.id });
    expect([frame.width, frame.height, frame.format.channels]).toEqual([120, 90, 'RGB565']);
    expect(frame.stride).toBe(image.stride);
    expect(Buffer.compare(frame.data, image.data)).toBe(0);
    cover.destroy();
    image.dispose();
  } finally {
    await d.close();
    await owner.close();
    await xvfb.stop();
  }
});
