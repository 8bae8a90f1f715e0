// xshot share on one Xvfb and xshot show on another, in separate processes: the show window's
// pixels equal ImageMagick's `import` of the shared display, before and after the picture changes
// (damage-driven), at depth 24 and 16; Ctrl-C of share ends show and leaves no segment.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import { FrameRing, ringKey } from '../src/index';
import { type Fixture, segmentKeys, uniqueName, xshot } from './helpers';

jest.setTimeout(90_000);
const run = promisify(execFile);

let dir: string;
const servers: Xvfb[] = [];
const processes: Fixture[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'framebus-share-'));
});
afterEach(async () => {
  // Ctrl-C first, as a user would: share removes its ring even when a test failed half-way.
  for (const fixture of processes.splice(0)) {
    fixture.kill('SIGINT');
    const timer = setTimeout(() => fixture.kill(), 5000);
    await fixture.exited();
    clearTimeout(timer);
  }
  for (const server of servers.splice(0)) await server.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Paints `file` (8-bit, so what the server shows equals the file) on the root window of `display`. */
async function paintRoot(display: string, picture: string): Promise<void> {
  const file = path.join(dir, `${picture.replace(/\W/g, '')}.png`);
  await run('convert', ['-size', '320x240', '-depth', '8', picture, file]);
  // `display -window root` paints and then exits 1 (ImageMagick 6); the comparisons below are the check.
  await run('display', ['-window', 'root', file], {
    env: { ...process.env, DISPLAY: display },
    timeout: 15_000,
  }).catch((error: { code?: number }) => {
    if (error.code !== 1) throw error;
  });
}

/** Differing pixels between the window `id` on `display` and the root of `source`, by ImageMagick. */
async function difference(source: string, display: string, id: string, crop?: string): Promise<number> {
  const expected = path.join(dir, 'expected.png');
  const actual = path.join(dir, 'actual.png');
  const cropping = crop ? ['-crop', crop, '+repage'] : [];
  await run('import', ['-display', source, '-window', 'root', ...cropping, expected], { timeout: 10_000 });
  await run('import', ['-display', display, '-window', id, actual], { timeout: 10_000 });
  const { stderr } = await run('compare', ['-metric', 'AE', expected, actual, 'null:'], {
    timeout: 10_000,
  }).catch(
    (error: { stderr: string }) => ({ stderr: error.stderr }), // compare exits 1 when the images differ
  );
  return Number.parseFloat(stderr);
}

/** Polls until the window shows the source (the first put, a damage-driven update), or the last difference. */
async function settle(source: string, display: string, id: string, crop?: string): Promise<number> {
  let differing = Number.NaN;
  for (let attempt = 0; attempt < 12; attempt++) {
    differing = await difference(source, display, id, crop);
    if (differing === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return differing;
}

async function findWindow(display: string, title: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const found = await run('xdotool', ['search', '--name', `^${title}$`], {
      env: { ...process.env, DISPLAY: display },
      timeout: 10_000,
    }).catch(() => ({ stdout: '' }));
    const id = found.stdout.trim().split('\n')[0];
    if (id) return id;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no window titled '${title}' on ${display}`);
}

test.each([24, 16])(
  'share on one Xvfb, show on another, at depth %i: same pixels as import',
  async (depth) => {
    const a = await startXvfb({ width: 320, height: 240, depth });
    servers.push(a);
    const b = await startXvfb({ width: 640, height: 480, depth });
    servers.push(b);
    await paintRoot(a.display, 'plasma:fractal');

    const name = uniqueName('share');
    const share = xshot(['share', '--name', name, '--display', a.display, '--fps', '30']);
    processes.push(share);
    const summary = await share.waitForText(/^ring /);
    expect(summary).toContain(`ring ${name} key=0x${ringKey(name).toString(16)} `);
    expect(summary).toContain(`320x240 ${depth === 24 ? 'BGRX' : 'RG16'}`);
    expect(summary).toContain('path=zero-copy');

    const show = xshot(['show', '--name', name, '--display', b.display]);
    processes.push(show);
    const window = await findWindow(b.display, `show ${name}`);
    expect(await settle(a.display, b.display, window)).toBe(0);

    await paintRoot(a.display, 'gradient:red-blue');
    expect(await settle(a.display, b.display, window)).toBe(0);

    share.kill('SIGINT');
    expect(await share.exited()).toBe(0);
    expect(await show.exited()).toBe(0);
    expect(show.stderr.join('')).toMatch(/its producer closed the ring/);
    expect(segmentKeys()).not.toContain(ringKey(name));
  },
);

test('share --region: the ring and the show window hold just that rectangle', async () => {
  const a = await startXvfb({ width: 320, height: 240, depth: 24 });
  servers.push(a);
  const b = await startXvfb({ width: 320, height: 240, depth: 24 });
  servers.push(b);
  await paintRoot(a.display, 'plasma:fractal');
  const name = uniqueName('region');
  const share = xshot(['share', '--name', name, '--display', a.display, '--region', '10,20,101,50']);
  processes.push(share);
  expect(await share.waitForText(/^ring /)).toContain('101x50 BGRX stride=404 ');
  const show = xshot(['show', '--name', name, '--display', b.display]);
  processes.push(show);
  const window = await findWindow(b.display, `show ${name}`);
  expect(await settle(a.display, b.display, window, '101x50+10+20')).toBe(0);

  // Damage-driven: an unchanging screen publishes no frame; a change publishes one.
  const reader = FrameRing.open({ name });
  try {
    const before = reader.latest()?.sequence;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(reader.latest()?.sequence).toBe(before);
    await paintRoot(a.display, 'gradient:green-yellow');
    expect(await settle(a.display, b.display, window, '101x50+10+20')).toBe(0);
    expect(reader.latest()?.sequence).toBeGreaterThan(before ?? 0);
  } finally {
    reader.close();
  }
});
