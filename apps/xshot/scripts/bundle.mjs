// Builds dist/xshot.cjs, the one file bin/xshot.js runs: dist/cli.js (tsc's output) with xshot's modules,
// @xshm/mit-shm, @xshm/shm and the core of x11 in it. A screenshot is a whole process, and Node spends
// ~0.3 ms on every module file even from the code cache (resolution, package-scope reads, reads, compile):
// measured on a 1080p `xshot shot`, 30 alternating runs, our own modules in one file saved ~3 ms and x11's
// core ~5 ms more.
//
// Left as packages: koffi (a native addon), sharp (native, and loaded only for lossy formats),
// playwright-core (tests), @xshm/framebus (runs a worker from its own file), and
// the x11 extensions xshot never asks for, which stay lazy requires of x11's own files. Those files are the
// user's copy of x11, without our patch (patches/README.md): package.json pins x11 to the exact version
// bundled here, so that they always match the bundled core.
import { build } from 'esbuild';

/** x11 extensions xshot uses: bundled, so they share the bundled core (each does `require('..')`). */
const USED_EXTENSIONS = new Set([
  'shm',
  'big-requests',
  'fixes',
  'randr',
  'xinerama',
  'damage',
  'composite',
  'xtest',
]);

await build({
  entryPoints: [new URL('../dist/cli.js', import.meta.url).pathname],
  outfile: new URL('../dist/xshot.cjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  external: ['koffi', 'sharp', 'playwright-core', '@xshm/framebus', 'ws'],
  plugins: [
    {
      name: 'x11-lazy-parts',
      setup(esbuild) {
        // x11 loads its extensions (and its server, keysyms, GC functions) lazily by relative path; the ones
        // xshot does not use stay files of the x11 package, required by package path when asked for.
        esbuild.onResolve({ filter: /^\.\/(ext\/[\w-]+|xserver|keysyms|gcfunction|fdpass-bun)$/ }, (args) => {
          if (!/[\\/]x11[\\/]lib$/.test(args.resolveDir)) return undefined;
          const part = args.path.slice(2);
          if (part.startsWith('ext/') && USED_EXTENSIONS.has(part.slice(4))) return undefined;
          return { path: `x11/lib/${part}`, external: true };
        });
      },
    },
  ],
});
