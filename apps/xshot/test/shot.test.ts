// `xshot shot` against a real Xvfb (depth 24 and 16): pixels equal ImageMagick's import, windows equal what
// an ImageMagick display window shows, formats are what identify says, every error path has its code.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import {
  differingPixels,
  exited,
  importWindow,
  paintRoot,
  rgbOf,
  runXshot,
  testPicture,
  waitFor,
  windowsNamed,
} from './x-helpers';

jest.setTimeout(30_000);

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'xshot-shot-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe.each([24, 16])('depth %i', (depth) => {
  let xvfb: Xvfb;
  let picture: string;
  beforeAll(async () => {
    xvfb = await startXvfb({ width: 640, height: 480, depth });
    picture = join(folder, `root-${depth}.png`);
    await testPicture(picture, 640, 480);
    await paintRoot(xvfb.display, picture, depth === 24);
  });
  afterAll(() => xvfb?.stop());

  test('the whole screen as PNG equals import -window root', async () => {
    const file = join(folder, `full-${depth}.png`);
    const ran = await runXshot(['shot', file, '--display', xvfb.display]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(await differingPixels(file, await importWindow(xvfb.display, 'root'))).toBe(0);
    if (depth === 24) expect(await differingPixels(file, picture)).toBe(0);
  });

  test('an odd region equals import -crop', async () => {
    const file = join(folder, `region-${depth}.png`);
    const ran = await runXshot(['shot', file, '--display', xvfb.display, '--region', '13,7,101,33']);
    expect(ran.code).toBe(0);
    const reference = await importWindow(xvfb.display, 'root', '101x33+13+7');
    expect((await rgbOf(file)).width).toBe(101);
    expect(await differingPixels(file, reference)).toBe(0);
  });
});

describe('depth 24 only', () => {
  let xvfb: Xvfb;
  let picture: string;
  beforeAll(async () => {
    xvfb = await startXvfb({ width: 640, height: 480, depth: 24 });
    picture = join(folder, 'root.png');
    await testPicture(picture, 640, 480, 3);
    await paintRoot(xvfb.display, picture);
  });
  afterAll(() => xvfb?.stop());

  test('--window and --window-name equal the picture an ImageMagick display window shows', async () => {
    const shown = join(folder, 'window-picture.png');
    await testPicture(shown, 200, 120, 7);
    const viewer = spawn('display', ['-display', xvfb.display, '-title', 'xshot-target', shown], {
      stdio: 'ignore',
    });
    try {
      const [id] = await waitFor('the display window', async () => {
        const ids = await windowsNamed(xvfb.display, 'xshot-target');
        return ids.length > 0 ? ids : undefined;
      });
      // display draws after mapping; wait until import sees the picture.
      await waitFor('the picture in the window', async () =>
        (await differingPixels(await importWindow(xvfb.display, String(id)), shown).catch(() => 1)) === 0
          ? true
          : undefined,
      );
      const byId = join(folder, 'window.png');
      const ran = await runXshot([
        'shot',
        byId,
        '--display',
        xvfb.display,
        '--window',
        `0x${id!.toString(16)}`,
      ]);
      expect(ran.stderr).toBe('');
      expect(await differingPixels(byId, shown)).toBe(0);
      const byName = join(folder, 'window-name.png');
      expect(
        (await runXshot(['shot', byName, '--display', xvfb.display, '--window-name', 'xshot-target'])).code,
      ).toBe(0);
      expect(await differingPixels(byName, shown)).toBe(0);
    } finally {
      viewer.kill();
      await exited(viewer);
    }
  });

  test('formats: jpeg to stdout, webp and avif from the extension, raw RGBA, default name', async () => {
    const jpeg = await runXshot([
      'shot',
      '-',
      '--format',
      'jpeg',
      '--quality',
      '80',
      '--display',
      xvfb.display,
    ]);
    expect(jpeg.code).toBe(0);
    expect(execFileSync('identify', ['-format', '%m %wx%h', '-'], { input: jpeg.stdout }).toString()).toBe(
      'JPEG 640x480',
    );
    for (const [name, magick] of [
      ['s.webp', 'WEBP'],
      ['s.avif', 'HEIC'], // ImageMagick 6 reads AVIF through libheif and calls it HEIC
    ]) {
      const ran = await runXshot([
        'shot',
        join(folder, name!),
        '--display',
        xvfb.display,
        '--region',
        '0,0,64,48',
      ]);
      expect(ran.code).toBe(0);
      expect(execFileSync('identify', ['-format', '%m %wx%h', join(folder, name!)]).toString()).toBe(
        `${magick} 64x48`,
      );
    }
    const raw = await runXshot([
      'shot',
      '-',
      '--format',
      'raw',
      '--display',
      xvfb.display,
      '--region',
      '5,6,7,8',
    ]);
    const expected = await rgbOf(await importWindow(xvfb.display, 'root', '7x8+5+6'));
    expect(raw.stdout.length).toBe(7 * 8 * 4);
    for (let p = 0; p < 7 * 8; p++) {
      expect([...raw.stdout.subarray(p * 4, p * 4 + 4)]).toEqual([
        ...expected.data.subarray(p * 3, p * 3 + 3),
        255,
      ]);
    }
    const cwd = mkdtempSync(join(folder, 'cwd-'));
    const named = await runXshot(['shot', '--display', xvfb.display], {}, cwd);
    expect(named.code).toBe(0);
    const [file] = readdirSync(cwd);
    expect(file).toMatch(/^xshot-\d{8}-\d{6}\.png$/);
    expect(named.stdout.toString()).toBe(`${join(cwd, file!)}\n`);
    expect(readFileSync(join(cwd, file!)).subarray(1, 4).toString()).toBe('PNG');
  });

  test('--cursor composites the pointer; --monitor 0 is the whole single screen', async () => {
    execFileSync('xdotool', ['mousemove', '100', '100'], { env: { ...process.env, DISPLAY: xvfb.display } });
    const plain = join(folder, 'plain.png');
    const cursor = join(folder, 'cursor.png');
    const region = ['--region', '80,80,50,50', '--display', xvfb.display];
    expect((await runXshot(['shot', plain, ...region])).code).toBe(0);
    expect((await runXshot(['shot', cursor, ...region, '--cursor'])).code).toBe(0);
    expect(await differingPixels(plain, await importWindow(xvfb.display, 'root', '50x50+80+80'))).toBe(0);
    expect(await differingPixels(plain, cursor)).toBeGreaterThan(10);
    const monitor = join(folder, 'monitor.png');
    expect((await runXshot(['shot', monitor, '--monitor', '0', '--display', xvfb.display])).code).toBe(0);
    expect(await differingPixels(monitor, picture)).toBe(0);
  });

  test.each([
    [['--region', '600,400,100,100'], 1, /outside|bounds|RangeError|screen/i],
    [['--window', '0x3ffffff'], 1, /window|BadWindow|BadDrawable/i],
    [['--window-name', 'no such window title'], 1, /no window has a title containing 'no such window title'/],
    [['--monitor', '7'], 1, /monitor/i],
    [['--format', 'tiff'], 2, /--format 'tiff'/],
    [['--nope'], 2, /unknown option/],
  ])('shot %p exits %i', async (args, code, message) => {
    const ran = await runXshot([
      'shot',
      join(folder, 'err.png'),
      '--display',
      xvfb.display,
      ...(args as string[]),
    ]);
    expect(ran.stderr).toMatch(/^xshot: /);
    expect(ran.stderr).toMatch(message);
    expect(ran.code).toBe(code);
  });

  test('an unreachable display fails within 5 s with exit 1', async () => {
    const started = Date.now();
    const ran = await runXshot(['shot', join(folder, 'none.png'), '--display', ':31987']);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^xshot: .*:31987/);
    expect(Date.now() - started).toBeLessThan(8000);
  });
});
