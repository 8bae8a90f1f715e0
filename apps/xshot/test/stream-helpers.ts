// Shared by the stream tests: an HTTP client that splits /stream.mjpeg into frames, plain GETs,
// and a FrameSource whose pictures and "damage" the test controls.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type ClientRequest, get, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { BrowserContext } from 'playwright-core';
import type { ChangeDetection, FrameSource, Picture } from '../src/web/source';

export interface Fetched {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export function fetchUrl(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

export interface MjpegPart {
  jpeg: Buffer;
  receivedAt: number;
}

const PART_DELIMITER = '\r\n--xshotframe\r\n';

/** Reads /stream.mjpeg and keeps every part; `pause()` stops reading from the socket (a stalled viewer). */
export class MjpegReader {
  readonly parts: MjpegPart[] = [];
  status = 0;
  contentType = '';
  ended = false;
  private request: ClientRequest;
  private response: IncomingMessage | null = null;
  private chunks: Buffer[] = [];
  private tail: Buffer = Buffer.alloc(0);
  private waiters: { count: number; resolve(): void }[] = [];
  readonly ready: Promise<void>;

  constructor(url: string) {
    let ready: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    this.ready = new Promise((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    this.request = get(url, (response) => {
      this.response = response;
      this.status = response.statusCode ?? 0;
      this.contentType = String(response.headers['content-type'] ?? '');
      response.on('data', (chunk: Buffer) => this.take(chunk));
      response.on('end', () => {
        this.ended = true;
      });
      response.on('error', () => {
        this.ended = true;
      });
      ready();
    });
    this.request.on('error', failed);
  }

  /** Resolves once `count` parts have arrived in total. */
  waitForParts(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.parts.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.parts.length} of ${count} MJPEG parts within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  pause(): void {
    this.response?.pause();
  }

  close(): void {
    this.request.destroy();
  }

  // Parts are split on the boundary, as browsers do (the server sends no Content-Length). Chunks
  // are only joined once a delimiter has arrived, so a 1 MB part is not copied once per chunk.
  private take(chunk: Buffer): void {
    const seam = Buffer.concat([this.tail, chunk.subarray(0, PART_DELIMITER.length)]);
    const complete = chunk.includes(PART_DELIMITER) || seam.includes(PART_DELIMITER);
    this.chunks.push(chunk);
    this.tail = Buffer.from(chunk.subarray(Math.max(0, chunk.length - PART_DELIMITER.length)));
    if (!complete) return;
    let pending = Buffer.concat(this.chunks);
    for (;;) {
      const headEnd = pending.indexOf('\r\n\r\n');
      if (headEnd < 0) break;
      const bodyStart = headEnd + 4;
      const bodyEnd = pending.indexOf(PART_DELIMITER, bodyStart);
      if (bodyEnd < 0) break;
      this.parts.push({ jpeg: Buffer.from(pending.subarray(bodyStart, bodyEnd)), receivedAt: Date.now() });
      pending = pending.subarray(bodyEnd + 2);
    }
    this.chunks = [pending];
    this.waiters = this.waiters.filter((waiter) => {
      if (this.parts.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
  }
}

/** A FrameSource whose picture is a solid colour (or noise) the test sets, and whose damage it fires. */
export class FakeSource implements FrameSource {
  readonly transport = 'test';
  detection: ChangeDetection;
  captures = 0;
  fallbackReason: string | null = null;
  private rgb: Buffer;
  private dirty = false;
  private held: Promise<void> | null = null;
  private unhold: () => void = () => {};
  private wake: (() => void) | null = null;
  private lostResolve: (error: Error) => void = () => {};
  readonly lost: Promise<Error>;

  constructor(
    readonly width: number,
    readonly height: number,
    options: { detection?: ChangeDetection } = {},
  ) {
    this.detection = options.detection ?? 'damage';
    this.rgb = Buffer.alloc(width * height * 3);
    this.lost = new Promise((resolve) => {
      this.lostResolve = resolve;
    });
  }

  /** Changes the picture; with `damage`, also reports it as DAMAGE would. */
  paint(rgb: Buffer | { r: number; g: number; b: number }, options: { damage?: boolean } = {}): void {
    if (Buffer.isBuffer(rgb)) this.rgb = Buffer.from(rgb);
    else {
      const next = Buffer.alloc(this.width * this.height * 3);
      for (let i = 0; i < next.length; i += 3) {
        next[i] = rgb.r;
        next[i + 1] = rgb.g;
        next[i + 2] = rgb.b;
      }
      this.rgb = next;
    }
    if (options.damage !== false) {
      this.dirty = true;
      this.wake?.();
    }
  }

  pixels(): Buffer {
    return Buffer.from(this.rgb);
  }

  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.dirty && this.detection === 'damage') return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = null;
        resolve(value);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort);
      if (this.detection === 'damage') this.wake = () => finish(true);
    });
  }

  fallBackToPolling(reason: string): void {
    this.detection = 'polling';
    this.fallbackReason = reason;
  }

  /** Captures wait from now until `releaseCaptures()`: requests pile up behind one capture. */
  holdCaptures(): void {
    this.held ??= new Promise((resolve) => {
      this.unhold = resolve;
    });
  }

  releaseCaptures(): void {
    this.held = null;
    this.unhold();
  }

  async capture(): Promise<Picture> {
    if (this.held) await this.held;
    this.dirty = false;
    this.captures++;
    const rgb = this.rgb;
    return { width: this.width, height: this.height, writeRGB: (target) => rgb.copy(target) };
  }

  die(error: Error): void {
    this.lostResolve(error);
  }

  async close(): Promise<void> {}
}

export function noise(size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buffer[i] = (Math.random() * 256) | 0;
  return buffer;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; fails after `timeoutMs` saying what was awaited. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`);
    await delay(20);
  }
}

/**
 * A raw TCP client: writes `request` as given (no HTTP library to tidy it up), collects what the
 * server sends and notes when the server closes the connection. `read: false` never reads.
 */
export class RawClient {
  readonly socket: Socket;
  received = '';
  closed = false;
  readonly connected: Promise<void>;

  constructor(port: number, request = '', options: { read?: boolean } = {}) {
    this.socket = connect(port, '127.0.0.1');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
    });
    if (options.read === false) this.socket.pause();
    else
      this.socket.on('data', (chunk: Buffer) => {
        this.received += chunk.toString('latin1');
      });
    if (request) this.socket.write(request);
  }

  /** The status code of the first response received, or 0. */
  get status(): number {
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(this.received)?.[1] ?? 0);
  }

  /** Resolves once the server has closed the connection. */
  whenClosed(what: string, timeoutMs = 10_000): Promise<void> {
    return waitUntil(() => this.closed, what, timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface TestXvfb {
  display: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Xvfb on a display number it picks itself (-displayfd), with -noreset so drawings persist. */
export function startTestXvfb(
  width: number,
  height: number,
  depth: number,
  extraArgs: string[] = [],
): Promise<TestXvfb> {
  const child = spawn(
    'Xvfb',
    [
      '-displayfd',
      '3',
      '-noreset',
      '-nolisten',
      'tcp',
      '-screen',
      '0',
      `${width}x${height}x${depth}`,
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let text = '';
    let errors = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`Xvfb did not report a display within 10 s: ${errors}`));
    }, 10_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (!text.includes('\n')) return;
      clearTimeout(timer);
      (child.stdio[3] as Readable).destroy();
      resolve({ display: `:${text.trim()}`, process: child, stop });
    });
  });
}

/**
 * Runs a command to completion; resolves stdout (as bytes), rejects with stderr on failure (with
 * `ignoreStatus`, only when it could not run at all: ImageMagick's `display -window root` paints
 * and then exits 1).
 */
export function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  options: { ignoreStatus?: boolean } = {},
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        if (error && !(options.ignoreStatus && typeof error.code === 'number'))
          reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr.toString()}`));
        else resolve(stdout);
      },
    );
  });
}

/** Shared memory segments whose creator is `pid`, from `ipcs -m -p` (shmid owner cpid lpid). */
export async function segmentsCreatedBy(pid: number): Promise<number[]> {
  const text = (await run('ipcs', ['-m', '-p'])).toString();
  const ids: number[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length >= 4 && /^\d+$/.test(fields[0]!) && Number(fields[2]) === pid)
      ids.push(Number(fields[0]));
  }
  return ids;
}

/**
 * Debian's headless Chromium in a fresh profile, with the flags this machine needs (no background
 * networking: its connections are refused here). close() ends it, then removes the profile.
 */
export async function launchChromium(viewport: {
  width: number;
  height: number;
}): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'xshot-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
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
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
