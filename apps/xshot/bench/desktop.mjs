// Benchmark of xshot's remote desktop (/desktop) against x11vnc + websockify + noVNC (Debian packages), the
// same session in the same headless Chromium (not a test). Private Xvfb 1920x1080x24, no window manager.
// Each client gets the same scenarios, on a fresh xterm (100x40 at the top left) and a second xterm
// showing text (80x24, at 640,560):
// - typing: 40 keys into the first xterm, one every 120 ms; keystroke-to-pixels latency is from the key
//   press in the page until a 4 ms poll of the page's canvas (the xterm's area) sees a change;
// - scrolling text: `seq 1 400` typed first, measured from its Enter until the page's bytes and the
//   xterm's area on its canvas have been still for 0.8 s; the canvas is then compared with X's pixels
//   (@xshm/mit-shm's capture), which shows the whole scroll was drawn;
// - idle: 5 s of a still screen;
// - a moving window: the second xterm moved 8 pixels 30 times a second along a horizontal path
//   (bench/window-mover.mjs, ConfigureWindow requests), 5 s;
// - a changing 1080p picture: no windows, bench/stream-painter.mjs putting a new full-screen picture 60
//   times a second, 5 s, in 1 page (1280x720) and in 10 pages at once (640x360 each); xshot's MJPEG stream
//   (/stream.mjpeg) likewise, in an <img> of a page of its own, and read raw (frames received, nothing
//   decoded) as bench/stream.mjs does. The pages are opened on a still screen, then the painter starts.
// For each: bytes the page received (DevTools protocol: WebSocket frames, and HTTP data for the MJPEG
// page), server CPU (xshot; x11vnc + websockify and its forked handlers), and where it makes sense the
// updates the page drew per second: a requestAnimationFrame poll hashes a sample of the canvas (or of the
// <img>) and counts the polls that see a new picture, so every client is counted the same way and none
// above the page's frame rate (60 Hz). Chromium's own CPU is printed beside the changing picture: pages and
// server share the machine's cores. Progress goes to stderr, the tables to stdout.
// Needs a build first (it runs bin/xshot.js over dist/). Usage: node bench/desktop.mjs
import { execFile } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  BenchError,
  BIN,
  cpuSeconds,
  here,
  launchChromium,
  onCleanup,
  PartCounter,
  require,
  requireBuild,
  requireTools,
  runBench,
  sleep,
  startPainter,
  startProcess,
  startXvfb,
  waitFor,
  waitForOutput,
} from './harness.mjs';

const BENCH = 'xshot desktop bench';
requireBuild(BENCH, join('web', 'remote', 'desktop.js'));
requireTools(BENCH, [
  ['Xvfb', 'xvfb'],
  ['xterm', 'xterm'],
  ['xdotool', 'xdotool'],
  ['x11vnc', 'x11vnc'],
  ['websockify', 'websockify'],
  ['/usr/share/novnc/vnc_lite.html', 'novnc'],
  ['/usr/bin/chromium', 'chromium'],
]);

const MOVER = join(here, 'window-mover.mjs');
const WIDTH = 1920;
const HEIGHT = 1080;
const VIEWPORT = { width: 1280, height: 720 };
/** Each of the 10 pages watching the changing picture. */
const SMALL_VIEWPORT = { width: 640, height: 360 };
const KEYS = 40;
const KEY_GAP_MS = 120;
const IDLE_SECONDS = 5;
const SECONDS = 5; // the moving window and the changing picture
const WARMUP_MS = 1500;
const MOVE_FPS = 30;
const MOVE_STEP = 8;
const PAINT_FPS = 60;
const VIEWERS = 10;
/** The typed-into xterm: 100 columns, 40 rows of the 6x13 font at the top left. */
const XTERM_AREA = { x: 0, y: 0, width: 600, height: 520 };
/** The moved xterm (80x24 of 6x13, ~490x320) goes from x 640 to 1400 and back, at y 560. */
const MOVED = { x0: 640, x1: 1400, y: 560, title: 'xshot-bench-moved' };
/** Where the moved xterm goes: the canvas is sampled there, every 4th pixel, so an 8-pixel move always shows. */
const MOVED_AREA = { x: 0, y: 540, width: WIDTH, height: 360, every: 4 };
/** The whole screen, every 8th pixel: the painter changes every pixel. */
const SCREEN_AREA = { x: 0, y: 0, width: WIDTH, height: HEIGHT, every: 8 };

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function httpOk(url) {
  return new Promise((resolve) => {
    get(url, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}

/** xshot stream --control on loopback, without a token (the pages and readers open it plainly). */
async function startXshot(display) {
  const xshot = startProcess(process.execPath, [
    ...[BIN, 'stream', '--display', display, '--port', '0'],
    ...['--control', '--no-token'],
  ]);
  const [, origin] = await waitForOutput(xshot, /remote desktop.* at (http:\/\/[^/\s]+)\/desktop/);
  return {
    name: 'xshot',
    url: `${origin}/desktop`,
    origin,
    selector: '#screen',
    pids: [xshot.pid],
    stop: xshot.stop,
  };
}

/** x11vnc (no client-side caching, shared, no password on loopback) behind websockify serving noVNC. */
async function startNoVnc(display) {
  const vncPort = await freePort();
  const x11vnc = startProcess('x11vnc', [
    ...['-display', display, '-rfbport', String(vncPort), '-localhost', '-nopw'],
    ...['-forever', '-shared', '-ncache', '0'],
  ]);
  await waitForOutput(x11vnc, new RegExp(`PORT=${vncPort}`));
  const webPort = await freePort();
  const websockify = startProcess('websockify', [
    ...['--web', '/usr/share/novnc', String(webPort), `127.0.0.1:${vncPort}`],
  ]);
  const origin = `http://127.0.0.1:${webPort}`;
  await waitFor('websockify', async () => {
    if (websockify.exitCode !== null) throw new BenchError(`websockify exited: ${websockify.output}`);
    return httpOk(`${origin}/vnc_lite.html`);
  });
  return {
    name: 'noVNC',
    url: `${origin}/vnc_lite.html?host=127.0.0.1&port=${webPort}&scale=true`,
    origin,
    selector: '#screen canvas',
    pids: [x11vnc.pid, websockify.pid],
    async stop() {
      await websockify.stop();
      await x11vnc.stop();
    },
  };
}

/** An xterm on `display`; resolves with its window id once it is mapped. */
async function startXterm(display, args, title) {
  const xterm = startProcess('xterm', ['-title', title, ...args], {
    env: { DISPLAY: display, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8', PS1: '$ ' },
  });
  const id = await new Promise((resolve, reject) =>
    execFile(
      'xdotool',
      ['search', '--sync', '--onlyvisible', '--name', `^${title}$`],
      { env: { ...process.env, DISPLAY: display }, timeout: 15_000 },
      (error, stdout) =>
        error ? reject(new BenchError(`the ${title} xterm never showed: ${xterm.output}`)) : resolve(stdout),
    ),
  );
  xterm.window = Number(id.trim().split('\n')[0]);
  return xterm;
}

/**
 * A page of its own context, its bytes counted from the DevTools protocol: WebSocket frames (text by UTF-8
 * length, binary by decoded length) and HTTP response data.
 */
async function openPage(chromium, url, viewport = VIEWPORT) {
  const page = await chromium.newPage(viewport);
  page.on('crash', () => console.error(`${BENCH}: a page crashed (${url})`));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const counter = { bytes: 0 };
  cdp.on('Network.webSocketFrameReceived', ({ response }) => {
    const data = response.payloadData;
    if (response.opcode === 2) {
      const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
      counter.bytes += (data.length * 3) / 4 - padding;
    } else counter.bytes += Buffer.byteLength(data);
  });
  cdp.on('Network.dataReceived', ({ dataLength }) => {
    counter.bytes += dataLength;
  });
  await page.goto(url, { timeout: 60_000 });
  return { page, counter };
}

/** Opens a client's page and waits until its canvas has the remote screen's size and its bytes stop. */
async function openDesktop(chromium, server, viewport = VIEWPORT) {
  const opened = await openPage(chromium, server.url, viewport);
  await waitFor(`${server.name}'s canvas`, () =>
    opened.page.evaluate(
      `(document.querySelector(${JSON.stringify(server.selector)})?.width ?? 0) === ${WIDTH}`,
    ),
  );
  await quiet(opened.counter);
  return opened;
}

/** Resolves once `counter.bytes` has not moved for `ms` (or after `timeoutMs` of traffic). */
async function quiet(counter, ms = 800, timeoutMs = 20_000) {
  const start = Date.now();
  let last = -1;
  while (Date.now() - start < timeoutMs) {
    if (counter.bytes === last) return;
    last = counter.bytes;
    await sleep(ms);
  }
}

/**
 * In the page: hashes the xterm's area of the canvas every 4 ms and keeps when it last changed in
 * window.__changedAt (Date.now(), this process's clock). The canvas is in remote pixels for both clients.
 */
async function watchXterm(page, selector) {
  await page.evaluate(`(() => {
    const area = ${JSON.stringify(XTERM_AREA)};
    const context = document.querySelector(${JSON.stringify(selector)}).getContext('2d');
    let last = 0;
    window.__changedAt = 0;
    const timer = setInterval(() => {
      const data = context.getImageData(area.x, area.y, area.width, area.height).data;
      let hash = 0;
      for (let i = 0; i < data.length; i += 4) hash = (Math.imul(hash, 31) + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16)) | 0;
      if (hash !== last) { last = hash; window.__changedAt = Date.now(); }
    }, 4);
    window.__stopWatch = () => clearInterval(timer);
  })()`);
  return () => page.evaluate('window.__stopWatch()');
}

/**
 * In the page: every animation frame, draws `area` of the canvas or <img> at `selector` into a small
 * canvas, every `area.every`th pixel (no smoothing: a copy, not an average), hashes it, and counts the
 * frames whose hash differs from the last: the updates the page drew, at most one per animation frame.
 */
async function countDrawn(page, selector, area) {
  await page.evaluate(`(() => {
    const area = ${JSON.stringify(area)};
    const source = document.querySelector(${JSON.stringify(selector)});
    const small = document.createElement('canvas');
    small.width = area.width / area.every;
    small.height = area.height / area.every;
    const context = small.getContext('2d', { willReadFrequently: true });
    context.imageSmoothingEnabled = false;
    const drawn = (window.__drawn = { changes: 0, running: true });
    let last = 0;
    const tick = () => {
      if (!drawn.running) return;
      context.drawImage(source, area.x, area.y, area.width, area.height, 0, 0, small.width, small.height);
      const data = context.getImageData(0, 0, small.width, small.height).data;
      let hash = 0;
      for (let i = 0; i < data.length; i += 4) hash = (Math.imul(hash, 31) + data[i] + (data[i + 1] << 8) + (data[i + 2] << 16)) | 0;
      if (hash !== last) { last = hash; drawn.changes++; }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  })()`);
  return {
    read: () => page.evaluate('window.__drawn.changes'),
    stop: () => page.evaluate('window.__drawn.running = false'),
  };
}

/**
 * The share of pixels in `area` where the page's canvas and X's screen differ by more than 48 in a
 * channel (noVNC may send JPEG, so not exact).
 */
async function mismatch(x, page, selector, area) {
  const canvas = Buffer.from(
    await page.evaluate(`(() => {
      const area = ${JSON.stringify(area)};
      const data = document.querySelector(${JSON.stringify(selector)}).getContext('2d').getImageData(area.x, area.y, area.width, area.height).data;
      let text = '';
      for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
      return btoa(text);
    })()`),
    'base64',
  );
  const frame = await x.capture(area);
  let differ = 0;
  for (let y = 0; y < area.height; y++) {
    for (let col = 0; col < area.width; col++) {
      const c = (y * area.width + col) * 4;
      const f = y * frame.stride + col * 4; // B, G, R, X
      const d = Math.max(
        Math.abs(canvas[c] - frame.data[f + 2]),
        Math.abs(canvas[c + 1] - frame.data[f + 1]),
        Math.abs(canvas[c + 2] - frame.data[f]),
      );
      if (d > 48) differ++;
    }
  }
  frame.release?.();
  return differ / (area.width * area.height);
}

const started = Date.now();
/** What the bench is doing, on stderr (a run takes minutes). */
const progress = (what) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${what}`);

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

/** Typing, scrolling, idle and the moving window, on a fresh pair of xterms. */
async function desktopScenarios(chromium, x, display, server) {
  const xterm = await startXterm(
    display,
    ['-geometry', '100x40+0+0', '-u8', '-e', 'sh'],
    'xshot-bench-typed',
  );
  const moved = await startXterm(
    display,
    [
      '-geometry',
      `80x24+${MOVED.x0}+${MOVED.y}`,
      '-hold',
      '-e',
      'head',
      '-n',
      '24',
      join(here, 'desktop.mjs'),
    ],
    MOVED.title,
  );
  await sleep(500);
  progress(`${server.name}: typing`);
  const { page, counter } = await openDesktop(chromium, server);
  const cpu = () => cpuSeconds(server.pids);
  const stopWatch = await watchXterm(page, server.selector);
  const box = await page.locator(server.selector).boundingBox();
  const scale = box.width / WIDTH;
  // A click in the xterm: noVNC takes keys only once its canvas has focus (and focus follows the pointer in X).
  await page.mouse.click(box.x + 200 * scale, box.y + 200 * scale);
  await sleep(300);
  await quiet(counter);

  // Typing: a key at a time, latency from the press to the canvas showing it.
  let bytesFrom = counter.bytes;
  let cpuFrom = cpu();
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
  await quiet(counter);
  latencies.sort((a, b) => a - b);
  const typing = {
    bytes: counter.bytes - bytesFrom,
    cpu: cpu() - cpuFrom,
    latencyMedian: percentile(latencies, 0.5),
    latencyP90: percentile(latencies, 0.9),
    seen: latencies.length,
  };
  await page.keyboard.press('Control+U'); // the shell line is typed text, not a command: forget it

  progress(`${server.name}: scrolling text`);
  // Scrolling text: the command typed and drawn first, so only its output is measured.
  await page.keyboard.type('seq 1 400', { delay: 20 });
  await sleep(300);
  await quiet(counter);
  bytesFrom = counter.bytes;
  cpuFrom = cpu();
  const entered = Date.now();
  await page.keyboard.press('Enter');
  await sleep(300);
  await waitFor(
    'the scroll to end',
    async () => {
      const before = counter.bytes;
      await sleep(800);
      return counter.bytes === before && Date.now() - (await page.evaluate('window.__changedAt')) >= 800;
    },
    30_000,
  );
  const lastChange = await page.evaluate('window.__changedAt');
  const scroll = {
    bytes: counter.bytes - bytesFrom,
    cpu: cpu() - cpuFrom,
    ms: lastChange >= entered ? lastChange - entered : NaN, // NaN: the canvas never changed
    mismatch: await mismatch(x, page, server.selector, XTERM_AREA),
  };
  await stopWatch();

  progress(`${server.name}: idle`);
  await sleep(1000);
  bytesFrom = counter.bytes;
  cpuFrom = cpu();
  await sleep(IDLE_SECONDS * 1000);
  const idle = { bytes: counter.bytes - bytesFrom, cpu: cpu() - cpuFrom };

  progress(`${server.name}: a moving window`);
  const drawn = await countDrawn(page, server.selector, MOVED_AREA);
  const mover = startProcess(process.execPath, [
    ...[MOVER, display, String(moved.window), String(MOVE_FPS)],
    ...[MOVED.x0, MOVED.x1, MOVED.y, MOVE_STEP].map(String),
  ]);
  await waitForOutput(mover, /ready/);
  await sleep(WARMUP_MS);
  bytesFrom = counter.bytes;
  cpuFrom = cpu();
  const drawnFrom = await drawn.read();
  await sleep(SECONDS * 1000);
  const move = {
    bytes: counter.bytes - bytesFrom,
    cpu: cpu() - cpuFrom,
    drawn: ((await drawn.read()) - drawnFrom) / SECONDS,
  };
  await mover.stop();
  await drawn.stop();

  await page.close();
  await moved.stop();
  await xterm.stop();
  return { typing, scroll, idle, move };
}

/**
 * The changing picture in `viewers` pages (`open()` opens one) at once: the slowest page's updates drawn per second,
 * bytes per page per second, and server CPU as a share of one core.
 */
async function motionInPages(chromium, display, server, viewers, open) {
  progress(`${server.name}: a changing 1080p picture in ${viewers} page${viewers > 1 ? 's' : ''}`);
  // Opened on a still screen: a page loading while the picture changes can take longer than a page load may.
  const pages = [];
  // Many pages share the machine's cores with the server: smaller ones cost less to composite.
  for (let i = 0; i < viewers; i++) pages.push(await open(viewers > 1 ? SMALL_VIEWPORT : VIEWPORT));
  const drawn = await Promise.all(pages.map(({ page }) => countDrawn(page, server.selector, SCREEN_AREA)));
  const painter = await startPainter(display, PAINT_FPS);
  await sleep(WARMUP_MS);
  const drawnFrom = await Promise.all(drawn.map((d) => d.read()));
  const bytesFrom = pages.map(({ counter }) => counter.bytes);
  const cpuFrom = cpuSeconds(server.pids);
  const clientFrom = cpuSeconds([chromium.pid]);
  const start = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(server.pids) - cpuFrom;
  const client = cpuSeconds([chromium.pid]) - clientFrom;
  const rates = (await Promise.all(drawn.map((d) => d.read()))).map((n, i) => (n - drawnFrom[i]) / seconds);
  const bytes = pages.map(({ counter }, i) => (counter.bytes - bytesFrom[i]) / seconds);
  await painter.stop();
  await Promise.all(pages.map(({ page }) => page.close()));
  return {
    drawn: Math.min(...rates),
    drawnMean: rates.reduce((a, b) => a + b, 0) / rates.length,
    bytesPerSecond: bytes.reduce((a, b) => a + b, 0) / bytes.length,
    cpuPercent: (cpu / seconds) * 100,
    clientPercent: (client / seconds) * 100,
  };
}

/** xshot's MJPEG stream in an <img> of a page at xshot's origin (a same-origin picture can be read back). */
async function openMjpegPage(chromium, origin, viewport = VIEWPORT) {
  const opened = await openPage(chromium, `${origin}/healthz`, viewport);
  await opened.page.evaluate(`(() => {
    const img = document.createElement('img');
    img.id = 'mjpeg';
    img.style.width = '100%';
    img.src = '/stream.mjpeg';
    document.body.replaceChildren(img);
  })()`);
  await waitFor('the MJPEG picture', () =>
    opened.page.evaluate(`document.getElementById('mjpeg').naturalWidth === ${WIDTH}`),
  );
  return opened;
}

/** Frames per second each of `readers` plain HTTP readers of /stream.mjpeg receives (the slowest), nothing decoded. */
async function mjpegReaders(display, origin, pids, readers) {
  progress(`MJPEG: a changing 1080p picture to ${readers} plain reader${readers > 1 ? 's' : ''}`);
  const counters = [];
  const requests = [];
  for (let i = 0; i < readers; i++) {
    const counter = new PartCounter('xshotframe');
    counters.push(counter);
    const request = get(`${origin}/stream.mjpeg`, (response) =>
      response.on('data', (chunk) => counter.take(chunk)),
    );
    request.on('error', () => {});
    requests.push(request);
  }
  const close = onCleanup(() => {
    for (const request of requests) request.destroy();
  });
  const painter = await startPainter(display, PAINT_FPS);
  await sleep(WARMUP_MS);
  const from = counters.map((c) => c.parts);
  const bytesFrom = counters.map((c) => c.bytes);
  const cpuFrom = cpuSeconds(pids);
  const start = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(pids) - cpuFrom;
  await painter.stop();
  await close();
  const bytes = counters.map((c, i) => (c.bytes - bytesFrom[i]) / seconds);
  const rates = counters.map((c, i) => (c.parts - from[i]) / seconds);
  return {
    drawn: Math.min(...rates),
    drawnMean: rates.reduce((a, b) => a + b, 0) / rates.length,
    bytesPerSecond: bytes.reduce((a, b) => a + b, 0) / bytes.length,
    cpuPercent: (cpu / seconds) * 100,
  };
}

// Figures.
const kib = (bytes) => (bytes < 1024 ? `${Math.round(bytes)} B` : `${(bytes / 1024).toFixed(1)} KiB`);
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
const ms = (value) => (Number.isFinite(value) ? `${Math.round(value)} ms` : 'n/a');
const cpuMs = (seconds) => `${Math.round(seconds * 1000)} ms`;
const f1 = (value) => (Number.isFinite(value) ? value.toFixed(1) : '-');
const ratio = (a, b) =>
  b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}x` : a === 0 && b === 0 ? '=' : '-';

function printTables(desk, motion, mjpeg, load) {
  const [ours, theirs] = desk;
  const [oursMotion, theirsMotion] = motion;
  console.log(
    `\nremote desktop: xshot /desktop against x11vnc + websockify + noVNC, Xvfb ${WIDTH}x${HEIGHT}x24, ` +
      `headless Chromium ${VIEWPORT.width}x${VIEWPORT.height}, xshot stream at its default --fps; ` +
      `load average before/after: ${load.before} / ${load.after}\n`,
  );
  console.log(
    '| scenario | bytes: xshot | noVNC | xshot/noVNC | server CPU: xshot | noVNC | xshot/noVNC | drawn/s: xshot | noVNC | xshot/noVNC |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const row = (name, a, b, { bytes = kib, drawn = false } = {}) =>
    console.log(
      `| ${name} | ${bytes(a.bytes)} | ${bytes(b.bytes)} | ${ratio(a.bytes, b.bytes)} | ${cpuMs(a.cpu)} | ` +
        `${cpuMs(b.cpu)} | ${ratio(a.cpu, b.cpu)} | ${drawn ? f1(a.drawn) : '-'} | ${drawn ? f1(b.drawn) : '-'} | ` +
        `${drawn ? ratio(a.drawn, b.drawn) : '-'} |`,
    );
  row(`typing ${KEYS} keys`, ours.typing, theirs.typing);
  row('scrolling text (`seq 1 400`)', ours.scroll, theirs.scroll);
  row(`a moving window, ${SECONDS} s (${MOVE_FPS} moves/s)`, ours.move, theirs.move, { drawn: true });
  const picture = (m) => ({
    bytes: m.bytesPerSecond * SECONDS,
    cpu: (m.cpuPercent / 100) * SECONDS,
    drawn: m.drawn,
  });
  row(
    `a changing 1080p picture, ${SECONDS} s (${PAINT_FPS} pictures/s)`,
    picture(oursMotion.one),
    picture(theirsMotion.one),
    {
      bytes: mib,
      drawn: true,
    },
  );
  row(`idle, ${IDLE_SECONDS} s`, ours.idle, theirs.idle);
  console.log(
    `\nkeystroke to pixels, median / p90: xshot ${ms(ours.typing.latencyMedian)} / ${ms(ours.typing.latencyP90)} ` +
      `(${ours.typing.seen} of ${KEYS} keys seen), noVNC ${ms(theirs.typing.latencyMedian)} / ` +
      `${ms(theirs.typing.latencyP90)} (${theirs.typing.seen} seen): ${ratio(ours.typing.latencyMedian, theirs.typing.latencyMedian)} ` +
      'the median',
  );
  const shown = (s) =>
    `${ms(s.ms)}, ${(s.mismatch * 100).toFixed(2)} % of the xterm's pixels unlike X's after it`;
  console.log(
    `scrolling text, Enter to the last change on the canvas: xshot ${shown(ours.scroll)}; noVNC ${shown(theirs.scroll)}`,
  );

  console.log(`\na changing 1080p picture (${PAINT_FPS} new full-screen pictures a second), ${SECONDS} s:\n`);
  console.log(
    '| | 1 page: drawn/s | bytes/s | server CPU | Chromium CPU ' +
      `| ${VIEWERS} pages of ${SMALL_VIEWPORT.width}x${SMALL_VIEWPORT.height}: drawn/s, slowest (mean) | bytes/s per page | server CPU | Chromium CPU |`,
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const percent = (value) => (Number.isFinite(value) ? `${Math.round(value)} %` : '-');
  const viewersMean = (many) => ` (${f1(many.drawnMean)})`;
  const motionRow = (name, one, many) =>
    console.log(
      `| ${name} | ${f1(one.drawn)} | ${mib(one.bytesPerSecond)} | ${percent(one.cpuPercent)} | ` +
        `${percent(one.clientPercent)} | ${f1(many.drawn)}${viewersMean(many)} | ` +
        `${mib(many.bytesPerSecond)} | ${percent(many.cpuPercent)} | ${percent(many.clientPercent)} |`,
    );
  motionRow('xshot /desktop', oursMotion.one, oursMotion.many);
  motionRow('x11vnc + websockify + noVNC', theirsMotion.one, theirsMotion.many);
  motionRow('xshot /stream.mjpeg in an <img>', mjpeg.page, mjpeg.pages);
  motionRow('xshot /stream.mjpeg, plain readers (frames received, not drawn)', mjpeg.reader, mjpeg.readers);

  const typingRatio = ours.typing.bytes / theirs.typing.bytes;
  const latencyRatio = ours.typing.latencyMedian / theirs.typing.latencyMedian;
  const verdict = (met) => (met ? 'met' : 'NOT met');
  console.log(
    `\ngoals: typing bytes xshot/noVNC ${typingRatio.toFixed(2)} (<= 0.5: ${verdict(typingRatio <= 0.5)}); ` +
      `latency median xshot/noVNC ${latencyRatio.toFixed(2)} (<= 1: ${verdict(latencyRatio <= 1)}); ` +
      `idle ${ours.idle.bytes} B (0: ${verdict(ours.idle.bytes === 0)}); full-screen drawn/s against MJPEG's ` +
      `in a page: 1 page ${f1(oursMotion.one.drawn)} vs ${f1(mjpeg.page.drawn)} ` +
      `(${verdict(oursMotion.one.drawn >= mjpeg.page.drawn)}), ${VIEWERS} pages ${f1(oursMotion.many.drawn)} vs ` +
      `${f1(mjpeg.pages.drawn)} (${verdict(oursMotion.many.drawn >= mjpeg.pages.drawn)})`,
  );
}

const loadAverage = async () =>
  (await import('node:os'))
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

await runBench(BENCH, async () => {
  const load = { before: await loadAverage() };
  const xvfb = await startXvfb({ width: WIDTH, height: HEIGHT, depth: 24 });
  const { connect } = require('@xshm/mit-shm');
  const x = await connect({ display: xvfb.display });
  onCleanup(() => x.close());
  const chromium = await launchChromium(VIEWPORT);

  // Typing, scrolling, idle, a moving window: each client on its own, on fresh xterms.
  const desk = [];
  for (const start of [startXshot, startNoVnc]) {
    const server = await start(xvfb.display);
    desk.push(await desktopScenarios(chromium, x, xvfb.display, server));
    await server.stop();
  }

  // The changing picture, on a screen with no windows: every client and MJPEG on the same painter.
  const motion = [];
  let mjpeg;
  for (const start of [startXshot, startNoVnc]) {
    const server = await start(xvfb.display);
    const open = (viewport) => openDesktop(chromium, server, viewport);
    motion.push({
      one: await motionInPages(chromium, xvfb.display, server, 1, open),
      many: await motionInPages(chromium, xvfb.display, server, VIEWERS, open),
    });
    if (server.name === 'xshot') {
      const img = { ...server, name: 'MJPEG <img>', selector: '#mjpeg' };
      const openImg = (viewport) => openMjpegPage(chromium, server.origin, viewport);
      mjpeg = {
        page: await motionInPages(chromium, xvfb.display, img, 1, openImg),
        pages: await motionInPages(chromium, xvfb.display, img, VIEWERS, openImg),
        reader: await mjpegReaders(xvfb.display, server.origin, server.pids, 1),
        readers: await mjpegReaders(xvfb.display, server.origin, server.pids, VIEWERS),
      };
    }
    await server.stop();
  }
  load.after = await loadAverage();
  printTables(desk, motion, mjpeg, load);
});
