// Shared by the X tests: spawn the built xshot, paint and read displays with ImageMagick, compare pixels,
// list the SysV segments a process left. Each suite starts its own Xvfb (mit-shm's startXvfb: -displayfd,
// -noreset, -nolisten tcp).
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';

export const BIN = join(__dirname, '..', 'bin', 'xshot.js');

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the real bin (against dist/) and collects its output. */
export function runXshot(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr }));
  });
}

/** Children started by startXshot, killed by killStarted() after each test (a failed test must not leave one). */
const started = new Set<ChildProcess>();

/** Ends every child startXshot started: with `signal` first (SIGINT: let it clean up), SIGKILL after 5 s. */
export async function killStarted(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited(child);
    clearTimeout(timer);
  }
  started.clear();
}

/** Presses `key` in `window` of `display` the way a user would: focus it, then a real (XTEST) key event. */
export function pressKey(display: string, window: number, key: string): void {
  execFileSync('xdotool', ['windowfocus', '--sync', String(window), 'key', key], {
    env: { ...process.env, DISPLAY: display },
  });
}

/** A long-running xshot (view, mirror): resolves once its stdout or stderr matches `ready`. */
export function startXshot(
  args: string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      ...(cwd ? { cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.add(child);
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xshot ${args.join(' ')} did not print ${ready} within 15 s; output: ${output}`));
    }, 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`xshot ${args.join(' ')} exited ${code} before it was ready: ${output}`));
    });
  });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

export function exec(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 64 << 20 },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${command} ${args.join(' ')}: ${error.message} ${stderr.toString()}`))
          : resolve(stdout),
    );
  });
}

/**
 * Paints the root window with `file` (8-bit, so what the server shows equals the file). ImageMagick 6's
 * `display -window root` exits 1 even when it painted, so the paint is checked with import instead.
 */
export async function paintRoot(display: string, file: string, exact = true): Promise<void> {
  await exec('display', ['-display', display, '-window', 'root', file]).catch(() => {});
  // At depth 16 the server keeps 5-6 bits a channel: the screen cannot equal the file.
  if (!exact) return;
  const differ = await differingPixels(await importWindow(display, 'root'), file);
  if (differ !== 0)
    throw new Error(`display -window root ${file} left ${differ} pixels different on ${display}`);
}

/** ImageMagick's `import -window ID` of `display`, as PNG bytes (ID 'root' or a window id). */
export function importWindow(display: string, window: string, crop?: string): Promise<Buffer> {
  const args = ['-display', display, '-window', window];
  if (crop) args.push('-crop', crop);
  return exec('import', [...args, 'png:-']);
}

/** Decodes any image to 8-bit RGB rows. */
export async function rgbOf(
  image: Buffer | string,
): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data };
}

/** Number of pixels that differ between two images (throws when sizes differ). */
export async function differingPixels(a: Buffer | string, b: Buffer | string): Promise<number> {
  const [x, y] = await Promise.all([rgbOf(a), rgbOf(b)]);
  if (x.width !== y.width || x.height !== y.height)
    throw new Error(`sizes differ: ${x.width}x${x.height} vs ${y.width}x${y.height}`);
  let differ = 0;
  for (let i = 0; i < x.data.length; i += 3)
    if (x.data[i] !== y.data[i] || x.data[i + 1] !== y.data[i + 1] || x.data[i + 2] !== y.data[i + 2])
      differ++;
  return differ;
}

/** A test picture: random-looking but deterministic blocks and gradients, 8-bit RGB PNG. */
export async function testPicture(file: string, width: number, height: number, seed = 1): Promise<void> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 3 + seed * 40) & 0xff;
      data[o + 1] = (y * 5 + (x >> 4) * 17) & 0xff;
      data[o + 2] = ((x ^ y) + seed * 13) & 0xff;
    }
  await sharp(data, { raw: { width, height, channels: 3 } })
    .png()
    .toFile(file);
}

/** SysV segments whose creator is `pid` (ipcs -m -p: shmid owner cpid lpid). */
export function segmentsOf(pid: number): string[] {
  const text = execFileSync('ipcs', ['-m', '-p']).toString();
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => /^\d+$/.test(cols[0] ?? '') && Number(cols[2]) === pid)
    .map((cols) => cols.join(' '));
}

/** Window ids whose title matches `name` on `display` (xdotool). */
export async function windowsNamed(display: string, name: string): Promise<number[]> {
  try {
    const out = await exec('xdotool', ['search', '--name', name], { DISPLAY: display });
    return out.toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Retries `check` until it returns a value (not undefined) or `ms` pass. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
