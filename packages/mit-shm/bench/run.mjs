// Benchmark (not a test): serial capture and put frames per second on a private Xvfb 1920x1080x24, for
// @xshm/mit-shm's transports, a C client on libxcb-shm (bench/xcb-shm.c), x11's built-in MIT-SHM provider
// and core GetImage/PutImage; plus frames() throughput. One table, ratios against C measured in the same rounds.
//   pnpm bench            (after a build: it imports dist/)
//   node bench/run.mjs [SECONDS per measurement, default 0.5] [ROUNDS, default 7] [--windows]
//   (--windows: only the window capture rows at the end)
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const WIDTH = 1920;
const HEIGHT = 1080;
const WINDOWS_ONLY = process.argv.includes('--windows');
const numbers = process.argv.slice(2).filter((arg) => arg !== '--windows');
const SECONDS = Number(numbers[0] ?? 0.5);
const ROUNDS = Number(numbers[1] ?? 7);

if (!existsSync(join(here, '../dist/index.js'))) {
  console.error(
    'bench: dist/ is missing; build first: pnpm --filter @xshm/mit-shm build (or pnpm bench from the root)',
  );
  process.exit(1);
}
const { connect, startXvfb } = require('../dist/index.js');
// The raw connection and an image's memory, which the package does not export: the floor measurement needs them.
const { sessionOf } = require('../dist/session.js');
const { backingOf } = require('../dist/image.js');
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

/**
 * The floor under this package: `x11`'s own ShmGetImage/ShmPutImage requests on our segment, driven with bare
 * callbacks (no promises, no checks). The gap between this and C is the JavaScript client and event loop.
 */
async function x11Bare(displayName) {
  const display = await connect({ display: displayName, transport: 'sysv' });
  const image = display.createImage(WIDTH, HEIGHT);
  await image.get(display.root);
  const { wire } = sessionOf(display);
  const shm = wire.shm;
  const client = wire.client;
  const shmseg = backingOf(image).shmseg;
  const gc = wire.allocId();
  client.CreateGC(gc, display.root, {});
  const loop = (issue) =>
    new Promise((resolve) => {
      let count = 0;
      const start = performance.now();
      const step = () =>
        issue(() => {
          count++;
          if (performance.now() - start < SECONDS * 1000) step();
          else resolve(count / ((performance.now() - start) / 1000));
        });
      step();
    });
  let onCompletion = null;
  client.on('event', (ev) => {
    if (ev.name === 'ShmCompletion' && onCompletion) onCompletion();
  });
  const args = {
    totalWidth: WIDTH,
    totalHeight: HEIGHT,
    srcX: 0,
    srcY: 0,
    srcWidth: WIDTH,
    srcHeight: HEIGHT,
  };
  return {
    async measure() {
      const capture = await loop((done) =>
        shm.GetImage(display.root, 0, 0, WIDTH, HEIGHT, 0xffffffff, 2, shmseg, 0, () => done()),
      );
      const put = await loop((done) => {
        onCompletion = done;
        shm.PutImage(display.root, gc, {
          ...args,
          dstX: 0,
          dstY: 0,
          depth: 24,
          format: 2,
          sendEvent: true,
          shmseg,
          offset: 0,
        });
      });
      return { capture, put, frames: null };
    },
    async close() {
      image.dispose();
      await display.close();
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
if (WINDOWS_ONLY) {
  try {
    await windowRows(xvfb.display);
  } finally {
    await xvfb.stop();
  }
  process.exit(0);
}
const runners = [];
try {
  const binary = cClient();
  if (binary) runners.push(['C libxcb-shm (serial)', cClientRunner(binary, xvfb.display)]);
  runners.push(['x11 requests on our segment, bare callbacks', await x11Bare(xvfb.display)]);
  for (const transport of ['sysv', 'memfd'])
    runners.push([`@xshm/mit-shm ${transport}`, await ours(xvfb.display, transport)]);
  runners.push(['x11 built-in provider (copies)', await x11Provider(xvfb.display)]);
  runners.push(['core GetImage/PutImage (socket)', await ours(xvfb.display, 'socket')]);
  const withWork = await ours(xvfb.display, 'sysv');
  runners.push([
    '@xshm/mit-shm sysv + toRGBA each frame',
    { measure: () => withWork.measureWithWork(), close: () => withWork.close() },
  ]);

  // The machine is shared and its load drifts: rounds interleave the clients, each round C is measured
  // right before the others, and a client's ratio is the median of its per-round ratios to that C run.
  // The fps columns are medians over the rounds.
  const rounds = new Map(runners.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, runner] of runners) rounds.get(name).push(await runner.measure());
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
  const median = (values) => {
    const sorted = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
    if (sorted.length === 0) return null;
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const C = binary ? rounds.get('C libxcb-shm (serial)') : null;
  const ratioOf = (results, key, cKey = key) =>
    C ? median(results.map((r, i) => (r[key] === null ? null : r[key] / C[i][cKey]))) : null;
  const fmt = (value) => (value === null ? '-' : value.toFixed(0));
  const fmtRatio = (value) => (value === null ? '-' : `${value.toFixed(2)}x`);
  const header = ['client', 'capture fps', 'vs C', 'put fps', 'vs C', 'frames() fps', 'vs C capture'];
  const table = [...rounds].map(([name, results]) => [
    name,
    fmt(median(results.map((r) => r.capture))),
    fmtRatio(ratioOf(results, 'capture')),
    fmt(median(results.map((r) => r.put))),
    fmtRatio(ratioOf(results, 'put')),
    fmt(median(results.map((r) => r.frames))),
    fmtRatio(ratioOf(results, 'frames', 'capture')),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
  console.log(
    `\n@xshm/mit-shm on Xvfb ${WIDTH}x${HEIGHT}x24, median of ${ROUNDS} interleaved rounds of ${SECONDS} s, node ${process.version}`,
  );
  console.log(line(header));
  console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of table) console.log(line(row));

  // A one-shot capture (a screenshot) pays for fresh shared memory: each measurement connects anew, takes
  // one 1080p picture and reads every row once, as an encoder would, with capture() (one 8 MB buffer) and
  // with strips() (two 512 KiB ones). Alternating, median of FRESH runs; the connection is not timed.
  const FRESH = 15;
  const scratch = Buffer.alloc(WIDTH * 4 * 68);
  const readRows = (data) => {
    for (let at = 0; at < data.length; at += scratch.length) data.copy(scratch, 0, at, at + scratch.length);
  };
  const oneShot = { 'capture()': [], 'strips()': [] };
  for (let run = 0; run < FRESH; run++) {
    for (const how of Object.keys(oneShot)) {
      const display = await connect({ display: xvfb.display, transport: 'sysv' });
      const start = performance.now();
      if (how === 'capture()') readRows((await display.capture()).data);
      else for await (const strip of display.strips()) readRows(strip.data);
      oneShot[how].push(performance.now() - start);
      await display.close();
    }
  }
  const [whole, strips] = Object.values(oneShot).map(median);
  console.log(
    `one 1080p capture into fresh memory, every row read once (median of ${FRESH} fresh connections): ` +
      `capture() ${whole.toFixed(1)} ms, strips() ${strips.toFixed(1)} ms (${(strips / whole).toFixed(2)}x the time)`,
  );

  await windowRows(xvfb.display);
} finally {
  for (const [, runner] of runners) await runner.close();
  await xvfb.stop();
}

/**
 * A window's own pixels (Composite: ShmGetImage on its named pixmap) against a root region of the same size,
 * serial captures interleaved in rounds; then one capture of that window as a whole process: a node process
 * on @xshm/mit-shm against ImageMagick `import -window ID` and `ffmpeg -f x11grab -window_id ID` (raw pixels
 * out, so no encoder is timed). The window is half covered by another: import and ffmpeg read the screen and
 * return the cover there; ours returns the window.
 */
async function windowRows(displayName) {
  const W = 1280;
  const H = 720;
  const owner = await connect({ display: displayName, transport: 'sysv' });
  const window = await owner.createWindow({ width: W, height: H, x: 100, y: 100, title: 'bench window' });
  const picture = owner.createImage(W, H);
  for (let i = 0; i < picture.data.length; i += 4) picture.data.writeUInt32LE((i * 2654435761) >>> 8, i);
  await picture.put(window.id);
  // As an application does: repaint what the server exposes (a fresh redirect exposes the covered part).
  window.on('expose', () => picture.put(window.id).catch(() => {}));
  const cover = await owner.createWindow({ width: 400, height: 300, x: 600, y: 400, title: 'cover' });
  const display = await connect({ display: displayName, transport: 'sysv' });
  try {
    const ways = {
      window: () => display.capture({ window: window.id }),
      'root region': () => display.capture({ x: 100, y: 100, width: W, height: H }),
    };
    const fps = { window: [], 'root region': [] };
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, capture] of Object.entries(ways)) fps[name].push(await rate(capture));
    const ratios = fps.window.map((f, i) => fps['root region'][i] / f);
    const med = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    };
    console.log(
      `\nwindow ${W}x${H} (half covered) through Composite: ${(1000 / med(fps.window)).toFixed(2)} ms a capture, ` +
        `root region of the same size ${(1000 / med(fps['root region'])).toFixed(2)} ms: ` +
        `${med(ratios).toFixed(2)}x the time (median of ${ROUNDS} rounds)`,
    );

    const id = String(window.id);
    const script = `const { connect } = require(${JSON.stringify(join(here, '../dist/index.js'))});
      connect({ display: ${JSON.stringify(displayName)} }).then(async (d) => {
        const f = await d.capture({ window: ${window.id} }); f.data.readUInt8(0); await d.close(); });`;
    const processes = {
      '@xshm/mit-shm (node, capture({ window }))': ['node', ['-e', script]],
      'node -e 0 (start-up alone, for scale)': ['node', ['-e', '0']],
      'ImageMagick import -window ID rgb:-': [
        'import',
        ['-display', displayName, '-window', id, 'rgb:/dev/null'],
      ],
      'ffmpeg -f x11grab -window_id ID -frames:v 1': [
        'ffmpeg',
        [
          '-loglevel',
          'error',
          '-f',
          'x11grab',
          '-window_id',
          id,
          '-i',
          displayName,
          '-frames:v',
          '1',
          '-f',
          'rawvideo',
          '-y',
          '/dev/null',
        ],
      ],
    };
    const times = Object.fromEntries(Object.keys(processes).map((k) => [k, []]));
    const RUNS = 9;
    for (let run = 0; run < RUNS; run++)
      for (const [name, [command, args]] of Object.entries(processes)) {
        const start = performance.now();
        // Not execFileSync: the window's owner lives in this process and must stay free to repaint.
        await new Promise((resolve, reject) =>
          execFile(command, args, (error) => (error ? reject(error) : resolve())),
        );
        times[name].push(performance.now() - start);
      }
    const ours = med(times['@xshm/mit-shm (node, capture({ window }))']);
    console.log(`one ${W}x${H} window capture as a whole process (median of ${RUNS} runs):`);
    for (const [name, list] of Object.entries(times))
      console.log(
        `  ${name.padEnd(46)} ${med(list).toFixed(1).padStart(7)} ms  ${(med(list) / ours).toFixed(2)}x`,
      );
  } finally {
    picture.dispose();
    cover.destroy();
    await display.close();
    await owner.close();
  }
}
