// pnpm bench: @xshm/shm against its yardsticks, as ratios from one run on one machine.
//   create+attach+detach+destroy: the same loop in C (bench/cycle.c, built here with gcc)
//   seg.write / seg.read of 256 MiB: Buffer.copy of 256 MiB (memory bandwidth)
// Not a test: it prints a table. Needs `pnpm build` first (turbo's bench task depends on it).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { Segment } = createRequire(import.meta.url)('../dist/index.js');

const CYCLE_SIZES = [4 << 10, 1 << 20];
const CYCLES = 20_000;
// A Node program lets its event loop turn; the collector's cleanup (which unmaps the zero pages a
// detach leaves, see src/mapping.ts) runs only then. A loop that never yields is not the use case.
const CYCLES_PER_TURN = 100;
const COPY_SIZE = 256 << 20;
const COPY_RUNS = 7;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function timeNs(action) {
  const start = process.hrtime.bigint();
  action();
  return Number(process.hrtime.bigint() - start);
}

function cycleInC(size) {
  const source = path.join(here, 'cycle.c');
  const binary = path.join(here, 'bin', 'cycle');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(path.dirname(binary), { recursive: true });
    try {
      execFileSync('gcc', ['-O2', '-o', binary, source], { stdio: 'inherit' });
    } catch {
      return undefined; // no gcc: the row says so
    }
  }
  const runs = Array.from({ length: 3 }, () =>
    Number(execFileSync(binary, [String(size), String(CYCLES)], { encoding: 'utf8' })),
  );
  return median(runs);
}

async function cycleInNode(size) {
  const cycles = async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CYCLES; i++) {
      const seg = Segment.create(size);
      seg.attach().detach();
      seg.destroy();
      if (i % CYCLES_PER_TURN === 0) await new Promise(setImmediate);
    }
    return Number(process.hrtime.bigint() - start) / CYCLES;
  };
  await cycles(); // warm up
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await cycles());
  return median(runs);
}

function copies() {
  const seg = Segment.create(COPY_SIZE);
  try {
    const source = Buffer.alloc(COPY_SIZE, 1);
    const target = Buffer.alloc(COPY_SIZE, 2);
    // Fault every page in (the segment's, and both buffers') before timing anything.
    seg.write(source);
    seg.read(target);
    const best = (action) => median(Array.from({ length: COPY_RUNS }, () => timeNs(action)));
    return {
      write: best(() => seg.write(source)),
      read: best(() => seg.read(target)),
      copy: best(() => source.copy(target)),
    };
  } finally {
    seg[Symbol.dispose]();
    seg.destroy();
  }
}

const micro = (ns) => `${(ns / 1e3).toFixed(2)} µs`;
const milli = (ns) =>
  `${(ns / 1e6).toFixed(1)} ms (${(((COPY_SIZE / ns) * 1e9) / 2 ** 30).toFixed(1)} GiB/s)`;

const rows = [['what', '@xshm/shm', 'yardstick', 'ratio']];
for (const size of CYCLE_SIZES) {
  const c = cycleInC(size);
  const node = await cycleInNode(size);
  rows.push([
    `create+attach+detach+destroy, ${size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`}`,
    micro(node),
    c === undefined ? 'C: no gcc' : `C: ${micro(c)}`,
    c === undefined ? '-' : `${(node / c).toFixed(2)}x`,
  ]);
}
const copy = copies();
rows.push(
  [
    'seg.write, 256 MiB',
    milli(copy.write),
    `Buffer.copy: ${milli(copy.copy)}`,
    `${(copy.write / copy.copy).toFixed(2)}x`,
  ],
  [
    'seg.read, 256 MiB',
    milli(copy.read),
    `Buffer.copy: ${milli(copy.copy)}`,
    `${(copy.read / copy.copy).toFixed(2)}x`,
  ],
);
const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
for (const [index, row] of rows.entries()) {
  console.log(`| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`);
  if (index === 0) console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
}
console.log(
  `\nnode ${process.version}, ${process.arch}; ratio = @xshm/shm time / yardstick time (1.00x is as fast).`,
);
