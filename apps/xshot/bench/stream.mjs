// Benchmark of `xshot stream` (not a test): on a private Xvfb 1920x1080x24 whose whole screen
// changes every frame (bench/stream-painter.mjs), JPEG quality 80, measures frames per second
// delivered to 1 and to 10 viewers, capture-to-socket latency, CPU per frame, idle CPU, and the
// same screen through `ffmpeg -f x11grab ... -f mpjpeg` in the same run. Prints a table.
// Needs a build first (it runs bin/xshot.js over dist/). Usage: node bench/stream.mjs [--seconds N]
import { get } from 'node:http';
import {
  BIN,
  PartCounter,
  requireBuild,
  requireTools,
  runBench,
  sleep,
  startPainter as startPainterAt,
  startProcess,
  startXvfb,
  stopProcess,
  cpuSeconds as treeCpuSeconds,
  waitForOutput,
} from './harness.mjs';

requireBuild('xshot stream bench', 'commands/stream.js');
requireTools('xshot stream bench', [
  ['Xvfb', 'xvfb'],
  ['ffmpeg', 'ffmpeg'],
]);

const WIDTH = 1920;
const HEIGHT = 1080;
const QUALITY = 80;
/** xshot's --fps and ffmpeg's -framerate: the rate a viewer would ask for. */
const FPS = 30;
/** The screen changes faster than either can capture, so every capture sees a new picture. */
const PAINT_FPS = 60;
/** Both again at this rate, to see the ceiling (the painter changes the screen at PAINT_FPS). */
const FAST_FPS = 60;
/** ffmpeg's mjpeg -q:v giving JPEGs of about the size of sharp's quality 80 on this picture (~100 vs ~84 KiB). */
const FFMPEG_QSCALE = 8;
const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 5;
const WARMUP_MS = 1500;
/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid) => treeCpuSeconds([pid]);

function fetchJson(url) {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let text = '';
      response.on('data', (chunk) => {
        text += chunk;
      });
      response.on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });
}

function openViewer(url) {
  const counter = new PartCounter('xshotframe');
  const request = get(url, (response) => response.on('data', (chunk) => counter.take(chunk)));
  request.on('error', () => {});
  return { counter, close: () => request.destroy() };
}

const startPainter = (display) => startPainterAt(display, PAINT_FPS);

/** Measures `viewers` viewers of the stream over SECONDS, after a warm-up. */
async function measureStream(streamPid, url, viewers, xvfbPid) {
  const clients = Array.from({ length: viewers }, () => openViewer(`${url}stream.mjpeg`));
  await sleep(WARMUP_MS);
  const before = await fetchJson(`${url}stats`);
  const parts0 = clients.map((c) => c.counter.parts);
  const cpu0 = cpuSeconds(streamPid);
  const xcpu0 = cpuSeconds(xvfbPid);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(streamPid) - cpu0;
  const xcpu = cpuSeconds(xvfbPid) - xcpu0;
  const after = await fetchJson(`${url}stats`);
  const perViewer = clients.map((c, i) => (c.counter.parts - parts0[i]) / seconds);
  for (const client of clients) client.close();
  const encoded = after.encoded - before.encoded;
  return {
    fpsMin: Math.min(...perViewer),
    fpsMean: perViewer.reduce((a, b) => a + b, 0) / perViewer.length,
    encodedFps: encoded / seconds,
    cpuPerFrameMs: encoded ? (cpu * 1000) / encoded : Number.NaN,
    cpuPercent: (cpu / seconds) * 100,
    xCpuPercent: (xcpu / seconds) * 100,
    latencyMs: after.latencyMs,
    captureMs: after.captureMs,
    convertMs: after.convertMs,
    encodeMs: after.encodeMs,
    jpegBytes: after.jpegBytes,
    skipped: after.skipped - before.skipped,
  };
}

async function measureIdle(streamPid, url, viewers) {
  const clients = Array.from({ length: viewers }, () => openViewer(`${url}stream.mjpeg`));
  await sleep(WARMUP_MS);
  const before = await fetchJson(`${url}stats`);
  const cpu0 = cpuSeconds(streamPid);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(streamPid) - cpu0;
  const after = await fetchJson(`${url}stats`);
  for (const client of clients) client.close();
  return {
    cpuPercent: (cpu / seconds) * 100,
    captured: after.captured - before.captured,
    encoded: after.encoded - before.encoded,
  };
}

async function measureFfmpeg(display, xvfbPid, fps) {
  const ffmpeg = startProcess(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-f', 'x11grab', '-framerate', String(fps)],
      ...['-video_size', `${WIDTH}x${HEIGHT}`, '-i', display],
      ...['-f', 'mpjpeg', '-q:v', String(FFMPEG_QSCALE), 'pipe:1'],
    ],
    { rawStdout: true },
  );
  const counter = new PartCounter('ffmpeg');
  ffmpeg.stdout.on('data', (chunk) => counter.take(chunk));
  await sleep(WARMUP_MS);
  const parts0 = counter.parts;
  const bytes0 = counter.bytes;
  const cpu0 = cpuSeconds(ffmpeg.pid);
  const xcpu0 = cpuSeconds(xvfbPid);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(ffmpeg.pid) - cpu0;
  const xcpu = cpuSeconds(xvfbPid) - xcpu0;
  const frames = counter.parts - parts0;
  const bytes = counter.bytes - bytes0;
  await stopProcess(ffmpeg, 'SIGINT');
  return {
    fps: frames / seconds,
    cpuPerFrameMs: frames ? (cpu * 1000) / frames : Number.NaN,
    cpuPercent: (cpu / seconds) * 100,
    xCpuPercent: (xcpu / seconds) * 100,
    jpegBytes: frames ? bytes / frames : 0,
  };
}

const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const kb = (v) => `${Math.round(v / 1024)} KiB`;

function startStream(display, fps) {
  return startProcess(process.execPath, [
    ...[BIN, 'stream', '--display', display, '--port', '0'],
    ...['--fps', String(fps), '--quality', String(QUALITY)],
    // The token is checked once per connection, not per frame: the printed URL stays plain.
    '--no-token',
  ]);
}

await runBench('xshot stream bench', async () => {
  const xvfb = await startXvfb({ width: WIDTH, height: HEIGHT, depth: 24 });
  let stream = startStream(xvfb.display, FPS);
  const [, url] = await waitForOutput(stream, /at (http:\/\/\S+)/);
  let painter = await startPainter(xvfb.display);
  const one = await measureStream(stream.pid, url, 1, xvfb.pid);
  const ten = await measureStream(stream.pid, url, 10, xvfb.pid);
  await painter.stop();
  const idleViewer = await measureIdle(stream.pid, url, 1);
  const idleNobody = await measureIdle(stream.pid, url, 0);
  await stopProcess(stream, 'SIGINT');

  stream = startStream(xvfb.display, FAST_FPS);
  const [, fastUrl] = await waitForOutput(stream, /at (http:\/\/\S+)/);
  painter = await startPainter(xvfb.display);
  const fast = await measureStream(stream.pid, fastUrl, 1, xvfb.pid);
  await stopProcess(stream, 'SIGINT');
  const ffmpeg = await measureFfmpeg(xvfb.display, xvfb.pid, FPS);
  const ffmpegFast = await measureFfmpeg(xvfb.display, xvfb.pid, FAST_FPS);

  console.log(
    `xshot stream vs ffmpeg -f x11grab -f mpjpeg: ${WIDTH}x${HEIGHT}x24 Xvfb, whole screen changing at ` +
      `${PAINT_FPS} fps, quality ${QUALITY} (ffmpeg -q:v ${FFMPEG_QSCALE}), ${SECONDS} s per row`,
  );
  const xshotRow = (name, m, fps) => [
    name,
    fps,
    `${f1(m.cpuPerFrameMs)} ms`,
    `${f1(m.cpuPercent)} %`,
    `${f1(m.xCpuPercent)} %`,
    kb(m.jpegBytes),
    `${f1(m.latencyMs)} ms`,
  ];
  const ffmpegRow = (name, m) => [
    name,
    f1(m.fps),
    `${f1(m.cpuPerFrameMs)} ms`,
    `${f1(m.cpuPercent)} %`,
    `${f1(m.xCpuPercent)} %`,
    kb(m.jpegBytes),
    '-',
  ];
  const rows = [
    ['', 'fps/viewer', 'CPU/frame', 'CPU', 'Xvfb CPU', 'JPEG', 'latency'],
    xshotRow(`xshot --fps ${FPS}, 1 viewer`, one, f1(one.fpsMin)),
    xshotRow(`xshot --fps ${FPS}, 10 viewers`, ten, `${f1(ten.fpsMin)} (min)`),
    ffmpegRow(`ffmpeg -framerate ${FPS}, 1 reader`, ffmpeg),
    xshotRow(`xshot --fps ${FAST_FPS}, 1 viewer`, fast, f1(fast.fpsMin)),
    ffmpegRow(`ffmpeg -framerate ${FAST_FPS}, 1 reader`, ffmpegFast),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c])).join('  '));
  console.log(
    `ratios xshot/ffmpeg: fps ${f1(one.fpsMin / ffmpeg.fps)}x at ${FPS} (1 viewer), ` +
      `${f1(ten.fpsMin / ffmpeg.fps)}x (10 viewers, one encode), ${f1(fast.fpsMin / ffmpegFast.fps)}x at ` +
      `${FAST_FPS}; CPU per frame ${f1(one.cpuPerFrameMs / ffmpeg.cpuPerFrameMs)}x`,
  );
  console.log(
    `xshot per frame (1 viewer): capture ${f1(one.captureMs)} ms, RGB ${f1(one.convertMs)} ms, ` +
      `JPEG ${f1(one.encodeMs)} ms; 10 viewers: ${f1(ten.encodedFps)} encodes/s for ` +
      `${f1(ten.fpsMean)} fps mean per viewer, ${ten.skipped} frame sends skipped`,
  );
  console.log(
    `idle (still screen): 1 viewer ${f1(idleViewer.cpuPercent)} % CPU, ${idleViewer.captured} captures, ` +
      `${idleViewer.encoded} encodes in ${SECONDS} s; no viewer ${f1(idleNobody.cpuPercent)} % CPU, ` +
      `${idleNobody.captured} captures`,
  );
});
