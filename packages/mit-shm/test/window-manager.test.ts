// Under a real window manager (openbox: EWMH, reparenting, decorations): windows() is its client list, and a
// client window inside its frame, covered by another application, is captured whole.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { connect, type Display, startXvfb, type Xvfb } from '../src';
import { fileRGB, firstDifference, makePicture, rgbOf } from './helpers';

jest.setTimeout(40_000);

let xvfb: Xvfb;
let d: Display;
const children: ChildProcess[] = [];

function start(command: string, args: string[]): void {
  children.push(spawn(command, args, { stdio: 'ignore', env: { ...process.env, DISPLAY: xvfb.display } }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  xvfb = await startXvfb({ width: 400, height: 300, depth: 24 });
  d = await connect({ display: xvfb.display });
  start('openbox', ['--sm-disable']);
});
afterAll(async () => {
  for (const child of children) child.kill();
  await d?.close();
  await xvfb?.stop();
});

test('openbox with no clients yet: windows() is empty, not its own windows', async () => {
  await until('openbox to start', async () => {
    const reply = await d.getProperty(d.root, '_NET_CLIENT_LIST', { longLength: 1 });
    return reply.type !== 0 ? true : undefined;
  });
  expect(await d.windows()).toEqual([]);
});

test('openbox: windows() lists its clients, and a framed client covered by another is captured whole', async () => {
  const file = makePicture(140, 90, 31);
  start('display', ['-title', 'managed-picture', file]);
  const picture = await until('openbox to manage the picture', async () => {
    const listed = await d.windows();
    return listed.find((w) => w.title === 'managed-picture');
  });
  // The client is inside a frame: its parent is not the root, and its place is inside the decorations.
  const tree = execFileSync('xwininfo', ['-display', xvfb.display, '-id', String(picture.id), '-tree'])
    .toString()
    .match(/Parent window id: (0x[0-9a-f]+)/)![1]!;
  expect(Number(tree)).not.toBe(d.root);
  expect(picture).toMatchObject({ width: 140, height: 90, mapped: true });
  // ImageMagick sets no _NET_WM_PID.
  expect(picture.pid).toBeNull();

  // Another application on top of it.
  const cover = makePicture(300, 250, 32);
  start('display', ['-title', 'cover-picture', cover]);
  const covering = await until('the cover', async () =>
    (await d.windows()).find((w) => w.title === 'cover-picture'),
  );
  execFileSync(
    'xdotool',
    ['windowmove', '--sync', String(covering.id), String(picture.x), String(picture.y)],
    {
      env: { ...process.env, DISPLAY: xvfb.display },
    },
  );
  const screen = await d.capture({ x: picture.x, y: picture.y, width: 140, height: 90 });
  expect(firstDifference(rgbOf(screen.toRGBA()), fileRGB(file), 140)).not.toBeNull();
  const frame = await d.capture({ window: picture.id });
  expect(firstDifference(rgbOf(frame.toRGBA()), fileRGB(file), 140)).toBeNull();
  // Every listed window is one of openbox's clients: no frames, no openbox windows.
  const ids = (await d.windows()).map((w) => w.id);
  expect(ids).toEqual(expect.arrayContaining([picture.id, covering.id]));
  expect(ids).toHaveLength(2);
});
