// view, mirror and demo against real Xvfbs: what they show is read back with ImageMagick's import, and
// SIGINT/SIGTERM leave no process, no window and no SysV segment behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import sharp from 'sharp';
import { demoPictureSVG } from '../src/picture';
import {
  differingPixels,
  exited,
  importWindow,
  killStarted,
  paintRoot,
  pressKey,
  runXshot,
  segmentsOf,
  startXshot,
  testPicture,
  waitFor,
  windowsNamed,
} from './x-helpers';

jest.setTimeout(40_000);

let folder: string;
let a: Xvfb;
let b: Xvfb;
beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'xshot-win-'));
  [a, b] = await Promise.all([
    startXvfb({ width: 320, height: 240, depth: 24 }),
    startXvfb({ width: 400, height: 300, depth: 24 }),
  ]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(folder, { recursive: true, force: true });
});

afterEach(killStarted);

/** Waits until import of `window` on `display` equals `expected`. */
function shows(display: string, window: number, expected: string | Buffer): Promise<true> {
  return waitFor(`window 0x${window.toString(16)} to show the picture`, async () => {
    const seen = await importWindow(display, String(window)).catch(() => undefined);
    if (!seen) return undefined;
    return (await differingPixels(seen, expected).catch(() => 1)) === 0 ? true : undefined;
  });
}

test('view shows images 1:1, pages with the arrow keys, and SIGINT exits 0 leaving no segment', async () => {
  const first = join(folder, 'first.png');
  const second = join(folder, 'second.png');
  await testPicture(first, 150, 100, 2);
  await testPicture(second, 90, 120, 5);
  const { child, match } = await startXshot(
    ['view', first, second, '--display', a.display],
    /window (0x[0-9a-f]+)/,
  );
  const window = Number(match[1]);
  await shows(a.display, window, first);
  const [titled] = await windowsNamed(a.display, 'first\\.png \\(150x100\\) \\[1/2\\]');
  expect(titled).toBe(window);
  pressKey(a.display, window, 'Right');
  await shows(a.display, window, second);
  expect(await windowsNamed(a.display, 'second.png')).toEqual([window]);
  expect(child.pid).toBeDefined();
  child.kill('SIGINT');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
  expect(segmentsOf(child.pid!)).toEqual([]);
  expect(await windowsNamed(a.display, 'xshot view')).toEqual([]);
});

test('view scales an image larger than the screen to fit, and q closes it', async () => {
  const big = join(folder, 'big.png');
  await testPicture(big, 640, 480, 4);
  const { child, match } = await startXshot(
    ['view', big, '--display', a.display],
    /window (0x[0-9a-f]+): \S+ (\d+)x(\d+)/,
  );
  expect([match[2], match[3]]).toEqual(['320', '240']);
  const window = Number(match[1]);
  expect(await windowsNamed(a.display, 'scaled from 640x480')).toEqual([window]);
  pressKey(a.display, window, 'q');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
});

test('view of a file that is not an image exits 1 with a message', async () => {
  const text = join(folder, 'notes.png');
  writeFileSync(text, 'not a picture');
  const ran = await runXshot(['view', text, '--display', a.display]);
  expect(ran.code).toBe(1);
  expect(ran.stderr).toMatch(/^xshot: .*notes\.png is not an image xshot can read/);
});

test('mirror shows display A live in a window on B, zero-copy, and SIGTERM exits 0 leaving nothing', async () => {
  const one = join(folder, 'a1.png');
  const two = join(folder, 'a2.png');
  await testPicture(one, 320, 240, 8);
  await testPicture(two, 320, 240, 9);
  await paintRoot(a.display, one);
  const { child, output } = await startXshot(
    ['mirror', '--from', a.display, '--to', b.display, '--fps', '20'],
    /zero-copy|copy/,
  );
  expect(output()).toMatch(/: zero-copy \(/);
  const [window] = await waitFor('the mirror window', async () => {
    const ids = await windowsNamed(b.display, `mirror ${a.display}`);
    return ids.length > 0 ? ids : undefined;
  });
  await shows(b.display, window!, one);
  await paintRoot(a.display, two);
  await shows(b.display, window!, two);
  child.kill('SIGTERM');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
  expect(segmentsOf(child.pid!)).toEqual([]);
  expect(await windowsNamed(b.display, 'mirror')).toEqual([]);
});

test('mirror without shared memory (XSHM_TRANSPORT=socket) falls back to a copy, says so, and still shows A', async () => {
  const picture = join(folder, 'a4.png');
  await testPicture(picture, 320, 240, 12);
  await paintRoot(a.display, picture);
  const { child, output } = await startXshot(
    ['mirror', '--from', a.display, '--to', b.display],
    /: (zero-copy|copy) \(/,
    { XSHM_TRANSPORT: 'socket' },
  );
  expect(output()).toMatch(/: copy \(one Buffer\.copy per frame; no shared memory on both sides/);
  const [window] = await waitFor('the mirror window', async () => {
    const ids = await windowsNamed(b.display, `mirror ${a.display}`);
    return ids.length > 0 ? ids : undefined;
  });
  await shows(b.display, window!, picture);
  child.kill('SIGINT');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
});

test('mirror --region shows that rectangle 1:1', async () => {
  const picture = join(folder, 'a3.png');
  await testPicture(picture, 320, 240, 11);
  await paintRoot(a.display, picture);
  const { child } = await startXshot(
    ['mirror', '--from', a.display, '--to', b.display, '--region', '10,20,100,50'],
    /copy/,
  );
  const [window] = await waitFor('the mirror window', async () => {
    const ids = await windowsNamed(b.display, `mirror ${a.display}`);
    return ids.length > 0 ? ids : undefined;
  });
  await shows(b.display, window!, await importWindow(a.display, 'root', '100x50+10+20'));
  child.kill('SIGINT');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
});

test('demo with DISPLAY unset starts its own Xvfb, writes xshot-demo.png, and leaves no Xvfb or segment', async () => {
  const cwd = mkdtempSync(join(folder, 'demo-'));
  const ran = await runXshot(['demo'], { DISPLAY: '' }, cwd);
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  const out = ran.stdout.toString();
  expect(out).toMatch(/private Xvfb on (:\d+)/);
  expect(out).toMatch(/^transport: memfd/m);
  expect(out).toMatch(/^capture \(ShmGetImage 1280x720\): \d+ frames\/s/m);
  expect(out).toMatch(/^put \(ShmPutImage 640x400, waiting for completion\): \d+ frames\/s/m);
  expect(out).toMatch(
    /^watch it live in a browser: xshot demo --stream, then open the URL it prints \(http:\/\/127\.0\.0\.1:8080\/\?token=…\)$/m,
  );
  const png = join(cwd, 'xshot-demo.png');
  expect(existsSync(png)).toBe(true);
  expect(execFileSync('identify', ['-format', '%m %wx%h', png]).toString()).toBe('PNG 1280x720');
  // That its Xvfb is gone is checked by pid in cli.test.ts: a display number freed here is taken at once
  // by the next Xvfb any other process starts, so asking the display itself is a race.
});

test('demo --stream serves the display it drew on until Ctrl-C, then leaves nothing', async () => {
  const cwd = mkdtempSync(join(folder, 'demo-stream-'));
  const { child, match } = await startXshot(
    ['demo', '--stream', '--port', '0'],
    /at (http:\/\/127\.0\.0\.1:\d+\/)(\?token=\S+)?\n/,
    { DISPLAY: b.display },
    cwd,
  );
  // The stream makes up a token by default and prints it in the URL's query.
  const response = await fetch(`${match[1]}frame.png${match[2] ?? ''}`);
  expect(response.status).toBe(200);
  const served = Buffer.from(await response.arrayBuffer());
  const svg = demoPictureSVG(400, 300, `made by xshot demo on ${b.display}`);
  expect(await differingPixels(served, await sharp(Buffer.from(svg)).flatten().png().toBuffer())).toBe(0);
  child.kill('SIGINT');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
  expect(await windowsNamed(b.display, 'xshot demo')).toEqual([]);
  expect(segmentsOf(child.pid!)).toEqual([]);
});

test('demo without Xvfb on PATH and without DISPLAY exits 1 with the install command', async () => {
  const ran = await runXshot(['demo'], { DISPLAY: '', PATH: '/nonexistent' }, folder);
  expect(ran.code).toBe(1);
  expect(ran.stderr).toMatch(/^xshot: .*Xvfb is not installed; run: apt-get install -y xvfb/);
  expect(existsSync(join(folder, 'xshot-demo.png'))).toBe(false);
});

test('demo uses DISPLAY when it answers, and leaves no window there', async () => {
  const cwd = mkdtempSync(join(folder, 'demo-display-'));
  const ran = await runXshot(['demo'], { DISPLAY: b.display }, cwd);
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  expect(ran.stdout.toString()).toContain(`xshot demo on display ${b.display}, 400x300 depth 24`);
  const png = join(cwd, 'xshot-demo.png');
  expect(execFileSync('identify', ['-format', '%m %wx%h', png]).toString()).toBe('PNG 400x300');
  // The window covered the whole 400x300 screen: the capture is the picture the demo drew, exactly.
  const svg = demoPictureSVG(400, 300, `made by xshot demo on ${b.display}`);
  expect(await differingPixels(png, await sharp(Buffer.from(svg)).flatten().png().toBuffer())).toBe(0);
  expect(await windowsNamed(b.display, 'xshot demo')).toEqual([]);
});

test('view at depth 16 shows the picture in RGB565', async () => {
  const small = await startXvfb({ width: 320, height: 240, depth: 16 });
  try {
    const file = join(folder, 'depth16.png');
    await testPicture(file, 100, 60, 6);
    const { child, match } = await startXshot(
      ['view', file, '--display', small.display],
      /window (0x[0-9a-f]+)/,
    );
    // What a 5-6-5 server keeps of each channel, widened back by bit replication (as the server's readers do).
    const { data, info } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const widen = (value: number, bits: number): number => {
      const kept = value >> (8 - bits);
      return (kept << (8 - bits)) | (kept >> (2 * bits - 8));
    };
    for (let i = 0; i < data.length; i += 3) {
      data[i] = widen(data[i]!, 5);
      data[i + 1] = widen(data[i + 1]!, 6);
      data[i + 2] = widen(data[i + 2]!, 5);
    }
    const expected = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
      .png()
      .toBuffer();
    await shows(small.display, Number(match[1]), expected);
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  } finally {
    await small.stop();
  }
});

test('view reports a file it cannot read while paging, and pages on past it', async () => {
  const good = join(folder, 'good.png');
  const bad = join(folder, 'bad.png');
  const other = join(folder, 'other.png');
  await testPicture(good, 60, 40, 13);
  await testPicture(other, 50, 70, 14);
  writeFileSync(bad, 'not a picture either');
  const { child, match, output } = await startXshot(
    ['view', good, bad, other, '--display', a.display],
    /window (0x[0-9a-f]+)/,
  );
  const window = Number(match[1]);
  await shows(a.display, window, good);
  pressKey(a.display, window, 'Right');
  await waitFor('the error for bad.png', async () =>
    /bad\.png is not an image/.test(output()) ? true : undefined,
  );
  pressKey(a.display, window, 'Right');
  await shows(a.display, window, other);
  child.kill('SIGINT');
  expect(await exited(child)).toEqual({ code: 0, signal: null });
});
