// Where a shot goes: a named file, stdout, or xshot-YYYYMMDD-HHMMSS.png in the current folder.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** `xshot-YYYYMMDD-HHMMSS.EXT` for `date` in local time. */
export function defaultFileName(date: Date, extension = 'png'): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}${two(date.getMonth() + 1)}${two(date.getDate())}`;
  const time = `${two(date.getHours())}${two(date.getMinutes())}${two(date.getSeconds())}`;
  return `xshot-${day}-${time}.${extension}`;
}

/** A default path in `folder` that does not exist yet (a second shot in the same second gets `-2`). */
export function freshDefaultPath(folder: string, date: Date, extension = 'png'): string {
  const base = defaultFileName(date, extension);
  let path = join(folder, base);
  for (let n = 2; existsSync(path); n++)
    path = join(folder, base.replace(`.${extension}`, `-${n}.${extension}`));
  return path;
}

/** Writes to stdout, waiting for it to drain (a pipe may be slower than the encoder). */
export function writeStdout(data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

export async function writeOutput(target: string, data: Buffer): Promise<void> {
  if (target === '-') return writeStdout(data);
  try {
    await writeFile(target, data);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`cannot write ${target}: ${code} — check that the folder exists and is writable`);
  }
}
