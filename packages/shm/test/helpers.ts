// What the tests share: the built package and its bin, a way to run other programs (whose pids are
// recorded, so that segments they create count as ours), and the check that a test file left no
// segment behind.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const packageDir = path.join(__dirname, '..');
export const distIndex = path.join(packageDir, 'dist', 'index.js');
export const shmtoolBin = path.join(packageDir, 'bin', 'shmtool.js');
/** Debian's python3, which python3-sysv-ipc installs for (a pyenv python3 on PATH would lack it). */
export const python = '/usr/bin/python3';

interface Row {
  id: number;
  key: number;
  cpid: number;
  nattch: number;
  perms: string;
}

function segments(): Row[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => {
    const [key, id, perms, , cpid, , nattch] = row.trim().split(/\s+/);
    return {
      key: Number(key),
      id: Number(id),
      perms: perms ?? '',
      cpid: Number(cpid),
      nattch: Number(nattch),
    };
  });
}

const before = new Set(segments().map((row) => row.id));
const ourPids = new Set([process.pid]);

function recordPid(pid: number | undefined): void {
  if (!pid) return;
  ourPids.add(pid);
  const state = process.env.XSHM_SHM_TEST_STATE;
  if (state) appendFileSync(path.join(state, 'pids'), `${pid}\n`);
}
recordPid(process.pid);

export interface Run<Output = string> {
  pid: number;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: Output;
  stderr: string;
}

/** Run a program to completion, stdout as bytes; what it creates counts as this test file's. */
export function runForBytes(command: string, args: string[], options: SpawnSyncOptions = {}): Run<Buffer> {
  const result = spawnSync(command, args, { timeout: 30_000, ...options, encoding: 'buffer' });
  recordPid(result.pid);
  if (result.error) throw result.error;
  return {
    pid: result.pid,
    status: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr.toString(),
  };
}

/** Run a program to completion, stdout as text; what it creates counts as this test file's. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): Run {
  const result = runForBytes(command, args, options);
  return { ...result, stdout: result.stdout.toString() };
}

/** Run a JavaScript program in a new node process, with the built package as `shm`. */
export function runNode(source: string, options: SpawnSyncOptions = {}): Run {
  const prelude = `const shm = require(${JSON.stringify(distIndex)});\n`;
  return run(process.execPath, ['--expose-gc', '-e', prelude + source], options);
}

/** Segments created since this file started, by this process or one it ran. */
export function leftBehind(): Row[] {
  return segments().filter((row) => !before.has(row.id) && ourPids.has(row.cpid));
}

/** The last test of a file: everything it created is gone. */
export function testLeavesNoSegmentBehind(): void {
  test('leaves no segment behind (/proc/sysvipc/shm)', () => {
    expect(leftBehind()).toEqual([]);
  });
}
