// A V8 code cache for the CommonJS modules xshot loads (its own, x11, koffi's loader, @xshm/*), kept in the
// user's cache folder. Node 20 compiles every module from source on every run; for a one-shot command
// that is a large share of the process. Measured on the reference machine, `xshot shot` 1080p PNG, median of
// 31 alternating runs (wall) and hyperfine means (user CPU): no cache 123 ms / 125 ms; code cached right after
// compiling (top-level code only) 119 / 120; code cached after the run (with the functions compiled on the
// way, what this does) 114 / 105. Node >= 22 has module.enableCompileCache() for this; on Node 20 the bin
// installs this hook before loading anything else.

import {
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
  _resolveFilename(
    request: string,
    parent: LoadingModule | undefined,
    isMain: boolean,
    options?: unknown,
  ): string;
  _resolveLookupPaths(request: string, parent: LoadingModule): string[] | null;
  _extensions: unknown;
  _cache: unknown;
  isBuiltin(request: string): boolean;
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
  const saveResolutions = memoizeResolution(internals, folder);
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
    saveResolutions();
    if (fresh.length > 0) prune(folder, Date.now());
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

/**
 * Entries older than this are removed whenever the cache writes new ones (after a build or an upgrade,
 * rarely otherwise), so old builds' code does not pile up; an entry still in use is rebuilt on its next run.
 */
const MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;

function prune(folder: string, now: number): void {
  try {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (now - statSync(path).mtimeMs > MAX_AGE_MS) unlinkSync(path);
    }
  } catch {
    // Left for the next write to try again.
  }
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

/**
 * Where a require() led, and what the answer depended on: the folder of the resolved file (adding or
 * removing a file there changes its mtime) and, for a package name, the `node_modules/NAME` entry it was
 * found through and that package's package.json (an install or upgrade replaces the link, an edit of
 * "exports" changes the manifest).
 */
interface Resolution {
  filename: string;
  folderMtimeMs: number;
  link?: { path: string; ino: number; mtimeMs: number; manifestMtimeMs: number };
}

/**
 * The file in the cache folder that holds the resolutions of one command of one installation (the main
 * script and the first argument, e.g. `shot`): each command loads a fixed set of modules, so its file
 * stays small. One file for everything grew with every checkout and command to ~200 KB, whose JSON.parse
 * (and the young-generation GC it caused) cost every run ~1.5 ms.
 */
function resolutionsFile(folder: string): string {
  const command = `${process.argv[1] ?? ''}\0${process.argv[2] ?? ''}`;
  return join(folder, `resolutions-${crc32(command).toString(16)}.json`);
}

/**
 * Remembers where each require() of a file or package led (Module._resolveFilename), in `folder`, and
 * answers later runs from it after checking that what it depended on is unchanged. Resolving costs Node a
 * walk of node_modules folders, package.json reads and, for a package with "exports", its ESM resolver:
 * 68 resolutions took 8-10 ms of a 1080p `xshot shot`; answering them from here, checks included, 1-2 ms. Built-in
 * modules, the main module and calls with options (require.resolve with `paths`) are left to Node.
 * Returns the function that saves new answers (called at exit).
 */
function memoizeResolution(internals: ModuleInternals, folder: string): () => void {
  const file = resolutionsFile(folder);
  let known: Record<string, Resolution> = {};
  try {
    known = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Resolution>;
  } catch {
    known = {};
  }
  let changed = false;
  // Folder mtimes looked up in this run: many files share a folder (one stat each, not one per require).
  const folderMtimes = new Map<string, number>();
  const folderMtime = (path: string): number => {
    let mtime = folderMtimes.get(path);
    if (mtime === undefined) {
      mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? -1;
      folderMtimes.set(path, mtime);
    }
    return mtime;
  };
  const resolve = internals._resolveFilename;
  internals._resolveFilename = function resolveRemembered(request, parent, isMain, options) {
    const from = parent?.filename;
    if (options !== undefined || isMain || !from || internals.isBuiltin(request))
      return resolve.call(this, request, parent, isMain, options);
    const key = `${from}\0${request}`;
    const remembered = known[key];
    if (remembered && remembered.folderMtimeMs === folderMtime(dirname(remembered.filename))) {
      if (!remembered.link || linkUnchanged(remembered.link)) return remembered.filename;
    }
    const filename = resolve.call(this, request, parent, isMain, options);
    const resolution = describe(internals, request, parent, filename, folderMtime(dirname(filename)));
    if (resolution) known[key] = resolution;
    else delete known[key];
    changed = true;
    return filename;
  };
  return () => {
    if (!changed) return;
    try {
      const temporary = `${file}.${process.pid}`;
      writeFileSync(temporary, JSON.stringify(known), { mode: 0o600 });
      renameSync(temporary, file);
    } catch {
      // Not saved: the next run resolves the usual way.
    }
  };
}

/** What a fresh resolution depended on, or undefined when it cannot be checked later (then not kept). */
function describe(
  internals: ModuleInternals,
  request: string,
  parent: LoadingModule,
  filename: string,
  folderMtimeMs: number,
): Resolution | undefined {
  if (request.startsWith('.') || request.startsWith('/')) return { filename, folderMtimeMs };
  const name = request.split('/', request.startsWith('@') ? 2 : 1).join('/');
  for (const base of internals._resolveLookupPaths(request, parent) ?? []) {
    const path = join(base, name);
    const link = lstatSync(path, { throwIfNoEntry: false });
    if (!link) continue;
    const manifest = statSync(join(path, 'package.json'), { throwIfNoEntry: false });
    return {
      filename,
      folderMtimeMs,
      link: { path, ino: link.ino, mtimeMs: link.mtimeMs, manifestMtimeMs: manifest?.mtimeMs ?? -1 },
    };
  }
  return undefined;
}

function linkUnchanged(link: NonNullable<Resolution['link']>): boolean {
  const now = lstatSync(link.path, { throwIfNoEntry: false });
  const manifest = statSync(join(link.path, 'package.json'), { throwIfNoEntry: false });
  return (
    now?.ino === link.ino &&
    now.mtimeMs === link.mtimeMs &&
    (manifest?.mtimeMs ?? -1) === link.manifestMtimeMs
  );
}
