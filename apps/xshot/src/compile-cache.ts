// A V8 code cache for the CommonJS modules xshot loads (its own, x11, koffi's loader, @xshm/*), kept in the
// user's cache folder. Node 20 compiles every module from source on every run; for a one-shot command
// that is a large share of the process. Measured on the reference machine, `xshot shot` 1080p PNG, median of
// 31 alternating runs (wall) and hyperfine means (user CPU): no cache 123 ms / 125 ms; code cached right after
// compiling (top-level code only) 119 / 120; code cached after the run (with the functions compiled on the
// way, what this does) 114 / 105. Node >= 22 has module.enableCompileCache() for this; on Node 20 the bin
// installs this hook before loading anything else.

import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

/** The parts of Node's CommonJS Module that the hook uses (internal API, stable since Node 0.x). */
interface LoadingModule {
  exports: unknown;
  filename: string;
  require(id: string): unknown;
  _compile(content: string, filename: string): unknown;
}
interface ModuleInternals {
  prototype: LoadingModule;
  wrap(content: string): string;
  _resolveFilename(request: string, parent: LoadingModule, isMain: boolean, options?: unknown): string;
  _resolveLookupPaths(request: string, parent: LoadingModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
}

/**
 * Compiles modules loaded from now on with cached code from `folder` (default
 * `$XDG_CACHE_HOME/xshot/v8-<node version>-<arch>`, else `~/.cache/...`), and at exit saves code for those
 * that had none. The folder is created 0700: cached code is trusted, so only its owner may write there.
 * Anything that goes wrong (no home, a read-only disk, stale data V8 rejects) falls back to Node's own
 * compile; it never changes what a module does. A no-op when XSHOT_COMPILE_CACHE=0 or when node:zlib has
 * no crc32 (Node < 20.15).
 */
export function enableCompileCache(folder = defaultFolder()): void {
  if (process.env.XSHOT_COMPILE_CACHE === '0' || typeof crc32 !== 'function' || !folder) return;
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    // Cached code runs as ours: a folder someone else owns or may write to is not used.
    const { uid, mode } = statSync(folder);
    if (uid !== process.getuid?.() || (mode & 0o022) !== 0) return;
  } catch {
    return;
  }
  const internals = Module as unknown as ModuleInternals;
  const compile = internals.prototype._compile;
  const fresh: { path: string; script: Script }[] = [];
  internals.prototype._compile = function compileCached(
    this: LoadingModule,
    content: string,
    filename: string,
  ) {
    // A shebang is not valid inside the wrapper, and vm.Script has no loader for import().
    if (content.startsWith('#!') || content.includes('import(')) return compile.call(this, content, filename);
    const path = join(
      folder,
      `${crc32(filename).toString(16)}-${crc32(content).toString(16)}-${content.length}`,
    );
    let cachedData: Buffer | undefined;
    try {
      cachedData = readFileSync(path);
    } catch {
      cachedData = undefined;
    }
    const script = new Script(internals.wrap(content), { filename, cachedData });
    if (cachedData === undefined || script.cachedDataRejected) fresh.push({ path, script });
    return runWrapped(internals, this, script, filename);
  };
  process.once('exit', () => {
    for (const { path, script } of fresh) {
      try {
        // Written after the run, so functions compiled lazily on the way are in the cache too.
        const temporary = `${path}.${process.pid}`;
        writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
        renameSync(temporary, path);
      } catch {
        // A cache that cannot be written only costs the next run its speed-up.
      }
    }
  });
}

/** Runs a module's compiled wrapper the way Node's loader does, with a `require` bound to the module. */
function runWrapped(
  internals: ModuleInternals,
  module: LoadingModule,
  script: Script,
  filename: string,
): unknown {
  const wrapper = script.runInThisContext({ displayErrors: true }) as (
    exports: unknown,
    require: NodeJS.Require,
    module: LoadingModule,
    filename: string,
    dirname: string,
  ) => unknown;
  const require = ((id: string) => module.require(id)) as NodeJS.Require;
  const resolve = ((request: string, options?: unknown) =>
    internals._resolveFilename(request, module, false, options)) as NodeJS.RequireResolve;
  resolve.paths = (request: string) => internals._resolveLookupPaths(request, module);
  require.resolve = resolve;
  require.main = process.mainModule;
  (require as { extensions: unknown }).extensions = internals._extensions;
  (require as { cache: unknown }).cache = internals._cache;
  return wrapper.call(module.exports, module.exports, require, module, filename, dirname(filename));
}

function defaultFolder(): string | undefined {
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : undefined);
  return base ? join(base, 'xshot', `v8-${process.version}-${process.arch}`) : undefined;
}
