// Test helpers: spawn a fixture process and read its JSON lines; find leftover segments.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { FrameRing } from '../src/index';

const RUN_TS = path.join(__dirname, '../../../scripts/run-ts.cjs');
/** Debian's Python, which has sysv_ipc (python3 on PATH may be pyenv's, without it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

export type Line = Record<string, unknown>;

export class Fixture {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  /** stdout lines that are not JSON, as printed. */
  readonly text: string[] = [];
  readonly stderr: string[] = [];
  #waiters: Array<() => void> = [];
  #exited: Promise<number | null>;
  #closed = false;

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      try {
        this.lines.push(JSON.parse(text) as Line);
      } catch {
        this.text.push(text);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.child.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    // 'close', not 'exit': every line the process printed has been read by then.
    this.#exited = new Promise((resolve) =>
      this.child.on('close', (code) => {
        this.#closed = true;
        resolve(code);
      }),
    );
    void this.#exited.then(() => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The first JSON line with `key`, waiting up to `timeoutMs` for it. */
  waitFor(key: string, timeoutMs = 15_000): Promise<Line> {
    return this.#waitUntil(
      () => this.lines.find((candidate) => key in candidate),
      `a '${key}' line`,
      timeoutMs,
    );
  }

  /** The first plain-text stdout line matching `pattern`. */
  waitForText(pattern: RegExp, timeoutMs = 15_000): Promise<string> {
    return this.#waitUntil(
      () => this.text.find((line) => pattern.test(line)),
      `a line like ${pattern}`,
      timeoutMs,
    );
  }

  async #waitUntil<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (this.#closed || Date.now() > deadline) {
        throw new Error(
          `fixture ${this.child.spawnargs.slice(1).join(' ')} gave no ${what} ` +
            `(exit ${this.child.exitCode ?? this.child.signalCode}); stderr: ${this.stderr.join('')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  exited(): Promise<number | null> {
    return this.#exited;
  }

  send(text: string): void {
    this.child.stdin!.write(`${text}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** A TypeScript fixture from test/fixtures, run by node with one JSON argument. */
export function node(fixture: string, options: object): Fixture {
  return new Fixture(process.execPath, [
    RUN_TS,
    path.join(__dirname, 'fixtures', fixture),
    JSON.stringify(options),
  ]);
}

export function python(args: string[]): Fixture {
  return new Fixture(SYSTEM_PYTHON, [path.join(__dirname, 'fixtures/reader.py'), ...args]);
}

/** Keys of the segments in the system table (/proc/sysvipc/shm prints keys signed). */
export function segmentKeys(): number[] {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => Number(row.trim().split(/\s+/)[0]) >>> 0);
}

/** A ring name no other test run uses at the same time. */
export function uniqueName(label: string): string {
  return `test-${label}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

/**
 * Polls `check` every 20 ms until it returns true, or fails after `timeoutMs` saying what it waited
 * for: tests wait for a state, never for a time.
 */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Waits until the ring `name` has committed frame `frame` (read through a reader of this process). */
export async function waitForFrame(name: string, frame: number, timeoutMs = 30_000): Promise<void> {
  const reader = FrameRing.open({ name });
  try {
    await waitUntil(
      () => (reader.latest()?.sequence ?? 0) >= frame,
      `frame ${frame} of ring "${name}"`,
      timeoutMs,
    );
  } finally {
    reader.close();
  }
}
