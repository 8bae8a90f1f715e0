// The remote desktop (/desktop) in a real headless Chromium against an xterm on Xvfb: what the page draws
// against ImageMagick `import`, text typed in the page against what the xterm's shell writes to files, a
// click against an X window's ButtonPress, the clipboard against a second X client, and the refusals
// (read-only viewers, foreign Origin, missing token) against X's own state.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Clipboard,
  connect,
  type Display,
  type KeyPress,
  openClipboard,
  openInput,
} from '@xshm/mit-shm';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { WebSocket as NodeSocket } from 'ws';
import { checkControl, RemoteDesktop } from '../src/web/remote/desktop';
import { type StreamServer, startStreamServer } from '../src/web/server';
import { delay, FakeSource, launchChromium, startTestXvfb, type TestXvfb } from './stream-helpers';
import { runXshot } from './x-helpers';

jest.setTimeout(60_000);

const WIDTH = 1280;
const HEIGHT = 720;
/** The xterm's place on the screen (pixels), from its -geometry below with the default 6x13 font. */
const XTERM = { x: 0, y: 0, width: 80 * 6, height: 24 * 13 };

const scratch = mkdtempSync(join(tmpdir(), 'xshot-desktop-'));
let xvfb: TestXvfb;
let painter: Display;
let xterm: ChildProcess;
let chromium: Awaited<ReturnType<typeof launchChromium>> | undefined;
let browser: BrowserContext;

interface Served {
  desktop: RemoteDesktop;
  server: StreamServer;
  base: string;
  close(): Promise<void>;
}

async function serve(options: {
  control: boolean;
  token?: string;
  port?: number;
  display?: string;
}): Promise<Served> {
  const desktop = await RemoteDesktop.open({
    display: options.display ?? xvfb.display,
    control: options.control,
    quality: 80,
    fps: 60,
  });
  // The MJPEG side needs a source; these tests look only at /desktop.
  const server = await startStreamServer({
    source: new FakeSource(16, 16),
    port: options.port ?? 0,
    fps: 1,
    quality: 80,
    desktop,
    ...(options.token ? { token: options.token } : {}),
  });
  return {
    desktop,
    server,
    base: `http://127.0.0.1:${server.port}`,
    async close() {
      await desktop.close();
      await server.close();
    },
  };
}

function until<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async (): Promise<void> => {
      const value = await probe();
      if (value) resolve(value as NonNullable<T>);
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 25);
    };
    void tick();
  });
}

function lines(): string[] {
  return readdirSync(scratch)
    .filter((f) => f.startsWith('line-'))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
    .map((f) => readFileSync(join(scratch, f), 'utf8'));
}

function pointer(): { x: number; y: number } {
  const out = execFileSync('xdotool', ['getmouselocation'], {
    env: { ...process.env, DISPLAY: xvfb.display },
  })
    .toString()
    .match(/x:(\d+) y:(\d+)/)!;
  return { x: Number(out[1]), y: Number(out[2]) };
}

/** Opens /desktop and waits until the first picture is drawn. */
async function openPage(base: string, query = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/desktop${query}`);
  await page.waitForFunction('window.__desktop.updates > 0');
  return page;
}

/** A figure the page keeps for tests in window.__desktop. */
function stat<T>(page: Page, name: string): Promise<T> {
  return page.evaluate(`window.__desktop.${name}`) as Promise<T>;
}

/** Where remote pixel (x, y) is on the page (its centre). */
async function onPage(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('#screen').boundingBox())!;
  return { x: box.x + ((x + 0.5) * box.width) / WIDTH, y: box.y + ((y + 0.5) * box.height) / HEIGHT };
}

/** The page's canvas and the X screen (ImageMagick `import`), as packed RGB. */
async function canvasAndScreen(
  page: Page,
  screen = { display: xvfb.display, width: WIDTH, height: HEIGHT },
): Promise<{ drawn: Buffer; imported: Buffer }> {
  const dataUrl = (await page.evaluate(`document.getElementById('screen').toDataURL('image/png')`)) as string;
  const drawn = await sharp(Buffer.from(dataUrl.split(',')[1]!, 'base64'))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([drawn.info.width, drawn.info.height]).toEqual([screen.width, screen.height]);
  const imported = execFileSync('import', ['-window', 'root', '-depth', '8', 'rgb:-'], {
    env: { ...process.env, DISPLAY: screen.display },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { drawn: drawn.data, imported };
}

/** How many pixels differ between two packed RGB pictures of the screen. */
function differingPixels(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 3)
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) n++;
  return n;
}

/** The page's last update: [encoding, x, y, width, height] per rectangle (encoding numbers of encode-tile.ts). */
function lastUpdate(page: Page): Promise<[number, number, number, number, number][]> {
  return stat(page, 'last');
}

/** Paints the root window with flat blocks of colours that depend on `seed` (screen-like content). */
async function paintBlocks(seed: number): Promise<void> {
  const image = painter.createImage(WIDTH, HEIGHT);
  const rgba = Buffer.alloc(WIDTH * HEIGHT * 4);
  for (let y = 0; y < HEIGHT; y++)
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 4;
      rgba[i] = ((x >> 7) * 25 + seed * 40) & 255;
      rgba[i + 1] = ((y >> 6) * 20 + seed * 15) & 255;
      rgba[i + 2] = 90 + seed;
      rgba[i + 3] = 255;
    }
  image.fromRGBA(rgba);
  await image.put(painter.root);
  image.dispose();
}

async function quiet(page: Page, ms = 400): Promise<void> {
  let last = -1;
  for (;;) {
    const updates = await stat<number>(page, 'updates');
    if (updates === last) return;
    last = updates;
    await delay(ms);
  }
}

beforeAll(async () => {
  xvfb = await startTestXvfb(WIDTH, HEIGHT, 24);
  painter = await connect({ display: xvfb.display });
  // Flat colour blocks on the root: screen-like content, sent losslessly.
  await paintBlocks(0);
  // Each line the shell reads is written, byte for byte, to its own file.
  xterm = spawn(
    'xterm',
    [
      '-geometry',
      '80x24+0+0',
      '-u8',
      '-xrm',
      'XTerm*selectToClipboard: true',
      '-e',
      'sh',
      '-c',
      `n=0; while IFS= read -r line; do n=$((n+1)); printf %s "$line" > ${scratch}/line-$n; done`,
    ],
    { env: { ...process.env, DISPLAY: xvfb.display, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, stdio: 'ignore' },
  );
  await until('the xterm window', () => {
    try {
      return execFileSync('xdotool', ['search', '--onlyvisible', '--class', 'xterm'], {
        env: { ...process.env, DISPLAY: xvfb.display },
      }).toString();
    } catch {
      return null;
    }
  });
  chromium = await launchChromium({ width: 1000, height: 600 });
  browser = chromium.browser;
});

afterAll(async () => {
  await chromium?.close();
  xterm?.kill();
  await painter?.close();
  await xvfb?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe('with --control', () => {
  let served: Served;
  let page: Page;

  beforeAll(async () => {
    served = await serve({ control: true });
    page = await openPage(served.base);
  });

  afterAll(async () => {
    await page?.close();
    await served?.close();
  });

  test('the canvas holds exactly the pixels ImageMagick import reads (lossless tiles)', async () => {
    await quiet(page);
    const { drawn, imported } = await canvasAndScreen(page);
    expect(differingPixels(drawn, imported)).toBe(0);
    expect(await page.evaluate(`document.getElementById('screen').style.cursor`)).toMatch(
      /^url\("?data:image\/png;base64,/,
    );
  });

  test('typed text reaches the xterm shell exactly: shifted, Latin-1 and characters the keymap lacks', async () => {
    const at = await onPage(page, XTERM.x + 100, XTERM.y + 100);
    await page.mouse.move(at.x, at.y); // no window manager: focus follows the pointer
    const text = 'Hello, World! ~|{}"<>?_+ 1234 é ß € ✓ Ω';
    await page.keyboard.type(text);
    await page.keyboard.press('Enter');
    await until('the first line', () => lines().length >= 1);
    expect(lines()).toEqual([text]);
    expect(served.desktop.stats().inputs).toBeGreaterThan(text.length);
  });

  test('a typed character comes as palette rectangles cropped to it, drawn pixel-exact', async () => {
    await quiet(page);
    const before = await stat<number>(page, 'bytes');
    const updates = await stat<number>(page, 'updates');
    await page.keyboard.type('x');
    await until('an update', async () => (await stat<number>(page, 'updates')) > updates);
    await quiet(page);
    const after = await stat<number>(page, 'bytes');
    // One character and the cursor moving on: tens of bytes, not a picture of the screen.
    expect(after - before).toBeLessThan(300);
    const rects = await lastUpdate(page);
    expect(rects.length).toBeGreaterThan(0);
    for (const [encoding, x, y, width, height] of rects) {
      expect(encoding).toBe(3); // palette: the xterm's cells are 2 colours
      // Inside the xterm, and smaller than the two 16x16 tiles a character and its cursor touch.
      expect(x + width).toBeLessThanOrEqual(XTERM.x + XTERM.width);
      expect(y + height).toBeLessThanOrEqual(XTERM.y + XTERM.height);
      expect(width * height).toBeLessThan(2 * 16 * 16);
    }
    const { drawn, imported } = await canvasAndScreen(page);
    expect(differingPixels(drawn, imported)).toBe(0);
    await page.keyboard.press('Backspace');
  });

  test('a change of most of the screen comes as one JPEG, then is refreshed to exact pixels', async () => {
    await quiet(page);
    const seen: Awaited<ReturnType<typeof lastUpdate>>[] = [];
    const updates = await stat<number>(page, 'updates');
    await paintBlocks(3);
    // Every update the page draws from here on, until the screen is still.
    await until('the change and its refresh', async () => {
      const now = await stat<number>(page, 'updates');
      if (now > updates + seen.length) seen.push(await lastUpdate(page));
      return seen.length >= 2 && seen.at(-1)!.every(([encoding]) => encoding === 2 || encoding === 3);
    });
    // The first is one JPEG (whole or half size) covering the painted area, a quarter of the screen or more.
    const [first] = seen;
    expect(first).toHaveLength(1);
    const [encoding, , , width, height] = first![0]!;
    expect([1, 4]).toContain(encoding);
    expect(width * height).toBeGreaterThanOrEqual((WIDTH * HEIGHT) / 4);
    await quiet(page);
    const { drawn, imported } = await canvasAndScreen(page);
    expect(differingPixels(drawn, imported)).toBe(0);
  });

  test('a small change that keeps going (a clock, a cursor) does not hold back the lossless refresh', async () => {
    await quiet(page);
    const blink = painter.createImage(8, 8);
    let on = false;
    let blinking = true;
    const blinker = (async () => {
      while (blinking) {
        on = !on;
        blink.fromRGBA(Buffer.alloc(8 * 8 * 4, on ? 255 : 0));
        await blink.put(painter.root, { x: WIDTH - 40, y: HEIGHT - 40 });
        await delay(50);
      }
    })();
    /** Pixels the page has drawn as JPEG (whole or half size) and losslessly (raw or palette). */
    const drawn = async (): Promise<{ lossy: number; lossless: number }> => {
      const pixels = await stat<number[]>(page, 'pixels');
      return { lossy: pixels[1]! + pixels[4]!, lossless: pixels[2]! + pixels[3]! };
    };
    try {
      const before = await drawn();
      await paintBlocks(5);
      // While the blinking goes on: the change as JPEG, then a quarter of the screen or more losslessly.
      await until('the refresh', async () => {
        const now = await drawn();
        return now.lossy > before.lossy && now.lossless - before.lossless >= (WIDTH * HEIGHT) / 4;
      });
    } finally {
      blinking = false;
      await blinker;
      blink.dispose();
    }
    await quiet(page);
    const screens = await canvasAndScreen(page);
    expect(differingPixels(screens.drawn, screens.imported)).toBe(0);
  });

  test('a click lands on the X screen at the coordinates clicked in the page', async () => {
    const events: { button: number; x: number; y: number }[] = [];
    const window = await painter.createWindow({ x: 900, y: 400, width: 200, height: 150 });
    window.on('buttonpress', (ev) => events.push({ button: ev.button, x: ev.rootX, y: ev.rootY }));
    await new Promise<void>((resolve) => window.once('expose', () => resolve()));
    const at = await onPage(page, 1000, 480);
    await page.mouse.click(at.x, at.y);
    await page.mouse.click(at.x, at.y, { button: 'right' });
    await until('two button presses', () => events.length >= 2);
    expect(events).toEqual([
      { button: 1, x: 1000, y: 480 },
      { button: 3, x: 1000, y: 480 },
    ]);
    expect(pointer()).toEqual({ x: 1000, y: 480 });
    window.destroy();
  });

  describe('the clipboard', () => {
    let other: Clipboard;
    beforeAll(async () => {
      other = await openClipboard(painter);
    });
    afterAll(async () => {
      await other?.close();
    });

    test('text put in the page becomes the X CLIPBOARD', async () => {
      await page.click('#clipboard-toggle');
      await page.fill('#clip', 'from the page: café ✓');
      await until('the X clipboard', async () => (await other.read(500)) === 'from the page: café ✓');
    });

    test('a copy made in X reaches the page', async () => {
      await other.write('from X: naïve ☃');
      await page.waitForFunction(`window.__desktop.clipboard === 'from X: naïve ☃'`);
      expect(await page.inputValue('#clip')).toBe('from X: naïve ☃');
    });
  });

  test('keys still held when a viewer goes are released', async () => {
    const target = await painter.createWindow({ width: 200, height: 100, x: 600, y: 600 });
    const presses: KeyPress[] = [];
    target.on('keypress', (key) => presses.push(key));
    const viewer = await openPage(served.base);
    const at = await onPage(viewer, 700, 650);
    await viewer.mouse.move(at.x, at.y);
    await viewer.keyboard.down('Shift');
    await viewer.keyboard.press('KeyA');
    await until('the shifted press', () => presses.some((p) => p.key === 'a'));
    expect(presses.find((p) => p.key === 'a')!.state & 1).toBe(1);
    await viewer.close();
    await until('the viewer to go', () => served.desktop.stats().viewers === 1);
    await delay(200);
    presses.length = 0;
    const input = await openInput(painter);
    await input.type('a');
    await input.flush();
    await until('the second press', () => presses.some((p) => p.key === 'a'));
    expect(presses.find((p) => p.key === 'a')!.state & 1).toBe(0);
    await input.close();
    target.destroy();
  });

  test('the page says when it is disconnected, and reconnects', async () => {
    const port = served.server.port;
    await served.close();
    await page.waitForFunction(`window.__desktop.state === 'disconnected'`);
    expect(await page.textContent('#message-text')).toMatch(/Disconnected — reconnecting in \d+ s/);
    const updates = await stat<number>(page, 'updates');
    served = await serve({ control: true, port });
    await page.waitForFunction(
      `window.__desktop.state === 'connected' && window.__desktop.updates > ${updates}`,
      undefined,
      { timeout: 15_000 },
    );
    expect(await page.isVisible('#message')).toBe(false);
  });
});

describe('scrolling (copy rectangles)', () => {
  /** Where the scrolled "text" is painted: clear of the xterm, the blinker and the click test's window. */
  const AREA = { x: 512, y: 320, width: 384, height: 384 };
  const COPY = 5;

  /**
   * Text-like rows (2 colours in runs of 4 pixels, a blank row every 13) starting at content row `first`:
   * painting first + n after first scrolls the area up by n rows.
   */
  async function paintText(first: number): Promise<void> {
    const { width, height } = AREA;
    const image = painter.createImage(width, height);
    const rgba = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) {
      const line = first + y;
      for (let x = 0; x < width; x++) {
        let h = Math.imul((line << 8) ^ (x >> 2), 0x9e3779b1);
        h = Math.imul(h ^ (h >>> 15), 0x5bd1e995);
        const ink = line % 13 !== 0 && (h >>> 16) & 1;
        rgba.set(ink ? [20, 20, 20, 255] : [240, 240, 230, 255], (y * width + x) * 4);
      }
    }
    image.fromRGBA(rgba);
    await image.put(painter.root, { x: AREA.x, y: AREA.y });
    image.dispose();
  }

  let served: Served;
  beforeAll(async () => {
    await paintText(0);
    served = await serve({ control: false });
  });
  afterAll(async () => {
    await served?.close();
  });

  test('a scroll comes as one copy of the rows the page has, plus the new rows; drawn pixel-exact', async () => {
    const page = await openPage(served.base);
    try {
      await paintText(100);
      await quiet(page);
      const updates = await stat<number>(page, 'updates');
      const copied = (await stat<number[]>(page, 'pixels'))[COPY] ?? 0;
      const bytes = await stat<number>(page, 'bytes');
      await paintText(126); // up by 26 rows
      await until('the scroll', async () => (await stat<number>(page, 'updates')) > updates);
      await quiet(page);
      const rects = await lastUpdate(page);
      const copies = rects.filter(([encoding]) => encoding === COPY);
      expect(copies).toHaveLength(1);
      const [, x, y, width, height] = copies[0]!;
      expect([x, width]).toEqual([AREA.x, AREA.width]);
      expect(y).toBe(AREA.y);
      expect(height).toBe(AREA.height - 26);
      // The rows that are really new, and the tile row the copy's end cuts: not the area again.
      const pixels = rects
        .filter(([encoding]) => encoding !== COPY)
        .reduce((sum, [, , , w, h]) => sum + w * h, 0);
      expect(pixels).toBeLessThanOrEqual(AREA.width * (26 + 16));
      expect((await stat<number[]>(page, 'pixels'))[COPY]! - copied).toBe(AREA.width * (AREA.height - 26));
      // A fraction of what the area's pixels cost (~6 KiB deflated for 384x384 of 2-colour rows).
      expect((await stat<number>(page, 'bytes')) - bytes).toBeLessThan(2000);
      const { drawn, imported } = await canvasAndScreen(page);
      expect(differingPixels(drawn, imported)).toBe(0);
    } finally {
      await page.close();
    }
  });

  test('an xterm scrolling line by line gets copies of its text, and ends pixel-exact', async () => {
    const page = await openPage(served.base);
    try {
      await quiet(page);
      const copied = (await stat<number[]>(page, 'pixels'))[COPY] ?? 0;
      const env = { ...process.env, DISPLAY: xvfb.display };
      // No window manager: the key events go to the window under the pointer. 30 lines fill its 24 rows.
      execFileSync('xdotool', ['mousemove', String(XTERM.x + 100), String(XTERM.y + 100)], { env });
      // Not execFileSync: the server runs in this process and must capture while the lines come.
      const text = Array.from({ length: 30 }, (_, i) => `scrolled ${i * 7919}\n`).join('');
      await new Promise((resolve, reject) =>
        execFile('xdotool', ['type', '--delay', '15', text], { env }, (error) =>
          error ? reject(error) : resolve(null),
        ),
      );
      await quiet(page);
      // Each scroll of a 13-pixel line moves the rows above: most of the xterm's text area, not sent again.
      expect((await stat<number[]>(page, 'pixels'))[COPY]! - copied).toBeGreaterThanOrEqual(
        XTERM.width * 13 * 10,
      );
      const { drawn, imported } = await canvasAndScreen(page);
      expect(differingPixels(drawn, imported)).toBe(0);
    } finally {
      await page.close();
    }
  });

  test('a viewer that has not been sent the source rows gets pixels, not a copy; both end exact', async () => {
    const fast = await openPage(served.base);
    const slow = await openPage(served.base);
    try {
      await quiet(fast);
      await quiet(slow);
      // The slow page keeps its acknowledgements until told: after three updates the server sends it
      // nothing more, and what changes meanwhile stays dirty for it.
      await slow.evaluate(`(() => {
        const send = WebSocket.prototype.send;
        window.__held = [];
        window.__hold = true;
        WebSocket.prototype.send = function (message) {
          if (window.__hold && typeof message === 'string' && message.includes('"ack"')) {
            window.__held.push([this, message]);
            return;
          }
          return send.call(this, message);
        };
        window.__release = () => {
          window.__hold = false;
          for (const [socket, message] of window.__held) send.call(socket, message);
          window.__held = [];
        };
      })()`);
      const dot = painter.createImage(8, 8);
      for (let i = 0; i < 3; i++) {
        const updates = await stat<number>(slow, 'updates');
        dot.fromRGBA(Buffer.alloc(8 * 8 * 4, 60 * (i + 1)));
        await dot.put(painter.root, { x: 1000, y: 40 });
        await until(
          'an update on the slow page',
          async () => (await stat<number>(slow, 'updates')) > updates,
        );
      }
      dot.dispose();
      const slowUpdates = await stat<number>(slow, 'updates');
      // New text in the area: the fast page gets it, the slow one only has it marked dirty.
      await paintText(5000); // rows the area never showed: no copy for anyone
      await quiet(fast);
      const fastCopied = (await stat<number[]>(fast, 'pixels'))[COPY] ?? 0;
      const slowCopied = (await stat<number[]>(slow, 'pixels'))[COPY] ?? 0;
      const fastUpdates = await stat<number>(fast, 'updates');
      await paintText(5040); // up by 40 rows
      await until(
        'the scroll on the fast page',
        async () => (await stat<number>(fast, 'updates')) > fastUpdates,
      );
      await quiet(fast);
      expect((await stat<number[]>(fast, 'pixels'))[COPY]! - fastCopied).toBe(
        AREA.width * (AREA.height - 40),
      );
      expect(await stat<number>(slow, 'updates')).toBe(slowUpdates);
      await slow.evaluate('window.__release()');
      await until(
        'the slow page to catch up',
        async () => (await stat<number>(slow, 'updates')) > slowUpdates,
      );
      await quiet(slow);
      // The slow page got the area as pixels: its canvas never held the rows a copy would have moved.
      expect((await stat<number[]>(slow, 'pixels'))[COPY] ?? 0).toBe(slowCopied);
      for (const page of [fast, slow]) {
        const { drawn, imported } = await canvasAndScreen(page);
        expect(differingPixels(drawn, imported)).toBe(0);
      }
    } finally {
      await fast.close();
      await slow.close();
    }
  });
});

describe("at depth 16 (captures converted to the screen copy's 32-bit layout)", () => {
  test('the canvas holds exactly the pixels X holds (import reads them within one level)', async () => {
    const small = await startTestXvfb(320, 200, 16);
    const other = await connect({ display: small.display });
    let served: Served | undefined;
    let page: Page | undefined;
    try {
      const image = other.createImage(320, 200);
      const rgba = Buffer.alloc(320 * 200 * 4);
      for (let i = 0; i < 320 * 200; i++) {
        const [x, y] = [i % 320, Math.floor(i / 320)];
        rgba.set([(x >> 4) * 13, (y >> 3) * 10, ((x >> 5) + (y >> 4)) * 16, 255], i * 4); // flat blocks
      }
      image.fromRGBA(rgba);
      await image.put(other.root);
      image.dispose();
      served = await serve({ control: false, display: small.display });
      page = await openPage(served.base);
      await quiet(page);
      const screens = await canvasAndScreen(page, { display: small.display, width: 320, height: 200 });
      // Exactly what X holds, widened to 8 bits as mit-shm does (bit replication, as X servers and pixman
      // do), from a capture of our own; and ImageMagick's reading, which widens 5 and 6 bits by scaling down
      // (4 of 31 is 32 there, 33 here), within one level.
      const frame = await other.capture({});
      const exact = frame.toRGB();
      frame.release();
      expect(differingPixels(screens.drawn, exact)).toBe(0);
      let furthest = 0;
      for (let i = 0; i < exact.length; i++)
        furthest = Math.max(furthest, Math.abs(screens.drawn[i]! - screens.imported[i]!));
      expect(furthest).toBeLessThanOrEqual(1);
    } finally {
      await page?.close();
      await served?.close();
      await other.close();
      await small.stop();
    }
  });
});

describe('view only (no --control)', () => {
  test('input from the page never reaches X', async () => {
    const served = await serve({ control: false });
    const page = await openPage(served.base);
    try {
      const before = { lines: lines().length, pointer: pointer() };
      const at = await onPage(page, 200, 200);
      await page.mouse.move(at.x, at.y);
      await page.mouse.click(at.x, at.y);
      await page.keyboard.type('echo nothing\n');
      // Send it by hand too, as a page that ignored hello.control would.
      await page.evaluate(`(() => {
        const socket = new WebSocket('ws://' + location.host + '/desktop.ws');
        socket.onopen = () => {
          socket.send(JSON.stringify({ t: 'move', x: 5, y: 5 }));
          socket.send(JSON.stringify({ t: 'text', s: 'injected\\n' }));
          socket.send(JSON.stringify({ t: 'clip', s: 'injected' }));
        };
      })()`);
      await delay(500);
      expect(lines().length).toBe(before.lines);
      expect(pointer()).toEqual(before.pointer);
      expect(served.desktop.stats().inputs).toBe(0);
    } finally {
      await page.close();
      await served.close();
    }
  });
});

describe('who may open the socket', () => {
  let served: Served;
  beforeAll(async () => {
    served = await serve({ control: true, token: 'sesame' });
  });
  afterAll(async () => {
    await served?.close();
  });

  function attempt(query: string, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new NodeSocket(`ws://127.0.0.1:${served.server.port}/desktop.ws${query}`, { headers });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        response.resume();
      });
      ws.on('error', reject);
    });
  }

  test('the token opens it; no token or a wrong one is 401', async () => {
    expect(await attempt('?token=sesame')).toBe(101);
    expect(await attempt('')).toBe(401);
    expect(await attempt('?token=sesam')).toBe(401);
  });

  test('a page from another origin is refused even with the token', async () => {
    const host = `127.0.0.1:${served.server.port}`;
    expect(await attempt('?token=sesame', { Origin: `http://${host}` })).toBe(101);
    expect(await attempt('?token=sesame', { Origin: 'http://evil.example' })).toBe(403);
    expect(await attempt('?token=sesame', { Origin: `http://127.0.0.1:${served.server.port + 1}` })).toBe(
      403,
    );
  });

  test('in Chromium: a page of another origin cannot open it', async () => {
    const page = await browser.newPage();
    try {
      // Another origin: the same server under another address (localhost is not 127.0.0.1 to the browser).
      await page.goto(`http://localhost:${served.server.port}/healthz`);
      const outcome = await page.evaluate(`new Promise((resolve) => {
        const socket = new WebSocket('ws://127.0.0.1:${served.server.port}/desktop.ws?token=sesame');
        socket.onopen = () => resolve('open');
        socket.onerror = () => resolve('refused');
      })`);
      expect(outcome).toBe('refused');
    } finally {
      await page.close();
    }
  });
});

test('--control on a non-loopback address needs a token', () => {
  expect(checkControl({ control: true, host: '0.0.0.0' })).toMatch(/without a token/);
  expect(checkControl({ control: true, host: '0.0.0.0', token: 't' })).toBeNull();
  expect(checkControl({ control: true, host: '127.0.0.1' })).toBeNull();
  expect(checkControl({ control: true, host: '::1' })).toBeNull();
  expect(checkControl({ control: true, window: 5 })).toMatch(/--window/);
  expect(checkControl({ control: false, host: '0.0.0.0' })).toBeNull();
  expect(existsSync(scratch)).toBe(true);
});

test('xshot stream --control --host 0.0.0.0 --no-token is refused with exit 2, before X is opened', async () => {
  const ran = await runXshot(['stream', '--control', '--host', '0.0.0.0', '--no-token', '--port', '0'], {
    DISPLAY: xvfb.display,
  });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toMatch(/--control on 0\.0\.0\.0 without a token/);
  expect(ran.stdout.length).toBe(0);
});
