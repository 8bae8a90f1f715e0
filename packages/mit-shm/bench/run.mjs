// Benchmark (not a test): serial capture and put frames per second on a private Xvfb 1920x1080x24, for
// @xshm/mit-shm's transports, a C client on libxcb-shm (bench/xcb-shm.c), x11's built-in MIT-SHM provider
// and core GetImage/PutImage; plus frames() throughput. One table, ratios against C measured in this run.
//   pnpm bench            (after a build: it imports dist/)
//   node bench/run.mjs [SECONDS per measurement, default 0.5] [ROUNDS, default 5]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const WIDTH = 1920;
const HEIGHT = 1080;
const SECONDS = Number(process.argv[2] ?? 0.5);
const ROUNDS = Number(process.argv[3] ?? 5);

if (!existsSync(join(here, '../dist/index.js'))) {
  console.error(
    'bench: dist/ is missing; build first: pnpm --filter @xshm/mit-shm build (or pnpm bench from the root)',
  );
  process.exit(1);
}
const { connect, startXvfb } = require('../dist/index.js');
const x11 = require('x11');

/** Compile the C yardstick when missing or older than its source. */
function cClient() {
  const source = join(here, 'xcb-shm.c');
  const binary = join(here, 'bin/xcb-shm');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(join(here, 'bin'), { recursive: true });
    try {
      execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source, '-lxcb', '-lxcb-shm'], { stdio: 'inherit' });
    } catch {
      console.error(
        'bench: cannot compile bench/xcb-shm.c; install gcc and libxcb-shm0-dev (apt-get install gcc libxcb-shm0-dev)',
      );
      return null;
    }
  }
  return binary;
}

/** Run `step` (async) back to back for SECONDS; returns calls per second. */
async function rate(step) {
  for (let i = 0; i < 3; i++) await step(); // warm up
  let count = 0;
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    await step();
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

/** @xshm/mit-shm on one transport: serial image.get, serial image.put (+ completion), frames(). */
async function ours(displayName, transport) {
  const display = await connect({ display: displayName, transport });
  const image = display.createImage(WIDTH, HEIGHT);
  return {
    /** Capture plus work on every frame (toRGBA): serial, then frames(), where the work overlaps the next capture. */
    async measureWithWork() {
      const out = Buffer.alloc(WIDTH * HEIGHT * 4);
      const capture = await rate(async () => {
        await image.get(display.root, 0, 0);
        image.toRGBA(out);
      });
      let frames = 0;
      const start = performance.now();
      for await (const frame of display.frames()) {
        frame.toRGBA(out);
        frames++;
        if (frame.timestamp - start > SECONDS * 1000) break;
      }
      return { capture, put: null, frames: frames / ((performance.now() - start) / 1000) };
    },
    async measure() {
      const capture = await rate(() => image.get(display.root, 0, 0));
      const put = await rate(() => image.put(display.root));
      let frames = 0;
      const start = performance.now();
      for await (const frame of display.frames()) {
        frames++;
        if (frame.timestamp - start > SECONDS * 1000) break;
      }
      return { capture, put, frames: frames / ((performance.now() - start) / 1000) };
    },
    async close() {
      image.dispose();
      await display.close();
    },
  };
}

/** x11's own provider: an unlinked /dev/shm file, AttachFd, and a copy through pread/pwrite per frame. */
async function x11Provider(displayName) {
  const client = await new Promise((resolve, reject) => {
    const c = x11.createClient({ display: displayName }, (err) => (err ? reject(err) : resolve(c)));
  });
  const display = client.display;
  const root = display.screen[0].root;
  const depth = display.screen[0].root_depth;
  const shm = await new Promise((resolve, reject) =>
    client.require('shm', (err, ext) => (err ? reject(err) : resolve(ext))),
  );
  const segment = await new Promise((resolve, reject) =>
    shm.createSegment(WIDTH * HEIGHT * 4, (err, seg) => (err ? reject(err) : resolve(seg))),
  );
  const gc = client.AllocID();
  client.CreateGC(gc, root, {});
  return {
    async measure() {
      const capture = await rate(
        () =>
          new Promise((resolve, reject) =>
            segment.getImage(root, 0, 0, WIDTH, HEIGHT, 0xffffffff, 2, 0, (err) =>
              err ? reject(err) : resolve(),
            ),
          ),
      );
      const put = await rate(
        () =>
          new Promise((resolve) => {
            segment.once('complete', resolve);
            segment.putImage(root, gc, { width: WIDTH, height: HEIGHT, depth, sendEvent: true });
          }),
      );
      return { capture, put, frames: null };
    },
    async close() {
      await new Promise((resolve) => segment.detach(resolve));
      await new Promise((resolve) => client.close(resolve));
    },
  };
}

/** The C client, one process per round (its connection setup is outside its timing). */
function cClientRunner(binary, displayName) {
  return {
    async measure() {
      const out = execFileSync(binary, [String(WIDTH), String(HEIGHT), String(SECONDS)], {
        env: { ...process.env, DISPLAY: displayName },
      });
      return { ...JSON.parse(out.toString()), frames: null };
    },
    async close() {},
  };
}

const xvfb = await startXvfb({ width: WIDTH, height: HEIGHT, depth: 24 });
const runners = [];
try {
  const binary = cClient();
  if (binary) runners.push(['C libxcb-shm (serial)', cClientRunner(binary, xvfb.display)]);
  for (const transport of ['sysv', 'memfd'])
    runners.push([`@xshm/mit-shm ${transport}`, await ours(xvfb.display, transport)]);
  runners.push(['x11 built-in provider (copies)', await x11Provider(xvfb.display)]);
  runners.push(['core GetImage/PutImage (socket)', await ours(xvfb.display, 'socket')]);
  const withWork = await ours(xvfb.display, 'sysv');
  runners.push([
    '@xshm/mit-shm sysv + toRGBA each frame',
    { measure: () => withWork.measureWithWork(), close: () => withWork.close() },
  ]);

  // The machine is shared: rounds interleave the clients, and each keeps its best round.
  const best = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, runner] of runners) {
      const r = await runner.measure();
      const b = best.get(name) ?? { capture: 0, put: null, frames: null };
      best.set(name, {
        capture: Math.max(b.capture, r.capture),
        put: r.put === null ? null : Math.max(b.put ?? 0, r.put),
        frames: r.frames === null ? null : Math.max(b.frames ?? 0, r.frames),
      });
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const reference = binary ? best.get('C libxcb-shm (serial)') : null;
  const ratio = (value, base) => (base ? `${(value / base).toFixed(2)}x` : '-');
  const fmt = (value) => (value === null ? '-' : value.toFixed(0));
  const header = ['client', 'capture fps', 'vs C', 'put fps', 'vs C', 'frames() fps', 'vs C capture'];
  const table = [...best].map(([name, { capture, put, frames }]) => [
    name,
    fmt(capture),
    ratio(capture, reference?.capture),
    fmt(put),
    put === null ? '-' : ratio(put, reference?.put),
    fmt(frames),
    frames === null ? '-' : ratio(frames, reference?.capture),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  console.log(
    `\n@xshm/mit-shm on Xvfb ${WIDTH}x${HEIGHT}x24, best of ${ROUNDS} rounds of ${SECONDS} s, node ${process.version}`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table) console.log(line(row));
} finally {
  for (const [, runner] of runners) await runner.close();
  await xvfb.stop();
}
