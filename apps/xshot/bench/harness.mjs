// What the stream benchmarks (bench/stream.mjs, bench/desktop.mjs) share: checks for the build and the
// tools they race, a private Xvfb, child processes and headless Chromium that never outlive the bench
// (stopped on success, on failure, on Ctrl-C and on SIGTERM), CPU time from /proc, and a counter of
// multipart (MJPEG) parts. Plain .mjs: benches run on the build and cannot import the TypeScript test
// helpers.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'bin', 'xshot.js');
export const PAINTER = join(here, 'stream-painter.mjs');
export const require = createRequire(import.meta.url);

const TICKS = 100; // USER_HZ on Linux: /proc/PID/stat counts CPU time in 1/100 s

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints `message` prefixed with the bench's name and exits 1 (after cleaning up what was started). */
export class BenchError extends Error {}

/** Exits 1 with a clear message unless `dist/<file>` exists (benches run the build, not the sources). */
export function requireBuild(bench, file) {
  if (!existsSync(join(here, '..', 'dist', file))) {
    console.error(`${bench}: dist/ is missing; run \`pnpm build\` first`);
    process.exit(1);
  }
}

function onPath(tool) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, tool)));
}

/**
 * Exits 1 with a clear message naming the Debian package for each tool in `tools` ([command, package]
 * pairs, or [path, package] for a file) that is missing.
 */
export function requireTools(bench, tools) {
  const missing = tools.filter(([tool]) => (tool.startsWith('/') ? !existsSync(tool) : !onPath(tool)));
  if (missing.length === 0) return;
  for (const [tool, pkg] of missing) console.error(`${bench}: ${tool} is missing (Debian package ${pkg})`);
  console.error(
    `install them with scripts/setup.sh bench, or apt-get install ${missing.map(([, pkg]) => pkg).join(' ')}`,
  );
  process.exit(1);
}

// Everything started, newest last; cleanup() stops it newest first.
const cleanups = [];

/** Runs `stop` at cleanup (newest first). Returns a function that runs it now and forgets it. */
export function onCleanup(stop) {
  const entry = { stop };
  cleanups.push(entry);
  return async () => {
    const at = cleanups.indexOf(entry);
    if (at >= 0) cleanups.splice(at, 1);
    await stop();
  };
}

let cleaning;
/** Stops everything started so far, newest first. Safe to call twice. */
export function cleanup() {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { stop } = cleanups.pop();
      await Promise.resolve()
        .then(stop)
        .catch(() => {});
    }
    cleaning = undefined;
  })();
  return cleaning;
}

/**
 * Runs `body` and then cleans up, whatever happens: a thrown error prints as `bench: message` (a stack
 * only for errors that are not BenchError) and exits 1; Ctrl-C (SIGINT) and SIGTERM clean up and exit
 * 130 and 143.
 */
export async function runBench(bench, body) {
  const fail = async (error) => {
    console.error(`${bench}: ${error instanceof BenchError ? error.message : (error?.stack ?? error)}`);
    await cleanup();
    process.exit(1);
  };
  process.on('unhandledRejection', fail);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ])
    process.on(signal, async () => {
      console.error(`${bench}: ${signal}, stopping what it started`);
      await cleanup();
      process.exit(code);
    });
  try {
    await body();
  } catch (error) {
    await fail(error);
  }
  await cleanup();
}

/** Resolves with `probe()`'s first truthy value, polling every 50 ms; throws after `timeoutMs`. */
export async function waitFor(what, probe, timeoutMs = 15_000) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new BenchError(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function readStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) used so far by the processes `pids`, their live descendants, and the
 * children they have reaped: websockify forks a process per connection, whose time would otherwise be
 * missed.
 */
export function cpuSeconds(pids) {
  const parents = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = readStat(name);
    if (fields) parents.set(Number(name), { ppid: Number(fields[1]), fields });
  }
  const wanted = new Set(pids);
  // Descendants: repeat until no process is added (a tree of any depth).
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, { ppid }] of parents)
      if (!wanted.has(pid) && wanted.has(ppid)) {
        wanted.add(pid);
        grew = true;
      }
  }
  let ticks = 0;
  for (const pid of wanted) {
    const fields = parents.get(pid)?.fields;
    // utime, stime, cutime, cstime
    if (fields) ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / TICKS;
}

/** The pid of this process's child whose command name is `name`, if there is one. */
export function childPid(name) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name &&
        Number(readStat(entry)?.[1]) === process.pid
      )
        return Number(entry);
    } catch {}
  }
  return undefined;
}

/**
 * Starts `command` with its output collected in `child.output`, stopped at cleanup. Where util-linux's
 * setpriv is installed the child also gets SIGTERM from the kernel if the bench dies without cleaning up
 * (kill -9); setpriv execs the command in place, so `child.pid` is the command's own. stdin stays open:
 * the painter and the window mover run until it closes. `child.stop()` stops it now.
 */
export function startProcess(command, args, { env = {}, rawStdout = false } = {}) {
  const [file, fileArgs] = onPath('setpriv')
    ? ['setpriv', ['--pdeathsig', 'SIGTERM', '--', command, ...args]]
    : [command, args];
  const child = spawn(file, fileArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.name = command === process.execPath ? args[0].split('/').pop() : command;
  child.output = '';
  // A raw stdout (ffmpeg's MJPEG) is the caller's to read.
  if (!rawStdout)
    child.stdout.on('data', (chunk) => {
      child.output += chunk;
    });
  child.stderr.on('data', (chunk) => {
    child.output += chunk;
  });
  child.exited = new Promise((resolve) => {
    child.once('exit', resolve);
    child.once('error', (error) => {
      child.output += String(error.message);
      resolve();
    });
  });
  child.stop = onCleanup(() => stopProcess(child));
  return child;
}

/** Whether the child has exited (or never started). */
export const gone = (child) => child.exitCode !== null || child.signalCode !== null || !child.pid;

/** SIGTERM (or `signal`), then SIGKILL after 3 s. */
export async function stopProcess(child, signal = 'SIGTERM') {
  if (gone(child)) return;
  child.stdin?.end();
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await child.exited;
  clearTimeout(timer);
}

/** Resolves with the match of `pattern` in the child's output; throws if the child exits first. */
export function waitForOutput(child, pattern, timeoutMs = 15_000) {
  return waitFor(
    `${child.name} to print ${pattern}`,
    () => {
      const match = pattern.exec(child.output);
      if (match) return match;
      if (gone(child)) throw new BenchError(`${child.name} exited: ${child.output.trim()}`);
      return undefined;
    },
    timeoutMs,
  );
}

/** A private Xvfb (@xshm/mit-shm's startXvfb: -displayfd, -noreset, its own process group), stopped at cleanup. */
export async function startXvfb(options) {
  const { startXvfb: start } = require('@xshm/mit-shm');
  const xvfb = await start(options);
  xvfb.stop = onCleanup(xvfb.stop);
  return xvfb;
}

/** Keeps the whole screen of `display` changing `fps` times a second (bench/stream-painter.mjs) until stopped. */
export async function startPainter(display, fps) {
  const painter = startProcess(process.execPath, [PAINTER, display, String(fps)]);
  await waitForOutput(painter, /ready/, 30_000);
  return painter;
}

/**
 * Headless Debian Chromium through playwright-core, closed at cleanup. `newPage()` gives each page a
 * context of its own (no shared cache or storage between clients) of `viewport` size, or its own.
 */
export async function launchChromium(viewport) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    // The bench closes it at cleanup, after what uses it; playwright's own handlers would race that.
    handleSIGINT: false,
    handleSIGTERM: false,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const close = onCleanup(() => browser.close());
  return {
    browser,
    /** The browser's process (its renderers are its descendants), for its CPU time. */
    pid: childPid('chromium'),
    async newPage(size = viewport) {
      const context = await browser.newContext({ viewport: size });
      const page = await context.newPage();
      page.once('close', () => void context.close().catch(() => {}));
      return page;
    },
    close,
  };
}

/** Counts the parts of a multipart stream (split on its boundary line) and their bytes. */
export class PartCounter {
  constructor(boundary) {
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
    this.parts = 0;
    this.bytes = 0;
    this.tail = Buffer.alloc(0);
  }
  take(chunk) {
    this.bytes += chunk.length;
    const data = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    let from = 0;
    for (;;) {
      const at = data.indexOf(this.delimiter, from);
      if (at < 0) break;
      this.parts++;
      from = at + this.delimiter.length;
    }
    this.tail = data.subarray(Math.max(from, data.length - this.delimiter.length));
  }
}
