// Test helpers: a private Xvfb per suite, pictures made and read by ImageMagick (tools no one here wrote).

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const scratch = mkdtempSync(join(tmpdir(), 'mit-shm-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A deterministic, busy 8-bit picture (so the server shows exactly the file at depth 24). */
export function makePicture(width: number, height: number, seed = 7): string {
  const file = join(scratch, `plasma-${width}x${height}-${seed}.png`);
  execFileSync('convert', ['-seed', String(seed), '-size', `${width}x${height}`, 'plasma:fractal', '-depth', '8', file]);
  return file;
}

/** Make `file` the root window's background (ImageMagick display -window root). */
export function paintRoot(display: string, file: string): void {
  // display -window root paints and exits with status 1 even when it worked; judge by stderr.
  const run = spawnSync('display', ['-display', display, '-window', 'root', file], { timeout: 20_000 });
  const stderr = run.stderr?.toString().trim();
  if (run.error || stderr || (run.status !== 0 && run.status !== 1))
    throw new Error(`display -window root ${file} failed (status ${run.status}): ${stderr || run.error?.message}`);
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
