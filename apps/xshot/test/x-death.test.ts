// Commands whose X server (or window) goes away must end with exit 1 and say so, idle or not: a real Xvfb
// killed with -9 under `share`, `show` and `view`, and a shared window destroyed under `share --window`.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ringKey } from '@xshm/framebus';
import { connect, startXvfb, type Xvfb } from '@xshm/mit-shm';
import { exited, killStarted, startXshot, testPicture } from './x-helpers';

jest.setTimeout(60_000);

let dir: string;
const servers: Xvfb[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xshot-death-'));
});
afterEach(async () => {
  await killStarted('SIGKILL');
  for (const server of servers.splice(0)) await server.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function xvfb(): Promise<Xvfb> {
  const server = await startXvfb({ width: 320, height: 240 });
  servers.push(server);
  return server;
}

/** Keys of the segments in the system table (/proc/sysvipc/shm prints keys signed). */
function segmentKeys(): number[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => Number(row.trim().split(/\s+/)[0]) >>> 0);
}

const uniqueName = (what: string): string => `xshot-death-${what}-${process.pid}-${Date.now()}`;

test('share exits 1 when its X server dies while the screen is still, and removes its ring', async () => {
  const x = await xvfb();
  const name = uniqueName('share');
  const share = await startXshot(['share', '--name', name, '--display', x.display], /sharing/);
  process.kill(x.pid, 'SIGKILL');
  const { code } = await exited(share.child);
  expect(code).toBe(1);
  expect(share.output()).toMatch(/went away/);
  expect(segmentKeys()).not.toContain(ringKey(name));
});

test('share --window exits 1, saying so, and removes its ring when the window is destroyed', async () => {
  const x = await xvfb();
  const owner = await connect({ display: x.display });
  try {
    const window = await owner.createWindow({ width: 64, height: 48, title: 'shared' });
    const name = uniqueName('window');
    const share = await startXshot(
      ['share', '--name', name, '--display', x.display, '--window', String(window.id)],
      /sharing/,
    );
    window.destroy();
    const { code } = await exited(share.child);
    expect(code).toBe(1);
    expect(share.output()).toMatch(/xshot: share: window 0x[0-9a-f]+ was destroyed; the ring is removed/);
    expect(segmentKeys()).not.toContain(ringKey(name));
  } finally {
    await owner.close();
  }
});

test('show exits 1 when its display dies while the shared screen is still', async () => {
  const source = await xvfb();
  const target = await xvfb();
  const name = uniqueName('show');
  await startXshot(['share', '--name', name, '--display', source.display], /sharing/);
  const show = await startXshot(['show', '--name', name, '--display', target.display], /showing ring/);
  process.kill(target.pid, 'SIGKILL');
  const { code } = await exited(show.child);
  expect(code).toBe(1);
  expect(show.output()).toMatch(/went away/);
});

test('view exits 1 when its X server dies', async () => {
  const x = await xvfb();
  const file = join(dir, 'picture.png');
  await testPicture(file, 40, 30);
  const view = await startXshot(['view', file, '--display', x.display], /^window 0x/m);
  process.kill(x.pid, 'SIGKILL');
  const { code } = await exited(view.child);
  expect(code).toBe(1);
  expect(view.output()).toMatch(/went away/);
});
