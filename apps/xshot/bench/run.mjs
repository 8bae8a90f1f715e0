// Whole-process wall time of one 1080p screenshot: xshot against scrot, maim, ImageMagick import and
// ffmpeg x11grab, PNG, JPEG (xshot through libjpeg-turbo and through its sharp fallback), WebP and AVIF, on
// one private Xvfb 1920x1080x24 showing a desktop-like picture, then PNG again on a noisy one (ImageMagick
// plasma:fractal, where deflate dominates and photo-like content is judged). Each file's size and its PSNR
// against the picture on the screen are printed beside the time.
// Runs alternate (every tool once per round, in a shuffled order) so load changes hit all tools alike;
// the table gives medians, file sizes, PSNR and each tool's time as a multiple of xshot's.
// Needs a build first (`pnpm build`); run with `pnpm bench` or `node bench/run.mjs [rounds]`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const bin = join(here, '..', 'bin', 'xshot.js');
if (!existsSync(join(here, '..', 'dist', 'xshot.cjs'))) {
  console.error('xshot bench: dist/ is missing; run `pnpm build` first');
  process.exit(1);
}
const { loadMitShm } = require('../dist/xdisplay.js');
const sharp = require('sharp');

const rounds = Number(process.argv[2] ?? process.env.XSHOT_BENCH_ROUNDS ?? 15);
const folder = mkdtempSync(join(tmpdir(), 'xshot-bench-'));
const xvfb = await loadMitShm().startXvfb({ width: 1920, height: 1080, depth: 24 });
try {
  const picture = join(folder, 'desktop.png');
  await sharp(Buffer.from(desktopSVG(1920, 1080)))
    .flatten()
    .png()
    .toFile(picture);
  const noise = join(folder, 'noise.png');
  const painted = spawnSync('convert', ['-size', '1920x1080', 'plasma:fractal', '-depth', '8', noise]);
  spawnSync('display', ['-display', xvfb.display, '-window', 'root', picture]);
  // The picture as the BGRX frame a capture gives, for the Node floor row (bench/jpeg-floor.mjs).
  const frame = join(folder, 'desktop.bgrx');
  const rgba = await sharp(picture).ensureAlpha().raw().toBuffer();
  for (let i = 0; i < rgba.length; i += 4) [rgba[i], rgba[i + 2]] = [rgba[i + 2], rgba[i]];
  writeFileSync(frame, rgba);

  // NODE_EXTRA_CA_CERTS makes Node parse a CA bundle at start-up (~45 ms on the reference machine, where
  // the environment sets it); xshot makes no TLS connection, and a fresh machine does not set it.
  const env = { ...process.env, DISPLAY: xvfb.display };
  delete env.NODE_EXTRA_CA_CERTS;
  const node = process.execPath;
  const out = (name) => join(folder, name);
  const grab = [
    '-loglevel',
    'error',
    '-y',
    '-f',
    'x11grab',
    '-video_size',
    '1920x1080',
    '-i',
    xvfb.display,
    '-frames:v',
    '1',
  ];
  const cases = [
    {
      tool: 'xshot',
      format: 'png',
      cmd: node,
      args: [bin, 'shot', out('xshot.png')],
      file: out('xshot.png'),
    },
    {
      tool: 'scrot',
      format: 'png',
      cmd: 'scrot',
      args: ['-o', '-F', out('scrot.png')],
      file: out('scrot.png'),
    },
    { tool: 'maim', format: 'png', cmd: 'maim', args: [out('maim.png')], file: out('maim.png') },
    {
      tool: 'import',
      format: 'png',
      cmd: 'import',
      args: ['-window', 'root', out('import.png')],
      file: out('import.png'),
    },
    {
      tool: 'ffmpeg',
      format: 'png',
      cmd: 'ffmpeg',
      args: [...grab, out('ffmpeg.png')],
      file: out('ffmpeg.png'),
    },
    // JPEG at quality 80 wherever a tool takes one (maim's 1-10 scale: 8; ffmpeg's mjpeg has no quality,
    // -q:v 4 gives a file of about the others' size). xshot twice: libjpeg-turbo, and the sharp fallback.
    {
      tool: 'xshot',
      format: 'jpeg',
      cmd: node,
      args: [bin, 'shot', out('xshot.jpg'), '-q', '80'],
      file: out('xshot.jpg'),
    },
    {
      tool: 'xshot (sharp)',
      format: 'jpeg',
      cmd: node,
      args: [bin, 'shot', out('xshot-sharp.jpg'), '-q', '80'],
      env: { XSHOT_TURBOJPEG: '/nonexistent/libturbojpeg.so.0' },
      file: out('xshot-sharp.jpg'),
    },
    // References for what Node itself costs: starting, and the floor of a JPEG shot without X or xshot.
    { tool: 'node -e 0', format: 'jpeg', cmd: node, args: ['-e', '0'] },
    {
      tool: 'node floor (no X)',
      format: 'jpeg',
      cmd: node,
      args: [join(here, 'jpeg-floor.mjs'), frame, '1920', '1080', '80', out('floor.jpg')],
      file: out('floor.jpg'),
    },
    {
      tool: 'scrot',
      format: 'jpeg',
      cmd: 'scrot',
      args: ['-o', '-q', '80', '-F', out('scrot.jpg')],
      file: out('scrot.jpg'),
    },
    {
      tool: 'maim',
      format: 'jpeg',
      cmd: 'maim',
      args: ['-f', 'jpg', '-m', '8', out('maim.jpg')],
      file: out('maim.jpg'),
    },
    {
      tool: 'import',
      format: 'jpeg',
      cmd: 'import',
      args: ['-window', 'root', '-quality', '80', out('import.jpg')],
      file: out('import.jpg'),
    },
    {
      tool: 'ffmpeg',
      format: 'jpeg',
      cmd: 'ffmpeg',
      args: [...grab, '-q:v', '4', out('ffmpeg.jpg')],
      file: out('ffmpeg.jpg'),
    },
    // WebP and AVIF: xshot through sharp, against the tools that write them.
    {
      tool: 'xshot',
      format: 'webp',
      cmd: node,
      args: [bin, 'shot', out('xshot.webp'), '-q', '80'],
      file: out('xshot.webp'),
    },
    {
      tool: 'import',
      format: 'webp',
      cmd: 'import',
      args: ['-window', 'root', '-quality', '80', out('import.webp')],
      file: out('import.webp'),
    },
    {
      tool: 'ffmpeg',
      format: 'webp',
      cmd: 'ffmpeg',
      args: [...grab, '-quality', '80', out('ffmpeg.webp')],
      file: out('ffmpeg.webp'),
    },
    {
      tool: 'xshot',
      format: 'avif',
      cmd: node,
      args: [bin, 'shot', out('xshot.avif'), '-q', '60'],
      file: out('xshot.avif'),
    },
  ].filter((c) => c.cmd === node || spawnSync('which', [c.cmd]).status === 0);

  const rows = [];
  timeCases(cases, env);
  await tabulate(rows, 'desktop', cases, picture);
  if (painted.status === 0) {
    // Noise: PNG only (the lossy encoders do not judge content); files renamed so both sets stay on disk.
    spawnSync('display', ['-display', xvfb.display, '-window', 'root', noise]);
    const noisy = cases
      .filter((c) => c.format === 'png')
      .map((c) => {
        const file = c.file.replace(/\.png$/, '-noise.png');
        return { ...c, args: c.args.map((a) => (a === c.file ? file : a)), file };
      });
    timeCases(noisy, env);
    await tabulate(rows, 'noise', noisy, noise);
  } else {
    console.error(`xshot bench: no noisy picture (convert failed: ${painted.stderr}); desktop only`);
  }
  console.log(
    `one 1920x1080 screenshot as a whole process, median of ${rounds} alternating runs, Xvfb ${xvfb.display}`,
  );
  printTable(['picture', 'tool', 'format', 'median ms', 'file KiB', 'PSNR dB', 'time / xshot'], rows);
} finally {
  await xvfb.stop();
  rmSync(folder, { recursive: true, force: true });
}

/** Runs every case once (a failure stops the bench), then `rounds` rounds in shuffled order. */
function timeCases(cases, baseEnv) {
  for (const c of cases) {
    c.fullEnv = { ...baseEnv, ...c.env };
    const first = spawnSync(c.cmd, c.args, { env: c.fullEnv });
    if (first.status !== 0) throw new Error(`${c.cmd} ${c.args.join(' ')} failed: ${first.stderr}`);
    c.times = [];
  }
  for (let round = 0; round < rounds; round++) {
    for (const c of shuffle([...cases])) {
      const started = process.hrtime.bigint();
      spawnSync(c.cmd, c.args, { env: c.fullEnv, stdio: 'ignore' });
      c.times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
}

/**
 * Table rows for one picture: per format, each tool's median, file size, PSNR against the picture on the
 * screen (lossless files: "exact") and time as a multiple of xshot's.
 */
async function tabulate(rows, picture, cases, reference) {
  const expected = await sharp(reference).removeAlpha().raw().toBuffer();
  for (const format of ['png', 'jpeg', 'webp', 'avif']) {
    const ofFormat = cases.filter((c) => c.format === format);
    if (ofFormat.length === 0) continue;
    const ours = median(ofFormat.find((c) => c.tool === 'xshot').times);
    for (const c of ofFormat) {
      const time = median(c.times);
      if (!c.file) {
        rows.push([picture, c.tool, format, time.toFixed(1), '-', '-', (time / ours).toFixed(2)]);
        continue;
      }
      const actual = await sharp(c.file).removeAlpha().raw().toBuffer();
      rows.push([
        picture,
        c.tool,
        format,
        time.toFixed(1),
        (statSync(c.file).size / 1024).toFixed(0),
        psnr(actual, expected),
        (time / ours).toFixed(2),
      ]);
    }
  }
}

/** PSNR in dB of 8-bit RGB `actual` against `expected`, or 'exact'. */
function psnr(actual, expected) {
  if (actual.length !== expected.length) return 'size?';
  let squares = 0;
  for (let i = 0; i < expected.length; i++) squares += (actual[i] - expected[i]) ** 2;
  if (squares === 0) return 'exact';
  return (10 * Math.log10((255 * 255) / (squares / expected.length))).toFixed(1);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function shuffle(list) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

function printTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** A desktop-like screen: a gradient, an editor window full of text, a terminal, a few icons. */
function desktopSVG(width, height) {
  const code = [];
  for (let i = 0; i < 34; i++) {
    code.push(
      `<text x="230" y="${200 + i * 21}" font-family="monospace" font-size="15" fill="#24292e">${String(i + 1).padStart(3)}  const frame${i} = await display.capture({ x: ${i * 7}, y: ${i * 3}, width: 640, height: 480 });</text>`,
    );
  }
  const terminal = [];
  for (let i = 0; i < 20; i++) {
    terminal.push(
      `<text x="1380" y="${640 + i * 18}" font-family="monospace" font-size="13" fill="#9be59b">$ xshot shot --region ${i * 10},${i * 5},800,600  # ${(i * 37) % 100} ms</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1e3c72"/><stop offset="1" stop-color="#2a5298"/></linearGradient></defs>
  <rect width="100%" height="100%" fill="url(#bg)"/>
  <rect x="0" y="0" width="${width}" height="32" fill="#2d2d2d"/>
  <text x="16" y="22" font-family="sans-serif" font-size="15" fill="#eee">Activities    Editor    Terminal    17:04</text>
  <rect x="200" y="120" width="1100" height="860" rx="6" fill="#ffffff"/>
  <rect x="200" y="120" width="1100" height="40" rx="6" fill="#e1e4e8"/>
  <text x="220" y="146" font-family="sans-serif" font-size="15" fill="#333">capture.ts — xshm</text>
  ${code.join('\n  ')}
  <rect x="1360" y="600" width="520" height="400" rx="6" fill="#101010"/>
  ${terminal.join('\n  ')}
  <circle cx="1600" cy="300" r="110" fill="#ffcc00"/>
  ${[0, 1, 2, 3, 4].map((i) => `<rect x="40" y="${80 + i * 110}" width="80" height="80" rx="14" fill="${['#e74c3c', '#2ecc71', '#3498db', '#9b59b6', '#f39c12'][i]}"/>`).join('')}
</svg>`;
}
