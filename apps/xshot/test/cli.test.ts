// The command line: option parsing, exit codes, help and version, what --help loads, and how the real bin
// behaves where users meet it: pipes that close, full disks, terminals, stdin, signals, and a private Xvfb
// that must never outlive `xshot demo`.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { connect, startXvfb, type Xvfb } from '@xshm/mit-shm';
import { main, translate } from '../src/cli';
import { parseRegion, parseWindowId } from '../src/options';
import {
  BIN,
  differingPixels,
  exited,
  importWindow,
  killStarted,
  paintRoot,
  segmentsOf,
  startXshot,
  testPicture,
  waitFor,
} from './x-helpers';

jest.setTimeout(60_000);

/** Runs main() in this process with its own stdout and stderr. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  stderr.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const code = await main(['node', 'xshot', ...args], { stdin: Readable.from([]), stdout, stderr });
  return { code, stdout: out, stderr: err };
}

const COMMANDS = ['shot', 'view', 'mirror', 'stream', 'share', 'show', 'demo'];

describe('options', () => {
  test('--region accepts X,Y,W,H and WxH+X+Y', () => {
    expect(parseRegion('10,20,300,400')).toEqual({ x: 10, y: 20, width: 300, height: 400 });
    expect(parseRegion('300x400+10+20')).toEqual({ x: 10, y: 20, width: 300, height: 400 });
  });
  test.each(['1,2,3', 'a,b,c,d', '1,2,0,5', '-1,0,5,5', ''])('--region %p is refused', (text) => {
    expect(() => parseRegion(text)).toThrow(/--region/);
  });
  test('--window takes decimal and hex ids', () => {
    expect(parseWindowId('0x1e00007')).toBe(0x1e00007);
    expect(parseWindowId('31457287')).toBe(31457287);
    expect(() => parseWindowId('0')).toThrow(/window id/);
    expect(() => parseWindowId('window')).toThrow(/window id/);
  });
});

describe('exit codes, help and version', () => {
  test('--help everywhere exits 0', async () => {
    const top = await run('--help');
    expect(top.code).toBe(0);
    for (const command of COMMANDS) {
      expect(top.stdout).toContain(`  ${command} `);
      for (const help of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const result = await run(...help);
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^usage: xshot ${command}`));
        expect(result.stdout).toMatch(/--display/);
      }
    }
  });
  test('--version prints `xshot X.Y.Z`, after any command too', async () => {
    const version = `xshot ${JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version}\n`;
    for (const args of [
      ['--version'],
      ['-V'],
      ['shot', '--version'],
      ['stream', '-V'],
      ['view', 'x.png', '--version'],
    ]) {
      expect(await run(...args)).toEqual({ code: 0, stdout: version, stderr: '' });
    }
  });
  test.each([
    [['shot', '--bogus'], /unknown option '--bogus'/],
    [['shot', '--region', '1,2,3'], /--region '1,2,3' is not X,Y,W,H/],
    [['shot', '--region'], /option '--region' needs a value/],
    [['shot', '--cursor=yes'], /option '--cursor' takes no value/],
    [['shot', '--format', 'bmp'], /--format 'bmp' is not one of png, jpeg, webp, avif, raw/],
    [['shot', 'out.bmp'], /cannot tell the format of 'out.bmp'/],
    [['shot', 'a.png', 'b.png'], /shot takes \[FILE\|-\]; 'b.png' is one argument too many/],
    [['shot', '--quality', '101', 'a.jpg'], /between 1 and 100/],
    [['shot', '--window', '1', '--window-name', 'x'], /give one/],
    [['mirror', '--fps', '0', '--from', ':1', '--to', ':2'], /--fps '0'/],
    [['mirror', '--to', ':2'], /mirror needs --from DISPLAY/],
    [['stream', '--port', '70000'], /between 0 and 65535/],
    [['share', '--slots', '1', '--name', 'x'], /between 2 and 63/],
    [['view'], /view needs IMAGE/],
    [['demo', 'extra'], /demo takes no arguments/],
    [['nonsense'], /unknown command 'nonsense'/],
  ])('%p exits 2 with a hint', async (args, message) => {
    const result = await run(...args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^xshot: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/\n\(add --help for usage\)\n$/);
  });
  test('no command: the help, exit 2', async () => {
    const result = await run();
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^xshot: no command given; try `xshot demo` or `xshot shot`\nusage: xshot /,
    );
  });
  test('a missing file for view exits 1 before touching X', async () => {
    const result = await run('view', '/nonexistent/picture.png', '--display', ':31999');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'xshot: cannot open /nonexistent/picture.png: no such file or not readable\n',
    });
  });
  test('a FIFO for view is refused at once (sharp would block on it past any signal)', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'xshot-fifo-'));
    try {
      const fifo = join(folder, 'fifo.png');
      spawnSync('mkfifo', [fifo]);
      const result = await run('view', fifo, '--display', ':31999');
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `xshot: cannot show ${fifo}: it is not a regular file (a pipe or device); give an image file, or pipe the bytes in: xshot view - < ${fifo}\n`,
      );
    } finally {
      rmSync(folder, { recursive: true });
    }
  });
});

describe('errors speak CLI', () => {
  test("the library's advice about displays becomes --display", async () => {
    const saved = process.env.DISPLAY;
    delete process.env.DISPLAY;
    try {
      // The real library messages, so that a change of their wording fails here.
      const unset = await connect().catch((error: Error) => error.message);
      const refused = await connect({ display: ':31999' }).catch((error: Error) => error.message);
      expect(unset).toMatch(/startXvfb\(\)/);
      expect(translate(unset as string)).toMatch(/give --display :0 or set DISPLAY/);
      expect(refused).toMatch(/startXvfb\(\)/);
      for (const message of [unset, refused] as string[]) {
        expect(translate(message)).not.toMatch(/startXvfb|\{ display/);
      }
      const shot = await run('shot', join(tmpdir(), 'never.png'), '--display', ':31999');
      expect(shot.code).toBe(1);
      expect(shot.stderr).toMatch(/^xshot: connect: cannot open X display :31999: .*--display/);
      expect(shot.stderr).not.toMatch(/startXvfb/);
    } finally {
      if (saved !== undefined) process.env.DISPLAY = saved;
    }
  });
});

/** What the real bin (and the unbundled dist/cli.js) loads for `args`: module file paths. */
function loadedBy(entry: 'bin' | 'dist', args: string[]): string[] {
  const hook = join(__dirname, '..', '..', '..', 'packages', 'shm', 'test', 'loaded-modules.cjs');
  const script =
    entry === 'bin'
      ? [BIN, ...args]
      : [
          '-e',
          `require(${JSON.stringify(join(__dirname, '..', 'dist', 'cli.js'))}).main(['node', 'xshot', ...${JSON.stringify(args)}]).then((c) => { process.exitCode = c; })`,
        ];
  const ran = spawnSync(process.execPath, ['--require', hook, ...script], {
    encoding: 'utf8',
    env: { ...process.env, DISPLAY: ':31999' },
  });
  const loaded = ran.stderr
    .split('\n')
    .filter((line) => line.startsWith('loaded: '))
    .map((line) => line.slice(8));
  expect(loaded.length).toBeGreaterThan(0); // the hook ran
  return loaded;
}

describe('what a command loads', () => {
  // mit-shm's format subpath is allowed: share and show import its FourCC mapping, and it loads nothing.
  const heavyPattern = /[\\/](sharp|koffi|x11|@koromix)[\\/]|[\\/]mit-shm[\\/]|[\\/]framebus[\\/]/;
  const heavy = {
    test: (path: string) => heavyPattern.test(path) && !/mit-shm[\\/]dist[\\/]format\.js$/.test(path),
  };
  const light = [
    ['--help'],
    ['--version'],
    ['shot', '--version'],
    ['stream', '--version'],
    ['stream', '--help'],
    ['shot', '--help'],
    ['view', '--help'],
    ['mirror', '--help'],
    ['share', '--help'],
    ['show', '--help'],
    ['demo', '--help'],
    ['shot', '--bogus'],
  ];
  test.each(light.map((args) => [args.join(' '), args] as const))(
    '`xshot %s` loads no sharp, koffi, x11 or mit-shm (modules as built)',
    (_name, args) => {
      expect(loadedBy('dist', args).filter((path) => heavy.test(path))).toEqual([]);
    },
  );
  test.each([['--help'], ['--version'], ['shot', '--help']])(
    'the bundled bin with %s loads neither sharp nor koffi',
    (...args) => {
      const loaded = loadedBy('bin', args);
      expect(loaded.some((path) => path.endsWith('compile-cache.js'))).toBe(true); // it loads the bundle
      expect(loaded.filter((path) => heavy.test(path))).toEqual([]);
    },
  );
  test('a shot loads koffi and x11 (the hook sees what is there)', () => {
    expect(
      loadedBy('dist', ['shot', join(tmpdir(), 'never.png')]).filter((path) => heavy.test(path)),
    ).not.toEqual([]);
  });
});

describe('the code cache (bin/xshot.js)', () => {
  let cache: string;
  let folder: string;
  const version = (): string =>
    spawnSync(process.execPath, [BIN, '--version'], {
      env: { ...process.env, XDG_CACHE_HOME: cache },
      encoding: 'utf8',
    }).stdout;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'xshot-cache-'));
    folder = join(cache, 'xshot', `v8-${process.version}-${process.arch}`);
  });
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  test('the first run fills a private folder; later runs use it and print the same', () => {
    const first = version();
    expect(first).toMatch(/^xshot \d+\.\d+\.\d+\n$/);
    const files = readdirSync(folder);
    expect(files).toHaveLength(1); // the bundle's code, named by its content
    expect(statSync(folder).mode & 0o777).toBe(0o700);
    const entry = join(folder, files[0]!);
    expect(statSync(entry).mode & 0o777).toBe(0o600);
    const written = statSync(entry).mtimeMs;
    expect(version()).toBe(first);
    expect(statSync(entry).mtimeMs).toBe(written); // accepted by V8, so not written again
    // Data V8 rejects (here: garbage) is replaced by good data, and the output is the same.
    writeFileSync(entry, 'not a code cache');
    expect(version()).toBe(first);
    expect(readFileSync(entry).toString()).not.toBe('not a code cache');
  });

  test('a folder others may write to is neither read nor written', () => {
    mkdirSync(folder, { recursive: true });
    chmodSync(folder, 0o777);
    expect(version()).toMatch(/^xshot /);
    expect(readdirSync(folder)).toEqual([]);
  });

  test('a run that writes the cache removes entries older than 30 days', () => {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const stale = join(folder, 'deadbeef-1');
    const recent = join(folder, 'cafe-1');
    writeFileSync(stale, 'old build');
    writeFileSync(recent, 'last week');
    const day = 24 * 60 * 60;
    const now = Date.now() / 1000;
    utimesSync(stale, now - 31 * day, now - 31 * day);
    utimesSync(recent, now - 7 * day, now - 7 * day);
    version();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(recent)).toBe(true);
    expect(readdirSync(folder)).toHaveLength(2);
  });
});

/** Runs a shell command line (bash) with `node BIN` as $X; returns status, stdout and stderr. */
function sh(line: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync('bash', ['-c', line], {
    env: { ...process.env, X: `${process.execPath} ${BIN}`, ...env },
    encoding: 'buffer',
    timeout: 60_000,
  });
}

describe('on a display', () => {
  let xvfb: Xvfb;
  let folder: string;
  let picture: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'xshot-cli-'));
    xvfb = await startXvfb({ width: 320, height: 200, depth: 24 });
    picture = join(folder, 'root.png');
    await testPicture(picture, 320, 200, 5);
    await paintRoot(xvfb.display, picture);
  });
  afterAll(async () => {
    await xvfb?.stop();
    rmSync(folder, { recursive: true, force: true });
  });
  afterEach(() => killStarted());

  test('shot - | head -c 10 ends quietly', () => {
    const ran = sh(`$X shot - --display ${xvfb.display} | head -c 10; echo " \${PIPESTATUS[0]}" >&2`);
    expect(ran.stdout.subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
    expect(ran.stderr.toString()).toBe(' 0\n');
  });

  test('shot - > /dev/full: a message and exit 1, no stack trace', () => {
    const ran = sh(`$X shot - --display ${xvfb.display} > /dev/full`);
    expect(ran.status).toBe(1);
    expect(ran.stderr.toString()).toBe('xshot: cannot write to stdout: no space left on device (ENOSPC)\n');
  });

  test('shot to a file on a full disk: a message and exit 1', () => {
    const ran = sh(`$X shot /dev/full --format png --display ${xvfb.display}`);
    expect(ran.status).toBe(1);
    expect(ran.stderr.toString()).toBe('xshot: cannot write /dev/full: no space left on device (ENOSPC)\n');
  });

  test('shot - to a terminal refuses binary output unless --force', () => {
    // script(1) gives the command a pseudo-terminal as stdout, as an interactive shell would.
    const refused = sh(`script -qec "$X shot - --display ${xvfb.display}" /dev/null`);
    expect(refused.status).toBe(1);
    expect(refused.stdout.toString()).toMatch(
      /^xshot: not writing an image to the terminal; .* or add --force\r?\n$/,
    );
    const forced = sh(`script -qec "$X shot - --force --display ${xvfb.display}" /dev/null`);
    expect(forced.status).toBe(0);
    expect(forced.stdout.toString('latin1')).toContain('PNG');
  });

  test('view - shows the image from stdin', async () => {
    const shown = join(folder, 'stdin.png');
    await testPicture(shown, 64, 48, 9);
    const child = spawn(process.execPath, [BIN, 'view', '-', '--display', xvfb.display], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      child.stdin.end(readFileSync(shown));
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const id = await waitFor(
        'the view window',
        async () => /window (0x[0-9a-f]+): - 64x48/.exec(output)?.[1],
      );
      const differ = await waitFor('the picture in the window', async () => {
        const count = await differingPixels(await importWindow(xvfb.display, id), shown).catch(() => -1);
        return count === 0 ? count : undefined;
      });
      expect(differ).toBe(0);
      child.kill('SIGINT');
      expect(await exited(child)).toEqual({ code: 0, signal: null });
    } finally {
      child.kill('SIGKILL');
    }
  });

  test.each(['SIGHUP', 'SIGQUIT'] as const)('share stops on %s and leaves no ring', async (signal) => {
    const name = `xshot-cli-${signal}-${process.pid}`;
    const { child, match } = await startXshot(
      ['share', '--name', name, '--display', xvfb.display],
      /ring \S+ key=\S+ id=(\d+)/,
    );
    const id = match[1]!;
    expect(ipcsIds()).toContain(id);
    child.kill(signal);
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(ipcsIds()).not.toContain(id);
    expect(segmentsOf(child.pid!)).toEqual([]);
  });
});

/** Every SysV segment id (ipcs -m). */
function ipcsIds(): string[] {
  return spawnSync('ipcs', ['-m'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((line) => line.trim().split(/\s+/)[1] ?? '')
    .filter((id) => /^\d+$/.test(id));
}

describe('xshot demo never leaves an Xvfb', () => {
  // By pid, not by display: a display number freed is taken at once by the next Xvfb anyone starts.
  /** The private Xvfb of the demo with process id `pid` (setpriv execs into it: a child named Xvfb). */
  const xvfbOf = (pid: number): Promise<number> =>
    waitFor(`the private Xvfb of ${pid}`, async () => {
      const out = spawnSync('pgrep', ['-P', String(pid), '-x', 'Xvfb'], { encoding: 'utf8' }).stdout.trim();
      return out ? Number(out.split('\n')[0]) : undefined;
    });
  /** True while process `pid` runs (a zombie has ended). */
  const alive = (pid: number): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const gone = (pid: number) =>
    waitFor(`Xvfb ${pid} to exit`, async () => (alive(pid) ? undefined : true), 10_000);

  let folder: string;
  const demos = new Set<ChildProcess>();
  const env = { ...process.env };
  delete env.DISPLAY;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'xshot-demo-'));
  });
  afterEach(() => {
    // A failed test must not leave its demo running (SIGINT: the demo stops its Xvfb as it goes).
    for (const child of demos) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    demos.clear();
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  /** `xshot demo ARGS` with no DISPLAY, in its own process group (as a terminal's foreground job). */
  async function startDemo(args: string[]): Promise<{ child: ChildProcess; xvfb: number }> {
    const child = spawn(process.execPath, [BIN, 'demo', ...args], {
      env,
      cwd: folder,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    demos.add(child);
    let output = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/xshot stream: /.test(output)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`demo exited ${code} early: ${output}`)));
    });
    return { child, xvfb: await xvfbOf(child.pid!) };
  }

  test('env -u DISPLAY xshot demo | head -1', async () => {
    const head = spawn('head', ['-1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const demo = spawn(process.execPath, [BIN, 'demo'], {
      env,
      cwd: folder,
      stdio: ['ignore', head.stdin, 'pipe'],
    });
    demos.add(demo);
    head.stdin.destroy(); // the demo holds the pipe's write end; head sees its end when the demo is gone
    let stderr = '';
    demo.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let line = '';
    head.stdout.on('data', (chunk: Buffer) => {
      line += chunk.toString();
    });
    const xvfb = await xvfbOf(demo.pid!);
    expect(await exited(demo)).toEqual({ code: 0, signal: null });
    expect(stderr).toBe('');
    await exited(head);
    expect(line).toMatch(/^xshot demo on a private Xvfb on :\d+/);
    await gone(xvfb);
  });

  test('Ctrl-C (SIGINT to the foreground group) on demo --stream exits 0 and stops its Xvfb', async () => {
    const { child, xvfb } = await startDemo(['--stream', '--port', '0']);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    await gone(xvfb);
  });

  test.each(['SIGHUP', 'SIGKILL'] as const)('demo --stream killed with %s leaves no Xvfb', async (signal) => {
    const { child, xvfb } = await startDemo(['--stream', '--port', '0']);
    expect(alive(xvfb)).toBe(true);
    child.kill(signal);
    const ended = await exited(child);
    if (signal === 'SIGHUP') expect(ended).toEqual({ code: 0, signal: null });
    await gone(xvfb);
  });
});
