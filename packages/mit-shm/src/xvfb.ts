// Start a private Xvfb (a virtual X server) on a free display number, for tests, demos and benchmarks.
// The server never outlives the process that started it: it runs in its own process group (a terminal's
// Ctrl-C reaches our process, which stops it in order, not the server first), is stopped at exit, and,
// where util-linux's setpriv is installed, gets SIGTERM from the kernel when our process dies in any
// way, kill -9 included (PR_SET_PDEATHSIG).

import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';

export interface XvfbOptions {
  /** Screen width in pixels. Default 1280. */
  width?: number;
  /** Screen height in pixels. Default 720. */
  height?: number;
  /** Depth in bits: 8, 16, 24 or 30. Default 24. */
  depth?: number;
  /** Number of X screens (`:N.0`, `:N.1`, …), each width x height x depth. Default 1. */
  screens?: number;
  /** Give up after this many milliseconds. Default 10000. */
  timeout?: number;
}

export interface Xvfb {
  /** The DISPLAY string, e.g. ':12'. */
  display: string;
  /** The server's process id. */
  pid: number;
  /** Terminate the server and wait for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

const DISPLAY_FD = 3;

/** The path of `name` on $PATH, if it is there. */
function onPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (folder && existsSync(join(folder, name))) return join(folder, name);
  }
  return undefined;
}

/**
 * Spawn `Xvfb -displayfd 3 -noreset -nolisten tcp -screen 0 WxHxD` and resolve once it is ready.
 * `-noreset` matters: without it Xvfb forgets what was drawn when its last client disconnects.
 */
export function startXvfb(options: XvfbOptions = {}): Promise<Xvfb> {
  const width = options.width ?? 1280;
  const height = options.height ?? 720;
  const depth = options.depth ?? 24;
  const screens = options.screens ?? 1;
  const timeout = options.timeout ?? 10_000;
  for (const [name, value, max] of [
    ['width', width, 32767],
    ['height', height, 32767],
    ['screens', screens, 16],
  ] as const) {
    if (!Number.isInteger(value) || value < 1 || value > max)
      throw new RangeError(`startXvfb: ${name}=${value} must be an integer between 1 and ${max}`);
  }
  if (![8, 15, 16, 24, 30].includes(depth))
    throw new RangeError(`startXvfb: depth=${depth} must be one of 8, 15, 16, 24, 30`);

  const args = [`-displayfd`, String(DISPLAY_FD), '-noreset', '-nolisten', 'tcp'];
  for (let i = 0; i < screens; i++) args.push('-screen', String(i), `${width}x${height}x${depth}`);

  // Loaded here, not at the top: @xshm/mit-shm's index re-exports this file, and node:child_process costs
  // ~1 ms of every process that only connects (a one-shot `xshot shot`), measured after node:net.
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  return new Promise<Xvfb>((resolve, reject) => {
    let child: ChildProcess;
    // setpriv execs Xvfb in place (same pid) with the parent-death signal set; Xvfb is not setuid, so
    // the kernel keeps that setting across the exec.
    const setpriv = onPath('setpriv');
    const [command, commandArgs] = setpriv
      ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', 'Xvfb', ...args]]
      : ['Xvfb', args];
    try {
      child = spawn(command, commandArgs, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      reject(notInstalled(err));
      return;
    }
    // Stopped at exit too (process.exit, an uncaught exception, a signal we handle): a synchronous kill
    // is all an exit handler can do, and all it takes.
    const killAtExit = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    process.once('exit', killAtExit);
    let stderr = '';
    let settled = false;
    const exited = new Promise<void>((done) =>
      child.once('exit', () => {
        process.off('exit', killAtExit);
        done();
      }),
    );
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop();
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `startXvfb: Xvfb ${args.join(' ')} did not report a display within ${timeout} ms${stderr ? `: ${stderr.trim()}` : ''}`,
          ),
        ),
      timeout,
    );
    child.once('error', (err) => fail(notInstalled(err)));
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    child.once('exit', (code, signal) =>
      fail(
        // 127: setpriv found no Xvfb to run.
        setpriv && code === 127
          ? notInstalled(Object.assign(new Error(stderr.trim()), { code: 'ENOENT' }))
          : new Error(
              `startXvfb: Xvfb exited (${signal ?? `code ${code}`}) before it was ready: ${stderr.trim() || 'no message'}`,
            ),
      ),
    );
    let number = '';
    const displayPipe = child.stdio[DISPLAY_FD] as Readable;
    displayPipe.on('data', (chunk: Buffer) => {
      number += chunk.toString();
      if (!number.includes('\n') || settled) return;
      settled = true;
      clearTimeout(timer);
      displayPipe.destroy();
      child.stderr?.removeAllListeners('data');
      child.stderr?.resume();
      resolve({ display: `:${number.trim()}`, pid: child.pid ?? -1, stop });
    });
  });
}

function notInstalled(err: unknown): Error {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT')
    return new Error('startXvfb: Xvfb is not installed; install it with: apt-get install xvfb', {
      cause: err,
    });
  return err instanceof Error ? err : new Error(String(err));
}
