import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { list, Segment } from '@xshm/shm';
import { main, parseSize } from '../src/cli';
import { runForBytes, shmtoolBin, testLeavesNoSegmentBehind } from './helpers';

/** Run shmtool's main() in this process, with `input` on stdin. */
async function shmtool(args: string[], input: Buffer | string = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(args, { stdin: Readable.from([Buffer.from(input)]), stdout, stderr });
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** Run the real bin, as a user would. */
function spawnShmtool(args: string[], input?: Buffer | string) {
  return runForBytes(process.execPath, [shmtoolBin, ...args], { input });
}

const removeAll = (ids: number[]) => {
  for (const id of ids) Segment.open(id).destroy();
};

describe('sizes', () => {
  test.each([
    ['4096', 4096],
    ['64K', 65_536],
    ['64k', 65_536],
    ['64KiB', 65_536],
    ['64KB', 64_000],
    ['28MiB', 28 * 2 ** 20],
    ['1G', 2 ** 30],
    ['2T', 2 * 2 ** 40],
    ['100B', 100],
    ['0', 0],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(['', 'K', '1.5K', '12Q', '0x10', '1 2'])("'%s' is not a size", (text) => {
    expect(() => parseSize(text)).toThrow(/is not a size/);
  });
  test("'-1' is negative", () => {
    expect(() => parseSize('-1')).toThrow(/'-1' is negative/);
  });
});

describe('commands (in process)', () => {
  test('create prints the id; info and ls show it; rm removes it', async () => {
    const key = 0x5e930000 + (process.pid % 0x10000);
    const created = await shmtool(['create', '64K', '--key', `0x${key.toString(16)}`, '--mode', '640']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const id = Number(created.stdout.toString());
    expect(Segment.open(id).stat()).toMatchObject({ key, size: 65_536, mode: 0o640 });

    const info = await shmtool(['info', String(id), '--json']);
    expect(JSON.parse(info.stdout.toString())).toMatchObject({
      id,
      key,
      size: 65_536,
      mode: 0o640,
      removed: false,
    });
    const text = (await shmtool(['info', String(id)])).stdout.toString();
    expect(text).toMatch(
      new RegExp(`^id\\s+${id}\\nkey\\s+0x${key.toString(16)} \\(${key}\\)\\nsize\\s+65536\\nmode\\s+0640`),
    );

    const ls = (await shmtool(['ls'])).stdout.toString().split('\n');
    expect(ls[0]?.split(/\s+/)).toEqual(['id', 'key', 'owner', 'perms', 'bytes', 'nattch', 'status']);
    const row = ls.find((line) => line.startsWith(`${id} `))?.split(/\s+/);
    expect(row).toEqual([String(id), `0x${key.toString(16)}`, 'root', '640', '65536', '0']);
    const json = JSON.parse((await shmtool(['ls', '--json'])).stdout.toString());
    expect(json.find((segment: { id: number }) => segment.id === id)).toMatchObject({ key, size: 65_536 });

    expect(await shmtool(['rm', String(id)])).toMatchObject({ code: 0, stderr: '' });
    expect(list().some((segment) => segment.id === id)).toBe(false);
  });

  test('open -s SIZE: stdin into a new segment; read gives it back, whole, or from -o for -s bytes', async () => {
    const data = randomBytes(100_000);
    const opened = await shmtool(['open', '-s', '128K'], data);
    expect(opened).toMatchObject({ code: 0, stderr: '' });
    const id = Number(opened.stdout.toString());
    try {
      const whole = await shmtool(['read', String(id)]);
      expect(whole.stdout.length).toBe(131_072);
      expect(whole.stdout.subarray(0, 100_000).equals(data)).toBe(true);
      expect(
        (await shmtool(['read', String(id), '-o', '10', '-s', '5'])).stdout.equals(data.subarray(10, 15)),
      ).toBe(true);
      expect((await shmtool(['read', String(id), '-o', '131070', '-s', '1K'])).stdout.length).toBe(2);
      expect((await shmtool(['read', String(id), '-o', '128K'])).stdout.length).toBe(0);
    } finally {
      removeAll([id]);
    }
  });

  test('open ID and write ID: stdin into an existing segment at -o', async () => {
    const seg = Segment.create(32);
    try {
      const opened = await shmtool(['open', String(seg.id), '-o', '4'], 'abc');
      expect(opened).toMatchObject({ code: 0, stderr: '' });
      expect(opened.stdout.toString()).toBe(`${seg.id}\n`);
      expect(await shmtool(['write', String(seg.id), '-o', '8'], 'xyz')).toMatchObject({
        code: 0,
        stderr: '',
      });
      const check = Buffer.alloc(11);
      seg.read(check, 0);
      expect(check.toString('latin1')).toBe('\0\0\0\0abc\0xyz');
    } finally {
      seg.destroy();
    }
  });

  test('input larger than the segment: exit 1, saying how many bytes fit; a new segment is removed', async () => {
    const seg = Segment.create(4096);
    try {
      const tooMuch = await shmtool(['write', String(seg.id), '-o', '96'], Buffer.alloc(4001));
      expect(tooMuch.code).toBe(1);
      expect(tooMuch.stderr).toMatch(
        new RegExp(
          `^shmtool: the input is larger than segment ${seg.id}: 4000 bytes fit from offset 96 \\(the segment holds 4096\\)`,
        ),
      );
    } finally {
      seg.destroy();
    }
    const before = new Set(list().map((segment) => segment.id));
    const created = await shmtool(['open', '-s', '1K'], Buffer.alloc(1025));
    expect(created.code).toBe(1);
    expect(created.stdout.length).toBe(0);
    expect(created.stderr).toMatch(
      /1024 bytes fit from offset 0.*\nshmtool: removed the new segment \d+\n$/s,
    );
    expect(list().filter((segment) => !before.has(segment.id) && segment.cpid === process.pid)).toEqual([]);
  });

  test('rm of several ids: each one; a bad one fails (exit 1) without stopping the others', async () => {
    const [a, b] = [Segment.create(4096), Segment.create(4096)];
    const result = await shmtool(['rm', String(a.id), '2147483647', String(b.id)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^shmtool: shmctl\(id=2147483647, IPC_STAT\): EINVAL — there is no segment/,
    );
    expect(list().some((segment) => segment.id === a.id || segment.id === b.id)).toBe(false);
  });

  test.each([
    [['bogus'], /unknown command 'bogus'/],
    [[], /no command given/],
    [['create'], /create needs SIZE/],
    [['create', '1K', '2K'], /create takes SIZE; '2K' is one argument too many/],
    [['create', '0'], /SIZE must be at least 1 byte/],
    [['create', '12Q'], /size '12Q' is not a size/],
    [['create', '4K', '--bogus'], /unknown option '--bogus'/],
    [['create', '4K', '--key'], /option '--key' needs a value/],
    [['ls', '--json=yes'], /option '--json' takes no value/],
    [['create', '4K', '--mode', '999'], /mode '999' is not octal/],
    [['create', '4K', '--key', 'abc'], /key 'abc' is not an IPC key/],
    [['open'], /open needs an ID, or -s SIZE/],
    [['open', '-s', 'lots'], /size 'lots' is not a size/],
    [['read'], /read needs ID/],
    [['read', 'x1'], /'x1' is not a segment ID/],
    [['read', '1', '-o', '-5'], /'-5' is negative/],
    [['create', '-5'], /'-5' is negative/],
    [['rm'], /rm needs ID/],
    [['ls', 'extra'], /ls takes no arguments \('extra' given\)/],
  ])('usage error %j: exit 2, a message on stderr, nothing on stdout', async (args, message) => {
    const result = await shmtool(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^shmtool: /);
    // A usage error points at --help; no command at all prints the help itself.
    expect(result.stderr).toMatch(args.length ? /\n\(add --help for usage\)\n$/ : /\nusage: shmtool /);
  });

  test('failures: exit 1 with the reason', async () => {
    const gone = await shmtool(['read', '2147483647']);
    expect(gone).toMatchObject({ code: 1 });
    expect(gone.stderr).toMatch(/^shmtool: shmctl\(id=2147483647, IPC_STAT\): EINVAL/);
  });

  test('--help everywhere, --version', async () => {
    const top = await shmtool(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['create', 'open', 'write', 'read', 'ls', 'info', 'rm']) {
      expect(top.stdout.toString()).toContain(`  ${command} `);
      const help = await shmtool([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout.toString()).toMatch(new RegExp(`^usage: shmtool ${command}`));
    }
    const version = await shmtool(['--version']);
    expect(version.stdout.toString()).toMatch(/^shmtool \d+\.\d+\.\d+\n$/);
  });
});

describe('the real bin, spawned', () => {
  test('open from a pipe, read to a pipe, rm: exit codes and streams as a shell sees them', () => {
    const data = randomBytes(300_000);
    const opened = spawnShmtool(['open', '-s', '300000'], data);
    expect(opened.status).toBe(0);
    expect(opened.stderr).toBe('');
    const id = Number(opened.stdout.toString());
    try {
      const read = spawnShmtool(['read', String(id)]);
      expect(read.status).toBe(0);
      expect(read.stdout.equals(data)).toBe(true);
      const info = JSON.parse(spawnShmtool(['info', String(id), '--json']).stdout.toString());
      expect(info).toMatchObject({ id, size: 300_000, nattch: 0, mode: 0o600 });
    } finally {
      expect(spawnShmtool(['rm', String(id)]).status).toBe(0);
    }
    expect(list().some((segment) => segment.id === id)).toBe(false);
  });

  test('usage error: exit 2; too much input: exit 1; --version: exit 0', () => {
    expect(spawnShmtool(['frobnicate']).status).toBe(2);
    const tooMuch = spawnShmtool(['open', '-s', '4K'], Buffer.alloc(5000));
    expect(tooMuch.status).toBe(1);
    expect(tooMuch.stdout.length).toBe(0);
    expect(tooMuch.stderr).toMatch(/4096 bytes fit/);
    const version = spawnShmtool(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout.toString()).toMatch(/^shmtool /);
  });
});

describe('the command line where users meet it', () => {
  test('a negative --key is a key (the kernel prints keys signed)', async () => {
    const key = -(0x5e930000 + (process.pid % 0x10000));
    const created = await shmtool(['create', '4096', '--key', String(key)]);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const id = Number(created.stdout.toString());
    try {
      expect(Segment.open({ key }).id).toBe(id);
      const again = await shmtool(['create', '4096', '-k', String(key)]);
      expect(again.code).toBe(1);
      // The library's advice (Segment.open({ key })) in shmtool's words.
      expect(again.stderr).toMatch(
        /EEXIST .*remove it \(shmtool rm ID, ipcrm -M KEY\) or choose another --key\n$/,
      );
      expect(again.stderr).not.toMatch(/Segment\.open|exclusive/);
    } finally {
      removeAll([id]);
    }
  });

  test('a missing segment is reported in shmtool words, not the API', async () => {
    const gone = await shmtool(['info', '2147483647']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/list segments with shmtool ls\n$/);
    expect(gone.stderr).not.toMatch(/list\(\)/);
  });

  test('--version after any command; --help and --version load no koffi', () => {
    for (const args of [['--version'], ['ls', '--version'], ['read', '12', '-V'], ['-V']]) {
      const ran = spawnShmtool(args);
      expect(ran.status).toBe(0);
      expect(ran.stdout.toString()).toMatch(/^shmtool \d+\.\d+\.\d+\n$/);
    }
    const hook = join(__dirname, 'loaded-modules.cjs');
    for (const args of [['--help'], ['--version'], ['open', '--help'], ['rm', '--version'], ['bogus']]) {
      const ran = runForBytes(process.execPath, ['--require', hook, shmtoolBin, ...args]);
      const loaded = ran.stderr.split('\n').filter((line) => line.startsWith('loaded: '));
      expect(loaded.length).toBeGreaterThan(0); // the hook ran
      expect(loaded.filter((line) => /koffi|segment\.js|libc\.js/.test(line))).toEqual([]);
    }
    // A command that does work loads the library: the hook sees it when it is there.
    const ls = runForBytes(process.execPath, ['--require', hook, shmtoolBin, 'ls']);
    expect(ls.stderr).toMatch(/loaded: .*koffi/);
  });

  test('read into a pipe that closes early ends quietly; into a full disk, exit 1 with a message', () => {
    const seg = Segment.create(1 << 20);
    try {
      seg.write(randomBytes(1 << 20));
      const piped = spawnSync(
        'bash',
        [
          '-c',
          `"$0" "$1" read ${seg.id} | head -c1 >/dev/null; echo "\${PIPESTATUS[0]}"`,
          process.execPath,
          shmtoolBin,
        ],
        { encoding: 'utf8' },
      );
      expect(piped.stderr).toBe('');
      expect(piped.stdout).toBe('0\n');
      const full = spawnSync(
        'bash',
        ['-c', `"$0" "$1" read ${seg.id} > /dev/full`, process.execPath, shmtoolBin],
        { encoding: 'utf8' },
      );
      expect(full.status).toBe(1);
      expect(full.stderr).toBe('shmtool: cannot write to stdout: no space left on device (ENOSPC)\n');
    } finally {
      seg.destroy();
    }
  });

  test('open -s with a directory on stdin fails clearly and leaves nothing', () => {
    const folder = mkdtempSync(join(tmpdir(), 'shmtool-dir-'));
    const fd = openSync(folder, 'r');
    try {
      const withDir = runForBytes(process.execPath, [shmtoolBin, 'open', '-s', '4K'], {
        stdio: [fd, 'pipe', 'pipe'],
      });
      expect(withDir.status).toBe(1);
      expect(withDir.stdout.length).toBe(0);
      expect(withDir.stderr).toMatch(/^shmtool: stdin is a directory, not data/);
    } finally {
      closeSync(fd);
      rmdirSync(folder);
    }
  });

  test.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)(
    'open -s 1M interrupted by %s while it waits for stdin removes its segment',
    async (signal) => {
      const child = spawn(process.execPath, [shmtoolBin, 'open', '-s', '1M'], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdin.write('some data, and then nothing more for now');
      const deadline = Date.now() + 10_000;
      const mine = () => list().filter((segment) => segment.cpid === child.pid);
      while (mine().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(mine()).toHaveLength(1);
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_code, sig) => resolve(sig)),
      );
      child.kill(signal);
      expect(await exited).toBe(signal);
      expect(mine()).toEqual([]);
    },
  );
});

testLeavesNoSegmentBehind();
