// Test helpers: a private Xvfb per suite, pictures made and read by ImageMagick (tools no one here wrote).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { sessionOf } from '../src/session';

export const scratch = mkdtempSync(join(tmpdir(), 'mit-shm-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A deterministic, busy 8-bit picture (so the server shows exactly the file at depth 24). */
export function makePicture(width: number, height: number, seed = 7): string {
  const file = join(scratch, `plasma-${width}x${height}-${seed}.png`);
  execFileSync('convert', [
    '-seed',
    String(seed),
    '-size',
    `${width}x${height}`,
    'plasma:fractal',
    '-depth',
    '8',
    file,
  ]);
  return file;
}

/** Make `file` the root window's background (ImageMagick display -window root). */
export function paintRoot(display: string, file: string): void {
  // display -window root paints and exits with status 1 even when it worked; judge by stderr.
  const run = spawnSync('display', ['-display', display, '-window', 'root', file], { timeout: 20_000 });
  const stderr = run.stderr?.toString().trim();
  if (run.error || stderr || (run.status !== 0 && run.status !== 1))
    throw new Error(
      `display -window root ${file} failed (status ${run.status}): ${stderr || run.error?.message}`,
    );
}

/** RGB bytes of a window (default root) region, read by ImageMagick import. */
export function importRGB(
  display: string,
  region: { x: number; y: number; width: number; height: number },
  window = 'root',
): Buffer {
  return execFileSync(
    'import',
    [
      '-display',
      display,
      '-window',
      window,
      '-crop',
      `${region.width}x${region.height}+${region.x}+${region.y}`,
      '+repage',
      '-depth',
      '8',
      'rgb:-',
    ],
    { maxBuffer: 64 * 1024 * 1024, timeout: 20_000 },
  );
}

/** Drop the alpha byte of RGBA. */
export function rgbOf(rgba: Buffer): Buffer {
  const out = Buffer.alloc((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4) {
    out[o++] = rgba[i]!;
    out[o++] = rgba[i + 1]!;
    out[o++] = rgba[i + 2]!;
  }
  return out;
}

/** The first differing pixel, for a readable failure instead of a megabyte diff. */
export function firstDifference(a: Buffer, b: Buffer, width: number): string | null {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  const i = a.compare(b) === 0 ? -1 : a.findIndex((v, k) => v !== b[k]);
  if (i < 0) return null;
  const pixel = Math.floor(i / 3);
  return `pixel (${pixel % width}, ${Math.floor(pixel / width)}): ${[...a.subarray(pixel * 3, pixel * 3 + 3)]} vs ${[...b.subarray(pixel * 3, pixel * 3 + 3)]}`;
}

/** Pack RGB bytes into a ZPixmap of `format` (32 bpp BGRX or 16 bpp RGB565), rows `stride` apart. */
export function packRGB(
  rgb: Buffer,
  width: number,
  height: number,
  target: Buffer,
  stride: number,
  bitsPerPixel: number,
): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const [r, g, b] = [rgb[s]!, rgb[s + 1]!, rgb[s + 2]!];
      if (bitsPerPixel === 32) {
        const o = y * stride + x * 4;
        target[o] = b;
        target[o + 1] = g;
        target[o + 2] = r;
        target[o + 3] = 0;
      } else {
        target.writeUInt16LE(((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3), y * stride + x * 2);
      }
    }
  }
}

/** Keep the bits a 16-bit RGB565 pixel holds (5, 6, 5), so depth-16 results compare exactly. */
export function quantize565(rgb: Buffer): Buffer {
  const out = Buffer.from(rgb);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = out[i]! >> 3;
    out[i + 1] = out[i + 1]! >> 2;
    out[i + 2] = out[i + 2]! >> 3;
  }
  return out;
}

/** RGB bytes of a picture file at its own size. */
export function fileRGB(file: string): Buffer {
  return execFileSync('convert', [file, '-depth', '8', 'rgb:-'], { maxBuffer: 64 * 1024 * 1024 });
}

/** Crop RGB rows. */
export function cropRGB(
  rgb: Buffer,
  width: number,
  region: { x: number; y: number; width: number; height: number },
) {
  const out = Buffer.alloc(region.width * region.height * 3);
  for (let y = 0; y < region.height; y++)
    rgb.copy(
      out,
      y * region.width * 3,
      ((region.y + y) * width + region.x) * 3,
      ((region.y + y) * width + region.x + region.width) * 3,
    );
  return out;
}

export const FIXTURES = join(__dirname, 'fixtures');
/** The workspace's TypeScript runner for child processes (scripts/run-ts.cjs). */
export const RUN_TS = join(__dirname, '../../../scripts/run-ts.cjs');

/** RandR 1.5 SetMonitor (what `xrandr --setmonitor NAME WxH+X+Y none` sends): a monitor with no outputs. */
export async function setMonitor(
  display: import('../src').Display,
  name: string,
  x: number,
  y: number,
  width: number,
  height: number,
): Promise<void> {
  const client = sessionOf(display).wire.client;
  const atom = await sessionOf(display).wire.internAtom(name);
  const randr = await new Promise<{ majorOpcode: number }>((resolve, reject) =>
    client.require('randr', (err, ext) => (err ? reject(err) : resolve(ext))),
  );
  await sessionOf(display).wire.checked('RRSetMonitor', () => {
    client.seq_num++;
    const request = Buffer.alloc(32);
    request.writeUInt8(randr.majorOpcode, 0);
    request.writeUInt8(43, 1);
    request.writeUInt16LE(8, 2);
    request.writeUInt32LE(display.root, 4);
    request.writeUInt32LE(atom, 8);
    request.writeUInt8(0, 12); // primary
    request.writeUInt8(0, 13); // automatic
    request.writeUInt16LE(0, 14); // no outputs
    request.writeInt16LE(x, 16);
    request.writeInt16LE(y, 18);
    request.writeUInt16LE(width, 20);
    request.writeUInt16LE(height, 22);
    request.writeUInt32LE(width, 24);
    request.writeUInt32LE(height, 28);
    client.pack_stream.put(request);
    client.pack_stream.submit(false);
  });
}

/** An Xvfb with arguments startXvfb does not offer (-auth, -extension, +xinerama): for the few tests that need them. */
export async function spawnXvfb(args: string[]): Promise<{ display: string; stop(): Promise<void> }> {
  const server = spawn('Xvfb', ['-displayfd', '3', '-noreset', '-nolisten', 'tcp', ...args], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const stop = async (): Promise<void> => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.kill();
    await new Promise((resolve) => server.once('exit', resolve));
  };
  const display = await new Promise<string>((resolve, reject) => {
    let text = '';
    (server.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    server.once('exit', (code) => reject(new Error(`Xvfb ${args.join(' ')} exited (${code})`)));
  });
  return { display, stop };
}
