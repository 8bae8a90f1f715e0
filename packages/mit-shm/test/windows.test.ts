// Windows as users see them, on a real Xvfb: display.windows() against xprop and xwininfo, and window
// captures (Composite) of windows covered by others and past the screen's edge, checked pixel for pixel
// against the pictures they show (ImageMagick `display`, or a client of ours repainting on Expose).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect, type Display, type Frame, startXvfb, XError, type Xvfb, type XWindow } from '../src';
import { sessionOf } from '../src/session';
import { fileRGB, firstDifference, makePicture, packRGB, rgbOf } from './helpers';

jest.setTimeout(30_000);

let xvfb: Xvfb;
let d: Display;
const children: ChildProcess[] = [];
beforeAll(async () => {
  xvfb = await startXvfb({ width: 320, height: 240, depth: 24 });
  d = await connect({ display: xvfb.display });
});
afterAll(async () => {
  for (const child of children) child.kill();
  await d?.close();
  await xvfb?.stop();
});

function x(tool: string, args: string[]): string {
  return execFileSync(tool, args, { env: { ...process.env, DISPLAY: xvfb.display }, timeout: 10_000 })
    .toString()
    .trim();
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** ImageMagick `display` showing `file` at x, y; resolves to its window once it is drawn. */
async function showPicture(file: string, title: string, x0: number, y0: number): Promise<number> {
  const child = spawn(
    'display',
    ['-display', xvfb.display, '-title', title, '-geometry', `+${x0}+${y0}`, file],
    { stdio: 'ignore' },
  );
  children.push(child);
  const id = await until(`window '${title}'`, () => {
    try {
      return Number(x('xdotool', ['search', '--onlyvisible', '--name', `^${title}$`]).split('\n')[0]);
    } catch {
      return undefined;
    }
  });
  return id;
}

function rgb(frame: Frame): Buffer {
  return rgbOf(frame.toRGBA());
}

/**
 * A window of ours on its own connection that repaints `file` whenever the server asks (Expose), `delay` ms
 * later (as a busy application would).
 */
async function repaintingWindow(
  file: string,
  x0: number,
  y0: number,
  width: number,
  height: number,
  delay = 0,
) {
  const owner = await connect({ display: xvfb.display });
  const window = await owner.createWindow({ width, height, x: x0, y: y0, title: 'repainting' });
  const image = owner.createImage(width, height);
  packRGB(fileRGB(file), width, height, image.data, image.stride, image.format.bitsPerPixel);
  window.on('expose', () => {
    setTimeout(() => void image.put(window.id).catch(() => {}), delay);
  });
  await image.put(window.id);
  return {
    window,
    async close() {
      image.dispose();
      await owner.close();
    },
  };
}

/** A plain window that covers the given rectangle (on its own connection, so it stays on top). */
async function cover(
  x0: number,
  y0: number,
  width: number,
  height: number,
): Promise<Display & { w: XWindow }> {
  const other = await connect({ display: xvfb.display });
  const w = await other.createWindow({ width, height, x: x0, y: y0, title: 'cover' });
  await sessionOf(other).wire.sync();
  return Object.assign(other, { w });
}

test('a window covered by another, then partly off the screen, is captured whole and pixel-exact', async () => {
  const file = makePicture(120, 80, 3);
  const id = await showPicture(file, 'covered-picture', 40, 30);
  const over = await cover(70, 50, 150, 100);
  try {
    const frame = await d.capture({ window: id });
    expect([frame.width, frame.height]).toEqual([120, 80]);
    expect(frame.reason).toBeUndefined();
    expect(firstDifference(rgb(frame), fileRGB(file), 120)).toBeNull();
    // What the screen shows there is the cover: a capture of the screen would not have the picture.
    const screen = await d.capture({ x: 40, y: 30, width: 120, height: 80 });
    expect(firstDifference(rgb(screen), fileRGB(file), 120)).not.toBeNull();

    x('xdotool', ['windowmove', '--sync', String(id), '260', '190']);
    expect((await d.capture({ window: id })).width).toBe(120);
    expect(firstDifference(rgb(await d.capture({ window: id })), fileRGB(file), 120)).toBeNull();
    // A fresh connection redirects the window only now, while it is off the screen and covered.
    const fresh = await connect({ display: xvfb.display });
    try {
      const again = await fresh.capture({ window: id, x: 10, y: 5, width: 100, height: 70 });
      const expected = rgb(await d.capture({ window: id })).length;
      expect(expected).toBe(120 * 80 * 3);
      const whole = fileRGB(file);
      const crop = Buffer.alloc(100 * 70 * 3);
      for (let row = 0; row < 70; row++)
        whole.copy(crop, row * 300, ((row + 5) * 120 + 10) * 3, ((row + 5) * 120 + 110) * 3);
      expect(firstDifference(rgb(again), crop, 100)).toBeNull();
    } finally {
      await fresh.close();
    }
  } finally {
    await over.close();
  }
});

test("a client's window redirected while covered: the first capture waits for its repaint", async () => {
  const file = makePicture(100, 60, 4);
  const painter = await repaintingWindow(file, 20, 20, 100, 60, 40);
  const over = await cover(40, 30, 200, 120);
  const fresh = await connect({ display: xvfb.display });
  try {
    const frame = await fresh.capture({ window: painter.window.id });
    expect(firstDifference(rgb(frame), fileRGB(file), 100)).toBeNull();
  } finally {
    await fresh.close();
    await over.close();
    await painter.close();
  }
});

test('repeated captures reuse the named pixmap until the window is resized', async () => {
  const file = makePicture(90, 50, 5);
  const painter = await repaintingWindow(file, 150, 100, 90, 50);
  try {
    const first = await d.capture({ window: painter.window.id });
    expect([first.width, first.height]).toEqual([90, 50]);
    // The pixmap is named once: a repeated capture is one request, ShmGetImage, as for a root region.
    const sent = sessionOf(d).wire.client.seq_num;
    await d.capture({ window: painter.window.id });
    expect(sessionOf(d).wire.client.seq_num - sent).toBe(1);
    painter.window.resize(60, 40);
    await until('the resize', async () =>
      (await d.capture({ window: painter.window.id })).width === 60 ? true : undefined,
    );
    const after = await d.capture({ window: painter.window.id });
    expect([after.width, after.height]).toEqual([60, 40]);
  } finally {
    await painter.close();
  }
});

test('a depth-32 (ARGB) window keeps its alpha', async () => {
  const client = sessionOf(d).wire.client;
  const visuals = sessionOf(d).wire.screen.depths[32] ?? {};
  const visual = Object.values(visuals).find((v) => v.class === 4);
  expect(visual).toBeDefined();
  const colormap = sessionOf(d).wire.allocId();
  const id = sessionOf(d).wire.allocId();
  (client as unknown as { CreateColormap(c: number, w: number, v: number, a: number): void }).CreateColormap(
    colormap,
    d.root,
    visual!.vid,
    0,
  );
  client.CreateWindow(id, d.root, 200, 150, 40, 30, 0, 32, 1, visual!.vid, {
    colormap,
    borderPixel: 0,
    backgroundPixel: 0,
  });
  client.MapWindow(id);
  const image = d.createImage(40, 30, { depth: 32 });
  try {
    // Premultiplied ARGB, as X stores it: every channel at most alpha. BGRA in memory.
    for (let i = 0; i < 40 * 30; i++) {
      const alpha = (i * 7) % 256;
      image.data.writeUInt32LE(
        ((alpha << 24) | ((alpha >> 1) << 16) | ((alpha >> 2) << 8) | (alpha >> 3)) >>> 0,
        i * 4,
      );
    }
    await image.put(id);
    const frame = await d.capture({ window: id });
    expect(frame.format.depth).toBe(32);
    expect(frame.format.channels).toBe('BGRA');
    expect(Buffer.compare(frame.data, image.data)).toBe(0);
  } finally {
    image.dispose();
    client.DestroyWindow(id);
    (client as unknown as { FreeColormap(c: number): void }).FreeColormap(colormap);
  }
});

test('frames({ window }) follows a resize, waits for drawing, and ends when the window is destroyed', async () => {
  const file = makePicture(80, 60, 6);
  const painter = await repaintingWindow(file, 10, 150, 80, 60);
  const sizes: string[] = [];
  let ended = false;
  const run = (async () => {
    for await (const frame of d.frames({ window: painter.window.id })) {
      sizes.push(`${frame.width}x${frame.height}`);
      if (sizes.length === 1) expect(firstDifference(rgb(frame), fileRGB(file), 80)).toBeNull();
    }
    ended = true;
  })();
  try {
    await until('the first frame', () => (sizes.length > 0 ? true : undefined));
    // Nothing drawn: no new frame.
    await new Promise((r) => setTimeout(r, 200));
    expect(sizes).toEqual(['80x60']);
    painter.window.resize(50, 30);
    await until('a frame of the new size', () => (sizes.includes('50x30') ? true : undefined));
    painter.window.destroy();
    await run;
    expect(ended).toBe(true);
  } finally {
    await painter.close();
  }
});

test('a destroyed window is a clear XError naming the request, also with captures in flight', async () => {
  const file = makePicture(60, 40, 7);
  const painter = await repaintingWindow(file, 100, 10, 60, 40);
  const id = painter.window.id;
  await d.capture({ window: id });
  const inFlight = Array.from({ length: 20 }, () =>
    d.capture({ window: id }).then(
      () => 'ok',
      (err: unknown) => err,
    ),
  );
  painter.window.destroy();
  await painter.close();
  for (const outcome of await Promise.all(inFlight))
    if (outcome !== 'ok') expect(outcome).toBeInstanceOf(XError);
  const err = await d.capture({ window: id }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XError);
  expect(err).toMatchObject({ error: 'BadWindow', request: 'GetWindowAttributes', badValue: id });
  expect(String((err as Error).message)).toMatch(/does not exist/);
  // The connection is fine afterwards.
  expect((await d.capture({ width: 10, height: 10 })).width).toBe(10);
});

test('windows() lists the top-level windows with UTF-8 titles, class, pid and geometry, as xprop and xwininfo see them', async () => {
  const file = makePicture(70, 40, 8);
  const picture = await showPicture(file, 'listed-picture', 5, 6);
  const owner = await connect({ display: xvfb.display });
  try {
    const title = 'Grüße — 窓 🪟 window';
    const titled = await owner.createWindow({ width: 33, height: 22, x: 100, y: 110, title });
    const pidAtom = await sessionOf(owner).wire.internAtom('_NET_WM_PID');
    await sessionOf(owner).wire.checked('ChangeProperty', () =>
      sessionOf(owner).wire.client.ChangeProperty(0, titled.id, pidAtom, 6 /* CARDINAL */, 32, [4242]),
    );
    const windows = await d.windows();
    const mine = windows.find((w) => w.id === titled.id);
    expect(mine).toEqual({
      id: titled.id,
      title,
      class: '',
      instance: '',
      pid: 4242,
      x: 100,
      y: 110,
      width: 33,
      height: 22,
      depth: 24,
      mapped: true,
    });
    expect(x('xprop', ['-id', String(titled.id), '_NET_WM_NAME'])).toContain(title);
    const shown = windows.find((w) => w.id === picture)!;
    expect(shown).toBeDefined();
    expect(shown.title).toBe('listed-picture');
    const classLine = x('xprop', ['-id', String(picture), 'WM_CLASS']);
    expect(classLine).toBe(`WM_CLASS(STRING) = "${shown.instance}", "${shown.class}"`);
    // xwininfo gives the border's outer corner; windows() the contents' corner, inside the border.
    const info = x('xwininfo', ['-id', String(picture)]);
    const border = Number(/Border width:\s+(\d+)/.exec(info)![1]);
    expect(shown.x).toBe(Number(/Absolute upper-left X:\s+(-?\d+)/.exec(info)![1]) + border);
    expect(shown.y).toBe(Number(/Absolute upper-left Y:\s+(-?\d+)/.exec(info)![1]) + border);
    expect(shown.width).toBe(70);
    // Every listed window is a mapped child of the root that is not override-redirect (no window manager).
    const tree = x('xwininfo', ['-root', '-children']);
    for (const w of windows) expect(tree).toContain(`0x${w.id.toString(16)}`);

    // With a window manager, its _NET_CLIENT_LIST is the list (here we play the window manager).
    const clientList = await sessionOf(owner).wire.internAtom('_NET_CLIENT_LIST');
    await sessionOf(owner).wire.checked('ChangeProperty', () =>
      sessionOf(owner).wire.client.ChangeProperty(0, owner.root, clientList, 33 /* WINDOW */, 32, [
        titled.id,
        picture,
      ]),
    );
    try {
      expect((await d.windows()).map((w) => w.id)).toEqual([titled.id, picture]);
      // No clients yet: the list is empty, not the root's children.
      await sessionOf(owner).wire.checked('ChangeProperty', () =>
        sessionOf(owner).wire.client.ChangeProperty(0, owner.root, clientList, 33 /* WINDOW */, 32, []),
      );
      expect(await d.windows()).toEqual([]);
    } finally {
      await sessionOf(owner).wire.checked('DeleteProperty', () =>
        (
          sessionOf(owner).wire.client as unknown as { DeleteProperty(w: number, p: number): void }
        ).DeleteProperty(owner.root, clientList),
      );
    }
  } finally {
    await owner.close();
  }
});

test('a bordered window: the frame is its contents without the border, and the pointer lands where it is', async () => {
  const id = sessionOf(d).wire.allocId();
  // Contents at 65,45 on the root: the window's corner plus its 5-pixel border.
  sessionOf(d).wire.client.CreateWindow(id, d.root, 60, 40, 80, 60, 5, 0, 1, 0, {
    backgroundPixel: 0x336699,
    borderPixel: 0xff0000,
  });
  sessionOf(d).wire.client.MapWindow(id);
  await sessionOf(d).wire.sync();
  try {
    const frame = await d.capture({ window: id });
    expect([frame.width, frame.height]).toEqual([80, 60]);
    const pixels = new Set<number>();
    for (let i = 0; i < frame.data.length; i += 4) pixels.add(frame.data.readUInt32LE(i) & 0xffffff);
    expect([...pixels]).toEqual([0x336699]);
    x('xdotool', ['mousemove', '--sync', '90', '70']);
    const inWindow = Buffer.from((await d.capture({ window: id, cursor: true })).data);
    const onRoot = await d.capture({ x: 65, y: 45, width: 80, height: 60, cursor: true });
    expect(inWindow.equals(onRoot.data)).toBe(true);
    expect(inWindow.equals(Buffer.from((await d.capture({ window: id })).data))).toBe(false);
  } finally {
    sessionOf(d).wire.client.DestroyWindow(id);
  }
});

test('captures of a window started together share one naming and all succeed', async () => {
  const file = makePicture(64, 48, 9);
  const painter = await repaintingWindow(file, 200, 20, 64, 48);
  const fresh = await connect({ display: xvfb.display });
  try {
    const frames = await Promise.all(
      Array.from({ length: 8 }, () =>
        fresh.capture({ window: painter.window.id }).then((f) => ({ size: `${f.width}x${f.height}`, f })),
      ),
    );
    expect(frames.map((f) => f.size)).toEqual(Array(8).fill('64x48'));
    // They share the pooled buffer: the last one is valid and holds the picture.
    expect(firstDifference(rgb(frames[7]!.f), fileRGB(file), 64)).toBeNull();
  } finally {
    await fresh.close();
    await painter.close();
  }
});
