// Loads dist/xshot.cjs (the bundle: xshot, @xshm/*, x11's core) from a V8 code cache kept in the user's
// cache folder. Node 20 compiles every script from source on every run, and one screenshot is a whole
// process. Node >= 22.1 has module.enableCompileCache(), which does this for every module: there it is
// used instead. Only public APIs: vm.Script with cachedData, and module.createRequire for the bundle's
// own require() of koffi, sharp and the rest, which resolve as Node resolves them.
//
// Measured (1080p `xshot shot` to PNG on Xvfb, whole process, 60 alternating runs on a VM at load ~10, CPU
// medians): 267.5 ms with this cache, 298.7 ms without. The hook it replaced, which patched
// Module.prototype._compile for every module and remembered Module._resolveFilename's answers, measured
// 257.4 ms in that run (268.6 without the resolutions) and 299.6 against 297.2 in another: within the noise
// once the bundle had cut a shot to about six module files, and a remembered ./foo/index.js could hide a
// new ./foo.js.

import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import * as nodeModule from 'node:module';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

/** The CommonJS wrapper, as Node's loader puts it around a module. */
const wrap = (source: string): string =>
  `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;

type Wrapper = (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;

/**
 * Loads the CommonJS file `filename` (the bundle) and returns its exports, compiled from cached code
 * in `folder` when there is some for exactly this content, and saving code for the next run at exit.
 * Without a usable cache (XSHOT_COMPILE_CACHE=0, no home, a folder someone else may write to, V8
 * rejecting the data) it compiles from source: the module does the same either way.
 */
export function loadCached(filename: string, folder = defaultFolder()): unknown {
  const enable = (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache;
  if (process.env.XSHOT_COMPILE_CACHE === '0' || typeof enable === 'function' || !folder || !crc32) {
    if (process.env.XSHOT_COMPILE_CACHE !== '0') enable?.();
    return require(filename);
  }
  const source = readFileSync(filename, 'utf8');
  const path = join(folder, `${crc32(source).toString(16)}-${source.length}`);
  let cachedData: Buffer | undefined;
  if (trusted(folder)) {
    try {
      cachedData = readFileSync(path);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new Script(wrap(source), { filename, ...(cachedData ? { cachedData } : {}) });
  if (cachedData === undefined || script.cachedDataRejected) {
    // Saved after the run, so the functions compiled on the way are in the cache too.
    process.once('exit', () => save(folder, path, script));
  }
  const module = { exports: {} as unknown };
  const run = script.runInThisContext() as Wrapper;
  run.call(module.exports, module.exports, createRequire(filename), module, filename, dirname(filename));
  return module.exports;
}

/** Cached code runs as ours: only a folder we own and nobody else may write to is used. */
function trusted(folder: string): boolean {
  try {
    const { uid, mode } = statSync(folder);
    return uid === process.getuid?.() && (mode & 0o022) === 0;
  } catch {
    return false;
  }
}

function save(folder: string, path: string, script: Script): void {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (!trusted(folder)) return;
    prune(folder, Date.now());
    const temporary = `${path}.${process.pid}`;
    writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
    renameSync(temporary, path);
  } catch {
    // A cache that cannot be written only costs the next run its speed-up.
  }
}

/**
 * Entries older than this go whenever a new one is written (after a build or an upgrade), so old builds'
 * code does not pile up; an entry still in use is written again on its next run.
 */
const MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

function prune(folder: string, now: number): void {
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (now - statSync(path).mtimeMs > MAX_AGE_MS) unlinkSync(path);
  }
}

function defaultFolder(): string | undefined {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  return base ? join(base, 'xshot', `v8-${process.version}-${process.arch}`) : undefined;
}
