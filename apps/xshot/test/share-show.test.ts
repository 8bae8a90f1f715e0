// xshot share on one Xvfb and xshot show on another, in separate processes: the show window's pixels equal
// ImageMagick's `import` of the shared display, before and after the picture changes (damage-driven), at
// depth 24 and 16; Ctrl-C of share ends show and leaves no segment.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameRing, ringKey } from '@xshm/framebus';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import { exec, exited, killStarted, sleep, startXshot, waitFor, windowsNamed } from './x-helpers';

jest.setTimeout(90_000);

let dir: string;
const servers: Xvfb[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xshot-share-'));
});
afterEach(async () => {
  // Ctrl-C, as a user would: share removes its ring even when a test failed half-way.
  await killStarted('SIGINT');
  for (const server of servers.splice(0)) await server.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An 8-bit picture from ImageMagick (`plasma:fractal`, `gradient:red-blue`) on the root of `display`. */
async function paintRoot(display: string, picture: string): Promise<void> {
  const file = join(dir, `${picture.replace(/\W/g, '')}.png`);
  await exec('convert', ['-size', '320x240', '-depth', '8', picture, file]);
  // `display -window root` paints and then exits 1 (ImageMagick 6); the comparisons below are the check.
  await exec('display', ['-window', 'root', file], { DISPLAY: display }).catch(() => {});
}

/** Differing pixels between the window `id` on `display` and the root of `source` (ImageMagick compare). */
async function difference(source: string, display: string, id: number, crop?: string): Promise<number> {
  const expected = join(dir, 'expected.png');
  const actual = join(dir, 'actual.png');
  const cropping = crop ? ['-crop', crop, '+repage'] : [];
  await exec('import', ['-display', source, '-window', 'root', ...cropping, expected]);
  await exec('import', ['-display', display, '-window', String(id), actual]);
  // compare prints the count to stderr and exits 1 when the images differ: read it through a shell.
  const out = await exec('sh', ['-c', 'compare -metric AE "$0" "$1" null: 2>&1; true', expected, actual]);
  return Number.parseFloat(out.toString());
}

/** Polls until the window shows the source (the first put, a damage-driven update), or the last difference. */
async function settle(source: string, display: string, id: number, crop?: string): Promise<number> {
  let differing = Number.NaN;
  for (let attempt = 0; attempt < 12; attempt++) {
    differing = await difference(source, display, id, crop);
    if (differing === 0) break;
    await sleep(250);
  }
  return differing;
}

/** Keys of the segments in the system table (/proc/sysvipc/shm prints keys signed). */
function segmentKeys(): number[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => Number(row.trim().split(/\s+/)[0]) >>> 0);
}

/** A ring name no other test run uses at the same time. */
const uniqueName = (label: string): string =>
  `test-${label}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

const showWindow = (display: string, name: string): Promise<number> =>
  waitFor(`the window 'show ${name}'`, async () => (await windowsNamed(display, `^show ${name}$`))[0]);

test.each([24, 16])(
  'share on one Xvfb, show on another, at depth %i: same pixels as import',
  async (depth) => {
    const a = await startXvfb({ width: 320, height: 240, depth });
    servers.push(a);
    const b = await startXvfb({ width: 640, height: 480, depth });
    servers.push(b);
    await paintRoot(a.display, 'plasma:fractal');

    const name = uniqueName('share');
    const share = await startXshot(
      ['share', '--name', name, '--display', a.display, '--fps', '30'],
      /^ring .*$/m,
    );
    const summary = share.match[0];
    expect(summary).toContain(`ring ${name} key=0x${ringKey(name).toString(16)} `);
    expect(summary).toContain(`320x240 ${depth === 24 ? 'BGRX' : 'RG16'}`);
    expect(summary).toContain('path=zero-copy');

    const show = await startXshot(['show', '--name', name, '--display', b.display], /showing ring/);
    const window = await showWindow(b.display, name);
    expect(await settle(a.display, b.display, window)).toBe(0);

    await paintRoot(a.display, 'gradient:red-blue');
    expect(await settle(a.display, b.display, window)).toBe(0);

    share.child.kill('SIGINT');
    expect(await exited(share.child)).toEqual({ code: 0, signal: null });
    expect(await exited(show.child)).toEqual({ code: 0, signal: null });
    expect(show.output()).toMatch(/its producer closed the ring/);
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
  const share = await startXshot(
    ['share', '--name', name, '--display', a.display, '--region', '10,20,101,50'],
    /^ring .*$/m,
  );
  expect(share.match[0]).toContain('101x50 BGRX stride=404 ');
  await startXshot(['show', '--name', name, '--display', b.display], /showing ring/);
  const window = await showWindow(b.display, name);
  expect(await settle(a.display, b.display, window, '101x50+10+20')).toBe(0);

  // Damage-driven: an unchanging screen publishes no frame; a change publishes one.
  const reader = FrameRing.open({ name });
  try {
    const before = reader.latest()?.sequence;
    await sleep(1500);
    expect(reader.latest()?.sequence).toBe(before);
    await paintRoot(a.display, 'gradient:green-yellow');
    expect(await settle(a.display, b.display, window, '101x50+10+20')).toBe(0);
    expect(reader.latest()?.sequence).toBeGreaterThan(before ?? 0);
  } finally {
    reader.close();
  }
});
