// The real `xshot stream` process (bin/xshot.js over dist/: run the build first): default bind
// address and token, Ctrl-C, kill -9, X-server death, port in use, usage errors.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  delay,
  fetchUrl,
  MjpegReader,
  run,
  segmentsCreatedBy,
  startTestXvfb,
  type TestXvfb,
  waitUntil,
} from './stream-helpers';

jest.setTimeout(30_000);

const BIN = join(__dirname, '..', 'bin', 'xshot.js');

interface Running {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

function startStream(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, 'stream', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const running: Running = {
    child,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
    ),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    running.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    running.stderr += chunk.toString();
  });
  return running;
}

/** Waits for the "... at http://host:port/" line; fails with what the process said otherwise. */
async function streamUrl(running: Running): Promise<URL> {
  for (let i = 0; i < 100; i++) {
    const match = /at (http:\/\/\S+)/.exec(running.stdout);
    if (match) return new URL(match[1]!);
    if (running.child.exitCode !== null) break;
    await delay(100);
  }
  throw new Error(`xshot stream did not print its URL; stdout: ${running.stdout} stderr: ${running.stderr}`);
}

/** `path` on the server at `url`, with the token the URL carries. */
function endpoint(url: URL, path: string): string {
  return `${url.origin}/${path}${url.search}`;
}

async function noSegmentsOf(pid: number): Promise<number[]> {
  let left: number[] = [];
  for (let i = 0; i < 30; i++) {
    left = await segmentsCreatedBy(pid);
    if (left.length === 0) break;
    await delay(100);
  }
  return left;
}

let xvfb: TestXvfb;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(join(__dirname, '..', 'dist', 'commands', 'stream.js'))) {
    throw new Error(
      'apps/xshot/dist is missing: build first (pnpm build, or npx tsc -p tsconfig.build.json)',
    );
  }
  xvfb = await startTestXvfb(640, 480, 24);
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  await xvfb?.stop();
});

test('listens on 127.0.0.1 by default; Ctrl-C closes the viewers, releases every segment and exits 0', async () => {
  const running = startStream(['--display', xvfb.display, '--port', '0']);
  children.push(running.child);
  const url = await streamUrl(running);
  expect(url.hostname).toBe('127.0.0.1');
  const listening = (await run('ss', ['-ltnH', `sport = :${url.port}`])).toString();
  // Columns: State Recv-Q Send-Q Local-Address:Port Peer-Address:Port
  const localAddresses = listening
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[3]);
  expect(localAddresses).toEqual([`127.0.0.1:${url.port}`]);

  const viewer = new MjpegReader(endpoint(url, 'stream.mjpeg'));
  await viewer.waitForParts(1);
  if (running.stdout.includes('(sysv'))
    expect((await segmentsCreatedBy(running.child.pid!)).length).toBeGreaterThan(0);

  running.child.kill('SIGINT');
  const exit = await running.exit;
  expect(exit.code).toBe(0);
  await waitUntil(() => viewer.ended, 'the viewer to see its stream end');
  expect(await noSegmentsOf(running.child.pid!)).toEqual([]);
});

test('kill -9 while streaming leaves no segment behind', async () => {
  const running = startStream(['--display', xvfb.display, '--port', '0']);
  children.push(running.child);
  const url = await streamUrl(running);
  const viewer = new MjpegReader(endpoint(url, 'stream.mjpeg'));
  await viewer.waitForParts(1);
  running.child.kill('SIGKILL');
  await running.exit;
  viewer.close();
  expect(await noSegmentsOf(running.child.pid!)).toEqual([]);
});

test('when the X server dies it exits non-zero within 5 seconds, saying so', async () => {
  const doomed = await startTestXvfb(320, 240, 24);
  const running = startStream(['--display', doomed.display, '--port', '0']);
  children.push(running.child);
  try {
    const url = await streamUrl(running);
    const viewer = new MjpegReader(endpoint(url, 'stream.mjpeg'));
    await viewer.waitForParts(1);
    const killedAt = Date.now();
    doomed.process.kill('SIGKILL');
    const exit = await running.exit;
    expect(exit.code).toBe(1);
    expect(exit.at - killedAt).toBeLessThan(5000);
    expect(running.stderr).toMatch(new RegExp(`the X server at ${doomed.display} went away`));
    viewer.close();
  } finally {
    await doomed.stop();
  }
});

test('a port in use is a clear error and exit 1; conflicting selections are a usage error (exit 2)', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const running = startStream(['--display', xvfb.display, '--port', String(port)]);
    children.push(running.child);
    expect((await running.exit).code).toBe(1);
    expect(running.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
  } finally {
    blocker.close();
  }
  const usage = startStream(['--display', xvfb.display, '--region', '0,0,10,10', '--window', '0x200001']);
  children.push(usage.child);
  expect((await usage.exit).code).toBe(2);
  expect(usage.stderr).toMatch(/give at most one/);
});

test('makes up a token by default and prints it in the URL; --token sets it; the page needs it', async () => {
  const running = startStream(['--display', xvfb.display, '--port', '0']);
  children.push(running.child);
  const url = await streamUrl(running);
  const token = url.searchParams.get('token');
  expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(running.stdout).toContain(`at http://127.0.0.1:${url.port}/?token=${token}\n`);
  expect((await fetchUrl(`${url.origin}/`)).status).toBe(401);
  expect((await fetchUrl(`${url.origin}/frame.jpg?token=${token}x`)).status).toBe(401);
  expect((await fetchUrl(url.href)).status).toBe(200);
  expect((await fetchUrl(endpoint(url, 'frame.jpg'))).status).toBe(200);
  running.child.kill('SIGINT');
  expect((await running.exit).code).toBe(0);
  expect(running.stderr).toBe('');

  const chosen = startStream(['--display', xvfb.display, '--port', '0', '--token', 'my-secret']);
  children.push(chosen.child);
  const chosenUrl = await streamUrl(chosen);
  expect(chosenUrl.search).toBe('?token=my-secret');
  expect((await fetchUrl(`${chosenUrl.origin}/stats`, { Authorization: 'Bearer my-secret' })).status).toBe(
    200,
  );
  chosen.child.kill('SIGINT');
  await chosen.exit;
});

test('--no-token serves without one; on a non-loopback address it warns that anyone can see the screen', async () => {
  const local = startStream(['--display', xvfb.display, '--port', '0', '--no-token']);
  children.push(local.child);
  const localUrl = await streamUrl(local);
  expect(localUrl.search).toBe('');
  expect((await fetchUrl(`${localUrl.origin}/stats`)).status).toBe(200);
  local.child.kill('SIGINT');
  expect((await local.exit).code).toBe(0);
  expect(local.stderr).toBe('');

  const open = startStream(['--display', xvfb.display, '--port', '0', '--host', '0.0.0.0', '--no-token']);
  children.push(open.child);
  const openUrl = await streamUrl(open);
  await waitUntil(() => open.stderr.includes('\n'), 'the warning');
  expect(open.stderr).toMatch(
    /warning: no token and listening on 0\.0\.0\.0: anyone who can reach port \d+ can see this screen/,
  );
  expect((await fetchUrl(`http://127.0.0.1:${openUrl.port}/stats`)).status).toBe(200);
  open.child.kill('SIGINT');
  expect((await open.exit).code).toBe(0);

  const guarded = startStream(['--display', xvfb.display, '--port', '0', '--host', '0.0.0.0']);
  children.push(guarded.child);
  await streamUrl(guarded);
  guarded.child.kill('SIGINT');
  await guarded.exit;
  expect(guarded.stderr).toBe('');

  const empty = startStream(['--display', xvfb.display, '--token', '']);
  children.push(empty.child);
  expect((await empty.exit).code).toBe(2);
  expect(empty.stderr).toMatch(/--token is empty; give a secret, or --no-token/);
});
