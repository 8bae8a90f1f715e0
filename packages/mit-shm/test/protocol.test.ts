// The X protocol apps use through Display, on a real Xvfb and checked against xprop, xwininfo and xdotool:
// change notification (DAMAGE rectangles, a destroyed window, polling without DAMAGE), `lost`, window
// queries, key and pointer events, and checked requests without a reply.
import { execFileSync } from 'node:child_process';
import { connect, type Display, XConnectionError, XError, type XWindow } from '../src';
import { sessionOf } from '../src/session';
import { spawnXvfb } from './helpers';

jest.setTimeout(30_000);

let server: { display: string; stop(): Promise<void> };
let d: Display;

beforeAll(async () => {
  server = await spawnXvfb(['-screen', '0', '320x240x24']);
  d = await connect({ display: server.display });
});
afterAll(async () => {
  await d?.close();
  await server?.stop();
});

const tool = (command: string, args: string[], display = server.display): string =>
  execFileSync(
    command,
    ['-display', display, ...args].filter((a) => a !== ''),
    { timeout: 10_000 },
  ).toString();

/** A solid rectangle drawn by another client (ShmPutImage from a second connection). */
async function drawFrom(other: Display, x: number, y: number, width: number, height: number): Promise<void> {
  const image = other.createImage(width, height);
  try {
    image.data.fill(0x7f);
    await image.put(other.root, { x, y });
  } finally {
    image.dispose();
  }
}

describe('watchChanges', () => {
  test('DAMAGE reports the rectangle another client drew, and take() re-arms', async () => {
    const other = await connect({ display: server.display });
    const watch = await d.watchChanges({ rectangles: true });
    try {
      expect(watch.mode).toBe('damage');
      watch.take();
      await drawFrom(other, 10, 20, 30, 40);
      expect(await watch.changed(10_000)).toBe(true);
      // Events of one request may still be on their way: collect until the drawn area is covered.
      const rects = watch.take();
      const covers = () => {
        const left = Math.min(...rects.map((r) => r.x));
        const top = Math.min(...rects.map((r) => r.y));
        const right = Math.max(...rects.map((r) => r.x + r.width));
        const bottom = Math.max(...rects.map((r) => r.y + r.height));
        return [left, top, right - left, bottom - top];
      };
      while (rects.length === 0 || covers().join() !== '10,20,30,40') {
        expect(await watch.changed(10_000)).toBe(true);
        rects.push(...watch.take());
      }
      expect(covers()).toEqual([10, 20, 30, 40]);
      // Re-armed: nothing pending until the next drawing.
      await sessionOf(d).wire.sync();
      expect(await watch.changed(0)).toBe(false);
      await drawFrom(other, 0, 0, 5, 5);
      expect(await watch.changed(10_000)).toBe(true);
    } finally {
      watch.close();
      await other.close();
    }
  });

  test('without rectangles take() returns [] and still re-arms; an aborted wait answers false', async () => {
    const other = await connect({ display: server.display });
    const watch = await d.watchChanges();
    try {
      expect(await watch.changed(0)).toBe(true); // nothing taken yet: the picture counts as changed
      expect(watch.take()).toEqual([]);
      await sessionOf(d).wire.sync();
      const controller = new AbortController();
      const waiting = watch.changed(60_000, controller.signal);
      controller.abort();
      expect(await waiting).toBe(false);
      await drawFrom(other, 50, 50, 10, 10);
      expect(await watch.changed(10_000)).toBe(true);
    } finally {
      watch.close();
      await other.close();
    }
  });

  test('a watched window that is destroyed wakes the waiter; capturing it then fails with an XError', async () => {
    const owner = await connect({ display: server.display });
    const window = await owner.createWindow({ width: 40, height: 30 });
    const watch = await d.watchChanges({ drawable: window.id });
    try {
      watch.take();
      await sessionOf(d).wire.sync();
      const waiting = watch.changed(60_000);
      window.destroy();
      expect(await waiting).toBe(true);
      await expect(d.capture({ window: window.id })).rejects.toBeInstanceOf(XError);
    } finally {
      watch.close();
      await owner.close();
    }
  });

  test('a server without DAMAGE gives a polling watch that says why', async () => {
    const plain = await spawnXvfb(['-extension', 'DAMAGE', '-screen', '0', '64x48x24']);
    const p = await connect({ display: plain.display });
    try {
      const watch = await p.watchChanges();
      expect(watch.mode).toBe('polling');
      expect(watch.reason).toMatch(/no DAMAGE/);
      expect(await watch.changed(60_000)).toBe(true);
      expect(watch.take()).toEqual([{ x: 0, y: 0, width: 64, height: 48 }]);
      watch.close();
    } finally {
      await p.close();
      await plain.stop();
    }
  });
});

describe('lost', () => {
  test('resolves with an XConnectionError when the server dies; requests then fail the same way', async () => {
    const doomed = await spawnXvfb(['-screen', '0', '64x48x24']);
    const x = await connect({ display: doomed.display });
    await doomed.stop();
    const error = await x.lost;
    expect(error).toBeInstanceOf(XConnectionError);
    expect(x.closed).toBe(true);
    await expect(x.capture()).rejects.toBeInstanceOf(XConnectionError);
    await x.close();
  });

  test('does not resolve when we close the display ourselves', async () => {
    const x = await connect({ display: server.display });
    let lost = false;
    void x.lost.then(() => {
      lost = true;
    });
    await x.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(x.closed).toBe(true);
    expect(lost).toBe(false);
  });
});

describe('window queries', () => {
  let window: XWindow;
  beforeAll(async () => {
    window = await d.createWindow({ width: 64, height: 32, x: 17, y: 23, title: 'héllo wörld' });
  });
  afterAll(() => window.destroy());

  test('windowTitle, getProperty and internAtom agree with xprop', async () => {
    expect(await d.windowTitle(window.id)).toBe('héllo wörld');
    expect(tool('xprop', ['-id', String(window.id), '_NET_WM_NAME'])).toContain('"héllo wörld"');
    const wmName = await d.getProperty(window.id, 'WM_NAME');
    expect(wmName.format).toBe(8);
    expect(wmName.type).toBe(await d.internAtom('STRING'));
    expect(wmName.data.toString('latin1')).toBe('héllo wörld');
    expect(await d.internAtom('WM_NAME')).toBe(39);
    expect(await d.internAtom(`XSHM_NO_SUCH_ATOM_${process.pid}`, true)).toBe(0);
    expect((await d.getProperty(window.id, 'XSHM_ABSENT')).data.length).toBe(0);
  });

  test('queryTree and windowGeometry agree with xwininfo', async () => {
    const tree = await d.queryTree(d.root);
    expect(tree.root).toBe(d.root);
    expect(tree.parent).toBe(0);
    expect(tree.children).toContain(window.id);
    expect((await d.queryTree(window.id)).parent).toBe(d.root);
    const info = tool('xwininfo', ['-id', String(window.id)]);
    const field = (name: string) => Number(new RegExp(`${name}:\\s+(-?\\d+)`).exec(info)![1]);
    expect(await d.windowGeometry(window.id)).toEqual({
      x: field('Absolute upper-left X'),
      y: field('Absolute upper-left Y'),
      width: field('Width'),
      height: field('Height'),
      depth: field('Depth'),
      border: field('Border width'),
    });
  });

  test('a window that does not exist is an XError naming the request', async () => {
    const missing = 0x1ffffff;
    const err = await d.windowGeometry(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XError);
    expect((err as XError).error).toMatch(/BadWindow|BadDrawable/);
    await expect(d.queryTree(missing)).rejects.toMatchObject({ request: 'QueryTree', error: 'BadWindow' });
    await expect(d.getProperty(0, 'WM_NAME')).rejects.toThrow(RangeError);
  });
});

test('key and pointer events of a window (xdotool)', async () => {
  const window = await d.createWindow({ width: 100, height: 80, x: 30, y: 40 });
  const seen: string[] = [];
  window.on('keypress', (k) => seen.push(`keypress ${k.key}`));
  window.on('keyrelease', (k) => seen.push(`keyrelease ${k.key}`));
  window.on('buttonpress', (p) => seen.push(`buttonpress ${p.button} ${p.x},${p.y} ${p.rootX},${p.rootY}`));
  window.on('buttonrelease', (p) => seen.push(`buttonrelease ${p.button}`));
  window.on('motion', (p) => seen.push(`motion ${p.x},${p.y}`));
  try {
    execFileSync('xdotool', ['mousemove', '--sync', '50', '60', 'click', '3'], {
      env: { ...process.env, DISPLAY: server.display },
    });
    execFileSync('xdotool', ['key', '--window', String(window.id), 'q'], {
      env: { ...process.env, DISPLAY: server.display },
    });
    const deadline = Date.now() + 10_000;
    while (!seen.includes('keyrelease q') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen).toContain('motion 20,20');
    expect(seen).toContain('buttonpress 3 20,20 50,60');
    expect(seen).toContain('buttonrelease 3');
    expect(seen.indexOf('keypress q')).toBeLessThan(seen.indexOf('keyrelease q'));
  } finally {
    window.destroy();
  }
});

test('checked(): requests without a reply report the first failure as an XError, or resolve', async () => {
  const wire = sessionOf(d).wire;
  const gc = wire.allocId();
  await expect(wire.checked('CreateGC', () => wire.client.CreateGC(gc, 0x1ffffff, {}))).rejects.toMatchObject(
    { request: 'CreateGC', error: 'BadDrawable' },
  );
  await wire.checked('CreateGC', () => wire.client.CreateGC(gc, d.root, {}));
  await expect(
    wire.checked('FreeGC', () => {
      wire.client.FreeGC(gc);
      wire.client.FreeGC(gc);
    }),
  ).rejects.toMatchObject({ error: 'BadGC' });
  // The connection is still fine afterwards.
  await wire.sync();
});
