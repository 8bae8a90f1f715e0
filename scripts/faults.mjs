#!/usr/bin/env node
// `pnpm test:faults`: the fault rounds of the hardening work, against the built packages.
//   kill -9   shmtool, xshot share, show and shot, each at a random moment of its life;
//   X death   the X server killed under share, show and view (idle): they must exit non-zero in 5 s;
//   corrupt   a live ring's header or slot table overwritten at random, then read by the Node
//             reader and by the Python reference reader: they must refuse it (or read a valid frame),
//             never crash, hang or print a stack trace.
// After every round, /proc/sysvipc/shm must hold no segment created by a process of that round
// (once the X server let go, within 3 s, and once the next framebus user swept abandoned rings).
// Prints, per kind: tried, held, leaked. Exit 0 only when every round held and nothing leaked.
// FAULT_ROUNDS=N scales the number of rounds (default 1: about a minute); FAULT_SEED=N repeats a run.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const shm = require(path.join(root, 'packages/shm/dist/index.js'));
const framebus = require(path.join(root, 'packages/framebus/dist/index.js'));
const SHMTOOL = path.join(root, 'packages/shm/bin/shmtool.js');
const XSHOT = path.join(root, 'apps/xshot/bin/xshot.js');
const PYTHON_READER = path.join(root, 'packages/framebus/test/fixtures/reader.py');
const SCALE = Number(process.env.FAULT_ROUNDS ?? 1);
let seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);
const firstSeed = seed;

/** A small deterministic generator, so FAULT_SEED repeats a run. */
function random() {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
}
const pick = (items) => items[Math.floor(random() * items.length)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- bookkeeping -------------------------------------------------------------------------------

const results = new Map(); // kind -> { tried, held, leaked, failures: string[] }
let swept = 0; // rings of killed producers removed by the sweep every FrameRing.create/open runs
function record(kind, held, leaked, detail) {
  const row = results.get(kind) ?? { tried: 0, held: 0, leaked: 0, failures: [] };
  row.tried++;
  if (held) row.held++;
  if (leaked.length) row.leaked++;
  if (!held || leaked.length) {
    const what = [
      !held && detail,
      leaked.length && `left ${leaked.map((s) => `id ${s.id} (${s.size} bytes)`).join(', ')}`,
    ];
    row.failures.push(what.filter(Boolean).join('; '));
  }
  results.set(kind, row);
}

function segments() {
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => {
    const fields = row.trim().split(/\s+/);
    return {
      key: Number(fields[0]),
      id: Number(fields[1]),
      size: Number(fields[3]),
      cpid: Number(fields[4]),
    };
  });
}

/** Segments created by `pids` still there after up to 3 s (the X server detaches when a client's connection closes). */
async function leftBy(pids) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const ours = new Set(
      segments()
        .filter((segment) => pids.has(segment.cpid))
        .map((segment) => segment.id),
    );
    // What the next framebus user does first; counted, since without it these rings would stay.
    swept += framebus.reclaimAbandoned().filter((id) => ours.has(id)).length;
    const left = segments().filter((segment) => pids.has(segment.cpid));
    if (left.length === 0 || Date.now() > deadline) {
      for (const segment of left) spawnSync('ipcrm', ['-m', String(segment.id)]); // not the next round's
      return left;
    }
    await sleep(50);
  }
}

/** A child process with its output collected, its exit awaited, and its pid remembered. */
function run(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => {
    out.stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    out.stderr += chunk;
  });
  child.stdin.on('error', () => {}); // EPIPE once it is gone
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

async function within(promise, ms) {
  return Promise.race([promise, sleep(ms).then(() => null)]);
}

async function untilText(proc, stream, pattern, ms) {
  const deadline = Date.now() + ms;
  while (!pattern.test(proc.out[stream])) {
    if (Date.now() > deadline || proc.child.exitCode !== null) return false;
    await sleep(20);
  }
  return true;
}

// ---- X servers ---------------------------------------------------------------------------------

/** Xvfb on a free display number (-displayfd), no TCP, kept drawing between clients (-noreset). */
function startXvfb(depth = 24) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'Xvfb',
      ['-displayfd', '3', '-noreset', '-nolisten', 'tcp', '-screen', '0', `320x240x${depth}`],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] },
    );
    let text = '';
    child.stdio[3].on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) resolve({ display: `:${text.trim()}`, child });
    });
    child.on('exit', () => reject(new Error('Xvfb exited before it was ready')));
  });
}

// ---- kill -9 rounds ----------------------------------------------------------------------------

async function killRound(kind, start, lifetimeMs) {
  const proc = start();
  await sleep(random() * lifetimeMs);
  proc.child.kill('SIGKILL');
  const exit = await within(proc.exited, 5000);
  const pids = new Set([proc.child.pid]);
  record(kind, exit !== null, await leftBy(pids), exit === null ? 'did not die on SIGKILL' : '');
}

async function killRounds(display) {
  const env = { ...process.env, DISPLAY: display };
  delete env.NODE_EXTRA_CA_CERTS;
  // shmtool open -s 1M, killed while its stdin still trickles in.
  for (let i = 0; i < 10 * SCALE; i++) {
    await killRound(
      'kill -9 shmtool open',
      () => {
        const proc = run(process.execPath, [SHMTOOL, 'open', '-s', '1M'], { env });
        const timer = setInterval(() => proc.child.stdin.write(Buffer.alloc(4096, 1)), 5);
        proc.exited.then(() => clearInterval(timer));
        return proc;
      },
      400,
    );
  }
  // shmtool read of a 32 MiB segment to a slow stdout.
  const source = shm.Segment.create(32 << 20);
  try {
    for (let i = 0; i < 5 * SCALE; i++) {
      await killRound(
        'kill -9 shmtool read',
        () => run(process.execPath, [SHMTOOL, 'read', String(source.id)], { env }),
        300,
      );
    }
  } finally {
    source.destroy();
  }
  for (let i = 0; i < 8 * SCALE; i++) {
    await killRound(
      'kill -9 xshot shot',
      () => run(process.execPath, [XSHOT, 'shot', '-', '--display', display], { env }),
      500,
    );
  }
  for (let i = 0; i < 8 * SCALE; i++) {
    const name = `faults-share-${process.pid}-${i}`;
    await killRound(
      'kill -9 xshot share',
      () => run(process.execPath, [XSHOT, 'share', '--name', name, '--display', display], { env }),
      1500,
    );
  }
  // show against a live share on the same display.
  const name = `faults-show-${process.pid}`;
  const producer = run(process.execPath, [XSHOT, 'share', '--name', name, '--display', display], { env });
  if (await untilText(producer, 'stdout', /^ring /m, 15_000)) {
    for (let i = 0; i < 8 * SCALE; i++) {
      await killRound(
        'kill -9 xshot show',
        () => run(process.execPath, [XSHOT, 'show', '--name', name, '--display', display], { env }),
        1500,
      );
    }
  } else {
    record('kill -9 xshot show', false, [], `share for show did not start: ${producer.out.stderr.trim()}`);
  }
  producer.child.kill('SIGTERM');
  await within(producer.exited, 5000);
  record(
    'share stops on SIGTERM',
    producer.child.exitCode !== null,
    await leftBy(new Set([producer.child.pid])),
    'share ignored SIGTERM',
  );
}

// ---- X death rounds ----------------------------------------------------------------------------

async function xDeathRound(kind, startCommand, ready) {
  const x = await startXvfb();
  const env = { ...process.env, DISPLAY: x.display };
  delete env.NODE_EXTRA_CA_CERTS;
  const proc = startCommand(x.display, env);
  const started = await ready(proc);
  x.child.kill('SIGKILL');
  const exit = await within(proc.exited, 5000);
  if (exit === null) proc.child.kill('SIGKILL');
  const held = started && exit !== null && exit.code !== 0 && exit.code !== null;
  const detail = !started
    ? `did not start: ${proc.out.stderr.trim().slice(0, 200)}`
    : exit === null
      ? 'still running 5 s after its X server died'
      : `exited ${exit.code ?? exit.signal} after its X server died`;
  await within(proc.exited, 5000);
  record(kind, held, await leftBy(new Set([proc.child.pid])), detail);
}

async function xDeathRounds(display) {
  for (let i = 0; i < 3 * SCALE; i++) {
    await xDeathRound(
      'X death under share',
      (d, env) =>
        run(
          process.execPath,
          [XSHOT, 'share', '--name', `faults-xdeath-${process.pid}-${i}`, '--display', d],
          { env },
        ),
      (proc) => untilText(proc, 'stdout', /^ring /m, 15_000),
    );
  }
  // show on a display that dies, while the ring it shows lives on `display`.
  const name = `faults-xdeath-show-${process.pid}`;
  const producer = run(process.execPath, [XSHOT, 'share', '--name', name, '--display', display]);
  await untilText(producer, 'stdout', /^ring /m, 15_000);
  for (let i = 0; i < 3 * SCALE; i++) {
    await xDeathRound(
      'X death under show',
      (d, env) => run(process.execPath, [XSHOT, 'show', '--name', name, '--display', d], { env }),
      (proc) => untilText(proc, 'stderr', /showing ring/, 15_000),
    );
  }
  producer.child.kill('SIGTERM');
  await within(producer.exited, 5000);
  // view of a small PNG made by ImageMagick.
  const png = path.join(tmpdir(), `faults-view-${process.pid}.png`);
  if (spawnSync('convert', ['-size', '64x48', 'xc:#336699', `PNG24:${png}`]).status === 0) {
    try {
      for (let i = 0; i < 3 * SCALE; i++) {
        await xDeathRound(
          'X death under view',
          (d, env) => run(process.execPath, [XSHOT, 'view', png, '--display', d], { env }),
          async () => {
            await sleep(1500); // view prints nothing once its window is up: give it the time to map it
            return true;
          },
        );
      }
    } finally {
      rmSync(png, { force: true });
    }
  }
}

// ---- corrupt ring rounds -----------------------------------------------------------------------

const NODE_READER = `
const { FrameRing, FrameBusError } = require(${JSON.stringify(path.join(root, 'packages/framebus/dist/index.js'))});
(async () => {
  const reader = FrameRing.open({ key: Number(process.argv[1]) });
  reader.latest();
  reader.peek();
  for await (const _ of reader.frames({ signal: AbortSignal.timeout(300) })) break;
  reader.close();
})().then(
  () => process.exit(0),
  (error) => {
    if (error instanceof FrameBusError) {
      process.stderr.write(error.message + '\\n');
      process.exit(1);
    }
    process.stderr.write('UNEXPECTED ' + (error && error.stack) + '\\n');
    process.exit(3);
  },
);`;

const NASTY = [0, 1, 2, 3, 62, 63, 64, 4096, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

async function corruptRound(index) {
  const ring = framebus.FrameRing.create({
    key: 0x7a000000 + (process.pid % 0x10000) * 16 + (index % 16),
    width: 8,
    height: 4,
    format: pick(['BGRX', 'RG16']),
    slots: 3,
  });
  const attachment = ring.segment.attach();
  try {
    ring.publish({ data: Buffer.alloc(ring.stride * ring.height, 7) });
    ring.publish({ data: Buffer.alloc(ring.stride * ring.height, 8) });
    // A u32 of the header or of a used slot descriptor, or a few random bytes anywhere in the first page.
    const writes = random() < 0.75 ? 1 : 4;
    for (let w = 0; w < writes; w++) {
      const offset = random() < 0.5 ? 4 * Math.floor(random() * 16) : 64 + 4 * Math.floor(random() * 48);
      const value = random() < 0.7 ? pick(NASTY) : Math.floor(random() * 2 ** 32);
      attachment.buffer.writeUInt32LE(value >>> 0, offset);
    }
    const readers = [
      ['node', run(process.execPath, ['-e', NODE_READER, String(ring.key)])],
      [
        'python',
        run('/usr/bin/python3', [
          PYTHON_READER,
          '--key',
          String(ring.key),
          '--frames',
          '1',
          '--timeout',
          '1',
        ]),
      ],
    ];
    for (const [language, proc] of readers) {
      const exit = await within(proc.exited, 10_000);
      if (exit === null) proc.child.kill('SIGKILL');
      const clean =
        exit !== null &&
        exit.signal === null &&
        (exit.code === 0 || exit.code === 1) &&
        !/UNEXPECTED|Traceback/.test(proc.out.stderr);
      const detail =
        exit === null ? 'hung' : `exit ${exit.code ?? exit.signal}: ${proc.out.stderr.trim().slice(0, 300)}`;
      record(`corrupt ring, ${language} reader`, clean, await leftBy(new Set([proc.child.pid])), detail);
    }
  } finally {
    attachment.detach();
    ring.close();
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const timings = [];
  const x = await startXvfb();
  try {
    const phases = [
      [
        'corrupt',
        async () => {
          // Four rings at a time: most of a round is its readers starting up and timing out.
          for (let i = 0; i < 40 * SCALE; i += 4) {
            await Promise.all([0, 1, 2, 3].map((j) => corruptRound(i + j)));
          }
        },
      ],
      ['kill -9', () => killRounds(x.display)],
      ['X death', () => xDeathRounds(x.display)],
    ];
    for (const [phase, runPhase] of phases) {
      const phaseStarted = Date.now();
      await runPhase();
      timings.push(`${phase} ${((Date.now() - phaseStarted) / 1000).toFixed(1)} s`);
    }
  } finally {
    x.child.kill('SIGTERM');
  }
  const rows = [...results].map(([kind, r]) => [kind, r.tried, r.held, r.leaked]);
  const width = Math.max(...rows.map((row) => row[0].length));
  console.log(`${'round'.padEnd(width)}  tried  held  leaked`);
  for (const [kind, tried, held, leaked] of rows) {
    console.log(
      `${kind.padEnd(width)}  ${String(tried).padStart(5)}  ${String(held).padStart(4)}  ${String(leaked).padStart(6)}`,
    );
  }
  const total = rows.reduce((sum, row) => [sum[0] + row[1], sum[1] + row[2], sum[2] + row[3]], [0, 0, 0]);
  console.log(
    `${'total'.padEnd(width)}  ${String(total[0]).padStart(5)}  ${String(total[1]).padStart(4)}  ${String(total[2]).padStart(6)}`,
  );
  console.log(`rings left by killed producers and removed by the next framebus call's sweep: ${swept}`);
  console.log(
    `seed ${firstSeed} (FAULT_SEED=${firstSeed} repeats it), ${((Date.now() - started) / 1000).toFixed(1)} s (${timings.join(', ')})`,
  );
  for (const [kind, r] of results)
    for (const failure of r.failures.slice(0, 3)) console.log(`  ${kind}: ${failure}`);
  return total[1] === total[0] && total[2] === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`faults: ${error.stack}`);
    process.exit(2);
  },
);
