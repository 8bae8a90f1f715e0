// Benchmark of xshot's remote desktop (/desktop) against x11vnc + websockify + noVNC (Debian packages), the
// same session in the same headless Chromium (not a test). On a private Xvfb 1920x1080x24 with an xterm:
// - typing: 40 keys into the xterm, one every 120 ms: bytes the page received (DevTools protocol
//   Network.webSocketFrameReceived), keystroke-to-pixels latency (key pressed in the page until the page's
//   canvas shows a change), server CPU (xshot; x11vnc + websockify);
// - scrolling text: `seq 1 400` in the xterm: bytes until the screen is still again;
// - idle: bytes received in 5 s of a still screen;
// - full-screen motion (bench/stream-painter.mjs changing the whole screen 60 times a second): updates per
//   second drawn by the page, and by 10 WebSocket viewers that acknowledge at once, against frames per
//   second of today's MJPEG stream (/stream.mjpeg) in the same run.
// Needs a build first (it runs bin/xshot.js over dist/). Usage: node bench/desktop.mjs
import { spawn } from 'node:child_process';

process.on('unhandledRejection', (error) => {
  console.error('desktop bench:', error?.stack ?? error);
  process.exit(1);
});

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, '..', 'dist', 'web', 'remote', 'desktop.js'))) {
  console.error('xshot desktop bench: dist/ is missing; run `pnpm build` first');
  process.exit(1);
}
for (const [tool, pkg] of [
  ['x11vnc', 'x11vnc'],
  ['websockify', 'websockify'],
  ['xterm', 'xterm'],
]) {
  if (!process.env.PATH.split(':').some((dir) => existsSync(join(dir, tool)))) {
    console.error(
      `xshot desktop bench: ${tool} is missing; run scripts/setup.sh bench (apt-get install ${pkg})`,
    );
    process.exit(1);
  }
}
if (!existsSync('/usr/share/novnc/vnc_lite.html')) {
  console.error('xshot desktop bench: noVNC is missing; run scripts/setup.sh bench (apt-get install novnc)');
  process.exit(1);
}
const require = createRequire(import.meta.url);
const { startXvfb } = require('@xshm/mit-shm');
const { chromium } = require('playwright-core');
const { WebSocket } = require('ws');

const BIN = join(here, '..', 'bin', 'xshot.js');
const PAINTER = join(here, 'stream-painter.mjs');
const WIDTH = 1920;
const HEIGHT = 1080;
const KEYS = 40;
const KEY_GAP_MS = 120;
const IDLE_SECONDS = 5;
const MOTION_SECONDS = 5;
const TICKS = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s
/** The xterm: 100 columns, 40 rows of the 6x13 font at the top left. */
const XTERM_AREA = { x: 0, y: 0, width: 600, height: 520 };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuSeconds(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / TICKS;
    } catch {}
  }
  return total;
}

function startProcess(command, args, env = {}) {
  // stdin stays open: the painter runs until it closes.
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  child.output = '';
  child.stdout.on('data', (chunk) => {
    child.output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    child.output += chunk;
  });
  return child;
}

async function waitFor(what, probe, timeoutMs = 15_000) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`desktop bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(2000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The port a child prints (xshot's URL), or a fixed one we gave it. */
function freePort() {
  return 20000 + Math.floor(Math.random() * 20000);
}

/**
 * Counts what the page receives over WebSockets, from the DevTools protocol: text frames by their UTF-8
 * length, binary frames (reported in base64) by their decoded length.
 */
async function countFrames(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const counter = { bytes: 0, frames: 0 };
  cdp.on('Network.webSocketFrameReceived', ({ response }) => {
    const data = response.payloadData;
    counter.frames++;
    if (response.opcode === 2) {
      const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
      counter.bytes += (data.length * 3) / 4 - padding;
    } else counter.bytes += Buffer.byteLength(data);
  });
  return counter;
}

/**
 * In the page: a poller that hashes the xterm's area of the canvas every 2 ms and records when it last
 * changed (Date.now(), the same clock as this process). The canvas is in remote pixels for both clients.
 */
async function watchCanvas(page, selector) {
  await page.evaluate(
    `(() => {
      const area = ${JSON.stringify(XTERM_AREA)};
      const canvas = document.querySelector(${JSON.stringify(selector)});
      const context = canvas.getContext('2d', { willReadFrequently: true });
      let last = 0;
      window.__changedAt = 0;
      setInterval(() => {
        const data = context.getImageData(area.x, area.y, area.width, area.height).data;
        let hash = 0;
        for (let i = 0; i < data.length; i += 4) hash = (Math.imul(hash, 31) + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16)) | 0;
        if (hash !== last) { last = hash; window.__changedAt = Date.now(); }
      }, 4);
    })()`,
  );
}

async function quiet(_page, counter, ms = 800, timeoutMs = 20_000) {
  const start = Date.now();
  let last = -1;
  while (Date.now() - start < timeoutMs) {
    if (counter.bytes === last) return;
    last = counter.bytes;
    await sleep(ms);
  }
}

async function session(browser, name, url, selector, serverPids) {
  const page = await browser.newPage();
  page.on('crash', () => console.error(`desktop bench: the ${name} page crashed`));
  const counter = await countFrames(page);
  await page.goto(url);
  await waitFor(`${name}'s canvas`, () =>
    page.evaluate(`!!document.querySelector(${JSON.stringify(selector)})`),
  );
  await sleep(2000);
  await quiet(page, counter);
  await watchCanvas(page, selector);
  const box = await page.locator(selector).boundingBox();
  const scale = box.width / WIDTH;
  // A click in the xterm: noVNC takes keys only once its canvas has focus (and focus follows the pointer in X).
  await page.mouse.click(box.x + 200 * scale, box.y + 200 * scale);
  await sleep(300);
  await quiet(page, counter);

  // Typing: a key at a time, latency from the press to the canvas showing it.
  const typedFrom = counter.bytes;
  const cpuFrom = cpuSeconds(serverPids);
  const latencies = [];
  const text = 'the quick brown fox jumps over the lazy dog'.slice(0, KEYS);
  for (const char of text) {
    const pressed = Date.now();
    await page.keyboard.press(char === ' ' ? 'Space' : char);
    const changed = await waitFor(
      'the key on the canvas',
      async () => {
        const at = await page.evaluate('window.__changedAt');
        return at >= pressed ? at : 0;
      },
      3000,
    ).catch(() => null);
    if (changed) latencies.push(changed - pressed);
    await sleep(KEY_GAP_MS);
  }
  await quiet(page, counter);
  const typingBytes = counter.bytes - typedFrom;
  const typingCpu = cpuSeconds(serverPids) - cpuFrom;
  await page.keyboard.press('Control+U'); // the shell line is typed text, not a command: forget it

  // Scrolling text.
  const scrollFrom = counter.bytes;
  const scrollCpuFrom = cpuSeconds(serverPids);
  await page.keyboard.type('seq 1 400\n', { delay: 20 });
  await sleep(500);
  await quiet(page, counter);
  const scrollBytes = counter.bytes - scrollFrom;
  const scrollCpu = cpuSeconds(serverPids) - scrollCpuFrom;

  // Idle.
  await sleep(1000);
  const idleFrom = counter.bytes;
  const idleCpuFrom = cpuSeconds(serverPids);
  await sleep(IDLE_SECONDS * 1000);
  const idleBytes = counter.bytes - idleFrom;
  const idleCpu = cpuSeconds(serverPids) - idleCpuFrom;
  await page.close();
  latencies.sort((a, b) => a - b);
  return {
    name,
    typingBytes,
    typingCpu,
    latencyMedian: latencies[Math.floor(latencies.length / 2)] ?? NaN,
    latencyP90: latencies[Math.floor(latencies.length * 0.9)] ?? NaN,
    seen: latencies.length,
    scrollBytes,
    scrollCpu,
    idleBytes,
    idleCpu,
  };
}

/** Updates per second a page draws while the whole screen changes. */
async function motionInPage(browser, url) {
  const page = await browser.newPage();
  await page.goto(url);
  await waitFor('the desktop page', () => page.evaluate('window.__desktop && window.__desktop.updates > 0'));
  await sleep(1000);
  const from = await page.evaluate('window.__desktop.updates');
  await sleep(MOTION_SECONDS * 1000);
  const updates = (await page.evaluate('window.__desktop.updates')) - from;
  await page.close();
  return updates / MOTION_SECONDS;
}

/** Updates per second each of `count` WebSocket viewers gets, acknowledging every update at once. */
async function motionInSockets(port, count) {
  const viewers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/desktop.ws`);
          const viewer = { socket, updates: 0 };
          socket.on('message', (_data, isBinary) => {
            if (!isBinary) return;
            viewer.updates++;
            socket.send('{"t":"ack"}');
          });
          socket.on('open', () => resolve(viewer));
          socket.on('error', reject);
        }),
    ),
  );
  await sleep(1000);
  const from = viewers.map((v) => v.updates);
  await sleep(MOTION_SECONDS * 1000);
  const rates = viewers.map((v, i) => (v.updates - from[i]) / MOTION_SECONDS);
  for (const v of viewers) v.socket.close();
  return Math.min(...rates);
}

/** Frames per second of /stream.mjpeg (today's stream) while the whole screen changes. */
function motionMjpeg(port) {
  return new Promise((resolve, reject) => {
    const delimiter = Buffer.from('\r\n--xshotframe');
    let parts = 0;
    let counting = false;
    const request = get(`http://127.0.0.1:${port}/stream.mjpeg`, (response) => {
      let tail = Buffer.alloc(0);
      response.on('data', (chunk) => {
        const data = Buffer.concat([tail, chunk]);
        let from = 0;
        for (;;) {
          const at = data.indexOf(delimiter, from);
          if (at < 0) break;
          if (counting) parts++;
          from = at + delimiter.length;
        }
        tail = data.subarray(Math.max(from, data.length - delimiter.length));
      });
    });
    request.on('error', reject);
    setTimeout(() => {
      counting = true;
    }, 1000);
    setTimeout(
      () => {
        request.destroy();
        resolve(parts / MOTION_SECONDS);
      },
      1000 + MOTION_SECONDS * 1000,
    );
  });
}

const xvfb = await startXvfb({ width: WIDTH, height: HEIGHT, depth: 24 });
const env = { DISPLAY: xvfb.display, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
const scratch = mkdtempSync(join(tmpdir(), 'xshot-desktop-bench-'));
const children = [];
let browser;
try {
  const xterm = startProcess('xterm', ['-geometry', '100x40+0+0', '-u8', '-e', 'sh'], { ...env, PS1: '$ ' });
  children.push(xterm);
  await sleep(1500);
  // A fresh profile (playwright makes one per launch), and a fresh context for each client.
  const chromiumProcess = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  browser = {
    async newPage() {
      const context = await chromiumProcess.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      page.once('close', () => void context.close());
      return page;
    },
    close: () => chromiumProcess.close(),
  };

  const xshotPort = freePort();
  const xshot = startProcess(process.execPath, [
    BIN,
    'stream',
    '--display',
    xvfb.display,
    '--port',
    String(xshotPort),
    '--control',
    // On loopback: the page and the bench's own sockets open /desktop without the printed token.
    '--no-token',
  ]);
  children.push(xshot);
  await waitFor('xshot stream', () => xshot.output.includes('/desktop'));
  const ours = await session(browser, 'xshot /desktop', `http://127.0.0.1:${xshotPort}/desktop`, '#screen', [
    xshot.pid,
  ]);

  const vncPort = freePort();
  const webPort = freePort();
  const x11vnc = startProcess('x11vnc', [
    '-display',
    xvfb.display,
    '-rfbport',
    String(vncPort),
    '-localhost',
    '-nopw',
    '-forever',
    '-shared',
    '-ncache',
    '0',
    '-quiet',
  ]);
  children.push(x11vnc);
  await waitFor(
    'x11vnc',
    () => x11vnc.output.includes(`PORT=${vncPort}`) || x11vnc.output.includes('Listening'),
  );
  const websockify = startProcess('websockify', [
    '--web',
    '/usr/share/novnc',
    String(webPort),
    `127.0.0.1:${vncPort}`,
  ]);
  children.push(websockify);
  await sleep(1500);
  const theirs = await session(
    browser,
    'x11vnc + websockify + noVNC',
    `http://127.0.0.1:${webPort}/vnc_lite.html?host=127.0.0.1&port=${webPort}&scale=true`,
    '#screen canvas',
    [x11vnc.pid, websockify.pid],
  );
  await stop(websockify);
  await stop(x11vnc);

  // Full-screen motion: the painter changes the whole screen; xshot serves it to the page, to 10 sockets,
  // and as MJPEG, one after the other.
  const painter = startProcess(process.execPath, [PAINTER, xvfb.display, '60']);
  children.push(painter);
  await waitFor('the painter', () => painter.output.includes('ready'));
  const pageFps = await motionInPage(browser, `http://127.0.0.1:${xshotPort}/desktop`);
  const socketFps = await motionInSockets(xshotPort, 10);
  const mjpegFps = await motionMjpeg(xshotPort);

  const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
  const ms = (value) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a');
  const cpu = (seconds) => `${(seconds * 1000).toFixed(0)} ms`;
  console.log(
    `\nremote desktop, Xvfb ${WIDTH}x${HEIGHT}x24, an xterm, headless Chromium 1280x720 (${KEYS} keys)\n`,
  );
  console.log(
    '| | typing: bytes | per key | latency median / p90 | server CPU typing | seq 1 400: bytes | CPU | idle 5 s: bytes | idle CPU |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of [ours, theirs])
    console.log(
      `| ${r.name} | ${kib(r.typingBytes)} | ${Math.round(r.typingBytes / KEYS)} B | ${ms(r.latencyMedian)} / ${ms(r.latencyP90)} (${r.seen} seen) | ${cpu(r.typingCpu)} | ${kib(r.scrollBytes)} | ${cpu(r.scrollCpu)} | ${r.idleBytes} B | ${cpu(r.idleCpu)} |`,
    );
  console.log(
    `\ntyping bytes, xshot / noVNC: ${(ours.typingBytes / theirs.typingBytes).toFixed(2)} (goal <= 0.5)`,
  );
  console.log('\nfull-screen motion (whole screen new 60 times a second), xshot stream --fps 30:\n');
  console.log('| | updates or frames/s |');
  console.log('| --- | ---: |');
  console.log(`| /desktop, 1 Chromium page | ${pageFps.toFixed(1)} |`);
  console.log(`| /desktop, 10 WebSocket viewers (slowest) | ${socketFps.toFixed(1)} |`);
  console.log(`| /stream.mjpeg (today), 1 reader | ${mjpegFps.toFixed(1)} |`);
} finally {
  await browser?.close().catch(() => {});
  for (const child of children.reverse()) await stop(child);
  await xvfb.stop();
  rmSync(scratch, { recursive: true, force: true });
}
