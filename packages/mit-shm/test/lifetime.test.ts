// Lifetime and isolation: kill -9 leaks no segment, a client in its own IPC namespace settles on memfd,
// thousands of captures keep memory flat, and the package works inside a worker thread.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { connect, type Display, startXvfb, type Xvfb } from '../src';
import { FIXTURES, makePicture, paintRoot, RUN_TS } from './helpers';

let xvfb: Xvfb;
let d: Display;

beforeAll(async () => {
  xvfb = await startXvfb({ width: 320, height: 200, depth: 24 });
  paintRoot(xvfb.display, makePicture(320, 200, 9));
  d = await connect({ display: xvfb.display });
});
afterAll(async () => {
  await d?.close();
  await xvfb?.stop();
});

type Line = Record<string, unknown>;

/** Spawn the capture fixture (optionally through a wrapper such as `unshare --ipc`) and read its lines. */
function spawnFixture(
  options: object,
  wrapper: string[] = [],
  nodeArgs: string[] = [],
): { child: ChildProcess; next(key: string): Promise<Line> } {
  const command = [
    ...wrapper,
    process.execPath,
    ...nodeArgs,
    RUN_TS,
    join(FIXTURES, 'capture.ts'),
    JSON.stringify(options),
  ];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const queue: Line[] = [];
  const waiters: Array<() => void> = [];
  lines.on('line', (text) => {
    queue.push(JSON.parse(text) as Line);
    waiters.shift()?.();
  });
  const next = async (key: string): Promise<Line> => {
    for (;;) {
      const index = queue.findIndex((line) => key in line || 'error' in line);
      if (index >= 0) {
        const line = queue.splice(index, 1)[0]!;
        if ('error' in line) throw new Error(`fixture failed: ${String(line.error)}`);
        return line;
      }
      if (child.exitCode !== null)
        throw new Error(`fixture exited (${child.exitCode}) before '${key}': ${stderr}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        child.once('exit', () => resolve());
      });
    }
  };
  return { child, next };
}

/** SysV segments created by `pid` (cpid column of /proc/sysvipc/shm). */
function segmentsCreatedBy(pid: number): string[] {
  const [header, ...rows] = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n');
  const cpid = header!.trim().split(/\s+/).indexOf('cpid');
  return rows.filter((row) => Number(row.trim().split(/\s+/)[cpid]) === pid);
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  // The server notices the dropped connection at once when idle; allow for a busy machine.
  for (let i = 0; i < 250; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`still not true after 5 s: ${what}`);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

test('a client capturing in a loop, killed with -9, leaves no segment behind', async () => {
  const { child, next } = spawnFixture({ display: xvfb.display, mode: 'loop', transport: 'sysv' });
  try {
    const ready = await next('ready');
    expect(ready.transport).toBe('sysv');
    await next('looping');
    // While it runs its segments exist, already marked for removal (status "dest" in ipcs).
    const live = segmentsCreatedBy(child.pid!);
    expect(live.length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The server lets go of them when it sees the connection drop.
    await eventually(() => segmentsCreatedBy(child.pid!).length === 0, `segments of pid ${child.pid} gone`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a client killed with -9 while it holds the server for strips: the server is free again, no segment left', async () => {
  const { child, next } = spawnFixture({ display: xvfb.display, mode: 'hold', transport: 'sysv' });
  try {
    await next('holding');
    expect(segmentsCreatedBy(child.pid!).length).toBeGreaterThan(0);
    // Held: our capture waits for the grab...
    let captured = false;
    const capture = d.capture({ width: 16, height: 16 }).then(() => {
      captured = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(captured).toBe(false);
    child.kill('SIGKILL');
    // ...and runs once the server has dropped the dead client, its grab and its segments.
    await capture;
    await eventually(() => segmentsCreatedBy(child.pid!).length === 0, `segments of pid ${child.pid} gone`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('images dropped without dispose() are detached and freed once collected (the safety net)', async () => {
  const { child, next } = spawnFixture(
    { display: xvfb.display, mode: 'drop', transport: 'sysv' },
    [],
    ['--expose-gc'],
  );
  try {
    await next('ready');
    // The ten images plus nothing else: the capture pool is untouched in this mode.
    expect((await next('created')).created).toBe(10);
    expect((await next('collected')).collected).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a client in its own IPC namespace (unshare --ipc): sysv cannot work, memfd does, with the same pixels', async () => {
  const region = { x: 17, y: 11, width: 150, height: 120 };
  const sysv = spawnFixture({ display: xvfb.display, mode: 'once', region, transport: 'sysv' }, [
    'unshare',
    '--ipc',
  ]);
  await expect(sysv.next('ready')).rejects.toThrow(/transport "sysv" was requested .* does not work/);
  const { child, next } = spawnFixture({ display: xvfb.display, mode: 'once', region }, ['unshare', '--ipc']);
  try {
    const ready = await next('ready');
    expect(ready.transport).toBe('memfd');
    const result = await next('sha256');
    const ours = await d.capture(region);
    expect(result.sha256).toBe(sha256(ours.toRGBA()));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (sysv.child.exitCode === null) sysv.child.kill('SIGKILL');
  }
}, 30_000);

test('captures in a row keep memory flat', async () => {
  const region = { x: 0, y: 0, width: 64, height: 64 };
  const captures = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const frame = await d.capture(region);
      if (i % 100 === 0) frame.toRGBA();
    }
  };
  // Readings after a full collection, of what this process holds rather than of RSS (which the allocator
  // and V8's heap sizing move by megabytes either way): live JS heap and external memory (Buffers), and
  // the shared-memory mappings (a SysV segment or memfd left mapped adds one; other mappings come and go
  // with V8's heap and threads, which made a count of every mapping flaky).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const held = (): { bytes: number; mappings: number } => {
    gc();
    const usage = process.memoryUsage();
    return {
      bytes: usage.heapUsed + usage.external,
      mappings: readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .filter((line) => /\s(\/SYSV[0-9a-f]+|\/memfd:)/.test(line)).length,
    };
  };
  // No fixed warm-up: windows of 2000 captures until one holds less than 256 KiB more than before it (the
  // JIT and its caches have settled), at most 15 windows. A leak of 128 bytes a capture never settles.
  // Counted in windows, not against a clock: a loaded machine runs fewer captures a second, not fewer tries.
  const limit = 256 * 1024;
  let growth = Number.POSITIVE_INFINITY;
  let mappings = 0;
  for (let window = 0; window < 15 && growth >= limit; window++) {
    const before = held();
    await captures(2000);
    const after = held();
    growth = after.bytes - before.bytes;
    mappings = after.mappings - before.mappings;
  }
  expect(mappings).toBeLessThanOrEqual(0);
  expect(growth).toBeLessThan(limit);
}, 180_000);

test.each(['sysv', 'memfd'] as const)('works inside a worker_threads worker (%s)', async (transport) => {
  const region = { x: 5, y: 5, width: 40, height: 30 };
  const worker = new Worker(
    `require(${JSON.stringify(RUN_TS)}).register(); require(${JSON.stringify(join(FIXTURES, 'capture.ts'))});`,
    { eval: true, workerData: JSON.stringify({ display: xvfb.display, mode: 'once', region, transport }) },
  );
  const lines: Line[] = [];
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (line: Line) => lines.push(line));
    worker.on('error', reject);
    worker.on('exit', () => resolve());
  });
  expect(lines.find((l) => 'error' in l)).toBeUndefined();
  expect(lines[0]).toMatchObject({ ready: true, transport });
  const ours = await d.capture(region);
  expect(lines[1]).toMatchObject({ sha256: sha256(ours.toRGBA()), width: 40, height: 30 });
});
