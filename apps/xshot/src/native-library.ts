// A system library opened through koffi (which a shot has loaded already, for @xshm/shm), once per
// process and path. The encoders that use one (jpeg.ts, webp.ts) fall back to sharp when it is missing, so
// a failure to load is a value that says why, not an exception. koffi is required on first use, so that
// `xshot shot --help`, which loads the encoders' modules, loads no native addon.
import type Koffi from 'koffi';

export type Library = ReturnType<typeof Koffi.load>;

function koffi(): typeof Koffi {
  return require('koffi') as typeof Koffi;
}

const opened = new Map<string, unknown>();

/**
 * `bind(library)` for the library at `path`, or the Error that says why it could not be loaded
 * (`<path> not loaded: <reason>`). Remembered per path.
 */
export function openOnce<T>(path: string, bind: (library: Library) => T): T | Error {
  let found = opened.get(path) as T | Error | undefined;
  if (found === undefined) {
    try {
      found = bind(koffi().load(path));
    } catch (error) {
      found = new Error(`${path} not loaded: ${(error as Error).message}`);
    }
    opened.set(path, found);
  }
  return found;
}

/** A copy of `size` bytes a library allocated at `address` (the caller frees the library's buffer). */
export function copyOut(address: bigint, size: number): Buffer {
  return Buffer.from(new Uint8Array(koffi().view(address, size)));
}
