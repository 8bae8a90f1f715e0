// The README's command lines run as written, in order, in one folder (each may use the files the ones
// before it wrote), through bash with `xshot` the built bin. Only what names this machine's resources
// is swapped: display :1 for a private Xvfb A and :0 for a private Xvfb B, ports 8080 and 9000 for free
// ones (a stream with no --port, which takes 8080, gets `--port` with the free one). Commands that run until Ctrl-C (view, mirror, stream) get it once they are up, and must exit 0.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startXvfb, type Xvfb } from '@xshm/mit-shm';
import { BIN, exited, pressKey, waitFor, windowsNamed } from './x-helpers';

jest.setTimeout(60_000);

const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
/** Every `$ xshot …` (and `$ curl …`) line of the README's sh blocks, in order. */
const lines = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((block) => (block[1] ?? '').split('\n'))
  .filter((line) => line.startsWith('$ '))
  .map((line) => line.slice(2).replace(/\s+#.*$/, ''));

let folder: string;
let a: Xvfb;
let b: Xvfb;
const ports = { '8080': 0, '9000': 0 };
beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'xshot-readme-'));
  [a, b] = await Promise.all([
    startXvfb({ width: 1024, height: 768, depth: 24 }),
    startXvfb({ width: 640, height: 480, depth: 24 }),
  ]);
  ports['8080'] = await freePort();
  ports['9000'] = await freePort();
});
afterAll(async () => {
  for (const child of running) child.kill('SIGKILL');
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(folder, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** The line as this machine runs it: our displays and ports, `xshot` the built bin. */
function local(line: string): string {
  return line
    .replace(/(^|\s):([01])\b/g, (_, space, number) => `${space}${number === '1' ? a.display : b.display}`)
    .replace(/\b(8080|9000)\b/g, (port) => String(ports[port as keyof typeof ports]))
    .replace(/([?&]token=)[\w-]{32}\b/, `$1${streamToken}`)
    .replace(/^xshot stream (?!.*--port)(.*)$/, `xshot stream $1 --port ${ports['8080']}`)
    .replace(/^xshot /, `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} `);
}

const running = new Set<ChildProcess>();
/** The token the README's first stream printed, for the curl line (the README shows a made-up one). */
let streamToken = '';

interface Started {
  child: ChildProcess;
  output: () => string;
}

function start(line: string, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn('bash', ['-c', local(line)], {
    cwd: folder,
    env: { ...process.env, DISPLAY: a.display, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { child, output: () => text };
}

async function run(line: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { child, output } = start(line, env);
  const { code } = await exited(child);
  running.delete(child);
  if (code !== 0) throw new Error(`${line}: exit ${code}\n${output()}`);
  return output();
}

/** Waits for `ready` in what the command printed; on a timeout, the error shows what it did print. */
async function printed(started: Started, ready: RegExp): Promise<RegExpExecArray> {
  try {
    return await waitFor(
      `${ready}`,
      async () => {
        const { exitCode, signalCode } = started.child;
        if (exitCode !== null || signalCode !== null) throw new Error(`it ended (${exitCode ?? signalCode})`);
        return ready.exec(started.output()) ?? undefined;
      },
      30_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; it printed:\n${started.output()}`);
  }
}

async function upThenInterrupt(started: Started, ready: RegExp): Promise<string> {
  await printed(started, ready);
  started.child.kill('SIGINT');
  expect(await exited(started.child)).toEqual({ code: 0, signal: null });
  running.delete(started.child);
  return started.output();
}

const identify = (file: string) =>
  execFileSync('identify', ['-format', '%m %wx%h', resolve(folder, file)]).toString();

test('the README has its command lines', () => {
  expect(lines.filter((line) => line.startsWith('xshot ')).length).toBeGreaterThanOrEqual(8);
});

test.each(lines.map((line) => [line]))('$ %s', async (line) => {
  const [, command = '', ...args] = line.split(/\s+/);
  if (line.startsWith('curl ')) {
    // the stats of the stream the line before the previous one left running
    const stats = JSON.parse(await run(line)) as Record<string, unknown>;
    for (const key of ['fps', 'captured', 'encoded', 'unchanged', 'detection', 'transport', 'clients'])
      expect(stats).toHaveProperty(key);
    for (const child of running) child.kill('SIGINT');
    for (const child of running) expect(await exited(child)).toEqual({ code: 0, signal: null });
    running.clear();
  } else if (command === 'demo') {
    const out = await run(line, { DISPLAY: '' });
    expect(out).toMatch(/^xshot demo on a private Xvfb on :\d+ \(no usable DISPLAY\), 1280x720 depth 24\n/);
    expect(identify('xshot-demo.png')).toBe('PNG 1280x720');
  } else if (command === 'shot' && args.length === 0) {
    const out = await run(line);
    expect(out).toMatch(/^\/\S+\/xshot-\d{8}-\d{6}\.png\n$/);
    expect(identify(out.trim())).toBe('PNG 1024x768');
  } else if (command === 'shot' && args[0] === '-') {
    await run(line);
    expect(identify('part.jpg')).toBe('JPEG 800x600');
  } else if (command === 'shot' && args.includes('--verbose')) {
    // the comment's claim: which encoder wrote the file, and its size
    expect(await run(line)).toMatch(/jpeg by libjpeg-turbo \(libturbojpeg\.so\.0\).*KiB/);
    expect(identify('full.jpg')).toBe('JPEG 1024x768');
  } else if (command === 'shot' && line.includes('--window-name Firefox')) {
    // a window titled Firefox, by ImageMagick
    const firefox = spawn('display', [
      '-display',
      a.display,
      '-title',
      'Firefox',
      '-size',
      '160x120',
      'xc:orange',
    ]);
    try {
      await waitFor('the Firefox window', async () => (await windowsNamed(a.display, 'Firefox'))[0], 30_000);
      await run(line);
      expect(identify('win.webp')).toBe('WEBP 160x120');
    } finally {
      firefox.kill();
    }
  } else if (command === 'windows') {
    // no window manager and no window yet: the table's header alone
    expect(await run(line)).toMatch(/^ID {2}GEOMETRY {2}DEPTH {2}MAPPED {2}PID {2}CLASS {2}TITLE\n/);
  } else if (command === 'view') {
    const started = start(line);
    const window = Number((await printed(started, /window (0x[0-9a-f]+)/))[1]);
    pressKey(a.display, window, 'q');
    expect(await exited(started.child)).toEqual({ code: 0, signal: null });
    running.delete(started.child);
  } else if (command === 'mirror') {
    const out = await upThenInterrupt(start(line), /copy/);
    expect(out).toMatch(new RegExp(`${a.display}.*${b.display}|zero-copy`));
  } else if (command === 'stream' && args.includes('--control') && args.includes('--no-token')) {
    // the comment's claim: refused, with exit 2, before anything is served
    const started = start(line);
    expect(await exited(started.child)).toEqual({ code: 2, signal: null });
    running.delete(started.child);
    expect(started.output()).toMatch(/--control on 0\.0\.0\.0 without a token/);
  } else if (command === 'stream' && args.includes('--control')) {
    await upThenInterrupt(
      start(line),
      /remote desktop \(keyboard and mouse enabled\) at http:\/\/\S+\/desktop\?token=[\w-]+$/m,
    );
  } else if (command === 'stream' && args.includes('--token')) {
    await upThenInterrupt(start(line), new RegExp(`http://0\\.0\\.0\\.0:${ports['9000']}/`));
  } else if (command === 'stream') {
    // left running for the curl line after the next
    const url = await printed(
      start(line),
      new RegExp(
        `^xshot stream: ${a.display} 1024x768 .* at http://127\\.0\\.0\\.1:${ports['8080']}/\\?token=([\\w-]+)$`,
        'm',
      ),
    );
    streamToken = url[1] ?? '';
  } else {
    throw new Error(`no expectation for the README line: ${line}`);
  }
  expect(existsSync(folder)).toBe(true);
});
