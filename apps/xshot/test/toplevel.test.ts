// `xshot windows` and window captures of covered, off-screen windows (shot, stream) against a real Xvfb:
// the pictures are what ImageMagick `display` shows, covered by a window of xdotool's making.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameRing } from '@xshm/framebus';
import { connect, startXvfb, type Xvfb } from '@xshm/mit-shm';
import sharp from 'sharp';
import {
  differingPixels,
  exec,
  exited,
  killStarted,
  runXshot,
  startXshot,
  testPicture,
  waitFor,
  windowsNamed,
} from './x-helpers';

jest.setTimeout(40_000);

let folder: string;
let xvfb: Xvfb;
let picture: string;
let viewer: ChildProcess;
let shown: number;
const TITLE = 'Fenêtre — 画像';

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'xshot-toplevel-'));
  xvfb = await startXvfb({ width: 320, height: 240, depth: 24 });
  picture = join(folder, 'shown.png');
  await testPicture(picture, 150, 100, 5);
  viewer = spawn('display', ['-display', xvfb.display, '-title', TITLE, '-geometry', '+20+30', picture], {
    stdio: 'ignore',
  });
  shown = await waitFor('the display window', async () => (await windowsNamed(xvfb.display, 'Fen'))[0]);
  // A second ImageMagick window on top of most of it, then the picture moved partly off the screen.
  const cover = join(folder, 'cover.png');
  await testPicture(cover, 200, 150, 9);
  spawn('display', ['-display', xvfb.display, '-title', 'cover', '-geometry', '+60+50', cover], {
    stdio: 'ignore',
  }).unref();
  await waitFor('the cover', async () =>
    (await windowsNamed(xvfb.display, '^cover$')).length ? true : undefined,
  );
  await exec('xdotool', ['windowmove', '--sync', String(shown), '230', '60'], { DISPLAY: xvfb.display });
});
afterAll(async () => {
  viewer?.kill();
  if (viewer) await exited(viewer);
  await xvfb?.stop();
  rmSync(folder, { recursive: true, force: true });
});
afterEach(killStarted);

test('windows --json lists the window with its UTF-8 title, class and geometry; the table shows it too', async () => {
  const ran = await runXshot(['windows', '--json', '--display', xvfb.display]);
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  const list = JSON.parse(ran.stdout.toString()) as {
    id: number;
    title: string;
    class: string;
    width: number;
  }[];
  const mine = list.find((w) => w.id === shown);
  expect(mine).toMatchObject({ title: TITLE, width: 150, height: 100, mapped: true });
  // ImageMagick's class carries its build, e.g. 'Display-im6.q16'.
  expect(mine!.class).toMatch(/^Display/);
  const table = await runXshot(['windows', '--display', xvfb.display]);
  expect(table.code).toBe(0);
  const text = table.stdout.toString();
  expect(text.split('\n')[0]).toMatch(/^ID\s+GEOMETRY\s+DEPTH\s+MAPPED\s+PID\s+CLASS\s+TITLE$/);
  expect(text).toMatch(
    new RegExp(
      `^0x${shown.toString(16)}\\s+150x100\\+\\d+\\+\\d+\\s+24\\s+yes\\s+\\S+\\s+Display\\S*\\s+${TITLE}$`,
      'm',
    ),
  );
  expect((await runXshot(['windows', '--bogus'])).code).toBe(2);
});

test('shot --window and --window-name give the whole picture of a covered window partly off the screen', async () => {
  const byId = join(folder, 'by-id.png');
  const ran = await runXshot([
    'shot',
    byId,
    '--display',
    xvfb.display,
    '--window',
    `0x${shown.toString(16)}`,
  ]);
  expect(ran.stderr).toBe('');
  expect(ran.code).toBe(0);
  expect(await differingPixels(byId, picture)).toBe(0);
  const byName = join(folder, 'by-name.png');
  const named = await runXshot(['shot', byName, '--display', xvfb.display, '--window-name', 'Fenêtre']);
  expect(named.code).toBe(0);
  expect(await differingPixels(byName, picture)).toBe(0);
});

test('stream --window serves the whole picture of the covered window', async () => {
  const { match } = await startXshot(
    ['stream', '--display', xvfb.display, '--window', String(shown), '--port', '0', '--no-token'],
    /at (http:\/\/127\.0\.0\.1:\d+\/)/,
  );
  const response = await fetch(`${match[1]}frame.png`);
  expect(response.status).toBe(200);
  expect(await differingPixels(Buffer.from(await response.arrayBuffer()), picture)).toBe(0);
});

test('share --window publishes the whole picture of the covered window into the ring', async () => {
  const name = `toplevel-${process.pid}`;
  const { child } = await startXshot(
    ['share', '--name', name, '--display', xvfb.display, '--window', String(shown)],
    /^ring /m,
  );
  const reader = FrameRing.open({ name });
  try {
    const frame = await waitFor('a frame in the ring', async () => reader.latest() ?? undefined);
    expect([frame.width, frame.height, frame.format]).toEqual([150, 100, 'BGRX']);
    // BGRX rows to RGB, for the comparison with the file.
    const rgb = Buffer.alloc(150 * 100 * 3);
    for (let y = 0; y < 100; y++)
      for (let x = 0; x < 150; x++) {
        const i = y * frame.stride + x * 4;
        const o = (y * 150 + x) * 3;
        rgb[o] = frame.data[i + 2]!;
        rgb[o + 1] = frame.data[i + 1]!;
        rgb[o + 2] = frame.data[i]!;
      }
    const png = await sharp(rgb, { raw: { width: 150, height: 100, channels: 3 } })
      .png()
      .toBuffer();
    expect(await differingPixels(png, picture)).toBe(0);
  } finally {
    reader.close();
    // Ctrl-C: share removes its ring.
    child.kill('SIGINT');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
  }
});

test('stream --window follows a resize: frames of the new size', async () => {
  const owner = await connect({ display: xvfb.display });
  try {
    const window = await owner.createWindow({ width: 120, height: 80, x: 10, y: 150, title: 'resized' });
    const { match } = await startXshot(
      ['stream', '--display', xvfb.display, '--window', String(window.id), '--port', '0', '--no-token'],
      /at (http:\/\/127\.0\.0\.1:\d+\/)/,
    );
    const size = async (): Promise<string> => {
      const png = Buffer.from(await (await fetch(`${match[1]}frame.png`)).arrayBuffer());
      const { width, height } = await sharp(png).metadata();
      return `${width}x${height}`;
    };
    expect(await size()).toBe('120x80');
    window.resize(70, 40);
    await waitFor('a frame of the new size', async () => ((await size()) === '70x40' ? true : undefined));
    const stats = (await (await fetch(`${match[1]}stats`)).json()) as { width: number; height: number };
    expect([stats.width, stats.height]).toEqual([70, 40]);
  } finally {
    await owner.close();
  }
});
