// One process of the framebus benchmark (bench/run.mjs starts these): a producer or a reader,
// on the built package. Argument: a JSON object with `role` and its options. Prints JSON lines.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { FrameRing } = require('../dist/index.js');
const options = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function producer() {
  const ring = FrameRing.create({
    name: options.name,
    width: options.width,
    height: options.height,
    format: 'BGRX',
  });
  const frame = Buffer.alloc(ring.stride * ring.height, 0x5a);
  process.on('SIGTERM', () => {
    ring.close();
    process.exit(0);
  });
  say({ ready: true, pid: process.pid });
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy(); // the go line is all it reads; an open stdin would keep the process alive
  const end = process.hrtime.bigint() + BigInt(options.seconds * 1e9);
  let frames = 0;
  while (process.hrtime.bigint() < end) {
    ring.publish({ data: frame });
    frames++;
    if (options.intervalMs) await sleep(options.intervalMs);
    else if (frames % 16 === 0) await sleep(0);
  }
  say({ done: true, frames });
  if (options.hold) return void setInterval(() => {}, 1 << 30);
  ring.close();
}

async function reader() {
  const reader = FrameRing.open({ name: options.name });
  say({ ready: true });
  const latencies = [];
  let frames = 0;
  let firstAt = 0n;
  let lastAt = 0n;
  for await (const frame of reader.frames()) {
    const now = process.hrtime.bigint();
    if (frames === 0) firstAt = now;
    lastAt = now;
    frames++;
    latencies.push(Number(now - frame.timestamp) / 1e3);
  }
  const seconds = Number(lastAt - firstAt) / 1e9;
  say({ end: reader.end.reason, endedAt: String(process.hrtime.bigint()), frames, seconds, latencies });
  reader.close();
}

/** CPU of a reader waiting on an idle ring, through the futex waiter, or polling every millisecond. */
async function idleReader() {
  const reader = FrameRing.open({ name: options.name });
  const controller = new AbortController();
  const waiting = options.poll
    ? (async () => {
        while (!controller.signal.aborted) {
          reader.latest();
          await sleep(1);
        }
      })()
    : (async () => {
        for await (const _ of reader.frames({ signal: controller.signal })) {
          // the ring stays idle: only the frame already there arrives
        }
      })();
  await sleep(500); // measure the waiting, not the waiter thread's start
  const before = process.cpuUsage();
  const started = process.hrtime.bigint();
  await sleep(options.seconds * 1000);
  const used = process.cpuUsage(before);
  const wall = Number(process.hrtime.bigint() - started) / 1e3;
  controller.abort();
  await waiting;
  say({ cpu: (used.user + used.system) / wall });
  reader.close();
}

await { producer, reader, idleReader }[options.role]();
