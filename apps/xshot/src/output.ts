// Where a shot goes: a named file, stdout, or xshot-YYYYMMDD-HHMMSS.png in the current folder; and an image
// read from stdin (`xshot view -`). I/O errors become messages that say what failed, never stack traces.
// node:fs with callbacks, not node:fs/promises: the promises module pulls in readline and fs watchers at
// load (~1.5 ms of a whole shot) and one write needs none of it.
import { close, existsSync, open, writev } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeError, isClosedPipe } from '@xshm/shm/cli-args';

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

/**
 * Writes to stdout, waiting for it to drain (a pipe may be slower than the encoder). Rejects with the
 * EPIPE error itself when the reader has gone (the program ends quietly on it), else with a message.
 */
export function writeStdout(data: Buffer | readonly Buffer[]): Promise<void> {
  const parts = Buffer.isBuffer(data) ? [data] : data;
  return new Promise((resolve, reject) => {
    for (const part of parts.slice(0, -1)) process.stdout.write(part);
    process.stdout.write(parts.at(-1) ?? Buffer.alloc(0), (error) => {
      if (!error) resolve();
      else reject(isClosedPipe(error) ? error : new Error(`cannot write to stdout: ${describeError(error)}`));
    });
  });
}

/**
 * Binary output to a terminal garbles it, as curl says: refuse unless forced. `file` '-' is stdout.
 */
export function refuseTerminal(file: string | undefined, force: boolean | undefined): void {
  if (file === '-' && !force && process.stdout.isTTY) {
    throw new Error(
      'not writing an image to the terminal; redirect it (xshot shot - > shot.png, or | display -) or add --force',
    );
  }
}

/** All of stdin, for `-` as an input file; refuses a terminal (nothing would come but typing). */
export async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) throw new Error("'-' reads an image from stdin, which is a terminal; pipe one in");
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  } catch (error) {
    throw new Error(`cannot read stdin: ${describeError(error)}`);
  }
  return Buffer.concat(chunks);
}

/** Writes `data` (one buffer, or the parts of a file in order: one writev, no join) to a file or '-'. */
export async function writeOutput(target: string, data: Buffer | readonly Buffer[]): Promise<void> {
  if (target === '-') return writeStdout(data);
  try {
    await writeFileParts(target, Buffer.isBuffer(data) ? [data] : data);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT' || code === 'EACCES' || code === 'EROFS' || code === 'EISDIR'
        ? ' — check that the folder exists and is writable'
        : '';
    throw new Error(`cannot write ${target}: ${describeError(error)}${hint}`);
  }
}

const openFile = promisify(open);
const closeFile = promisify(close);
const writeParts = (fd: number, parts: readonly Buffer[]): Promise<number> =>
  new Promise((resolve, reject) => {
    writev(fd, parts, (error, written) => (error ? reject(error) : resolve(written)));
  });

/** Creates or truncates `path` and writes the parts with writev, continuing after a short write. */
async function writeFileParts(path: string, parts: readonly Buffer[]): Promise<void> {
  const fd = await openFile(path, 'w', 0o666);
  try {
    let pending = parts.filter((part) => part.length > 0);
    while (pending.length > 0) {
      let written = await writeParts(fd, pending);
      while (pending.length > 0 && written >= pending[0]!.length) {
        written -= pending[0]!.length;
        pending = pending.slice(1);
      }
      if (written > 0) pending = [pending[0]!.subarray(written), ...pending.slice(1)];
    }
  } finally {
    await closeFile(fd);
  }
}
