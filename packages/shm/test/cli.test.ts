import { randomBytes } from 'node:crypto';
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

  test.each(['', 'K', '1.5K', '-1', '12Q', '0x10', '1 2'])("'%s' is not a size", (text) => {
    expect(() => parseSize(text)).toThrow(/is not a size/);
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
    [[], /missing command/],
    [['create'], /create takes one SIZE/],
    [['create', '12Q'], /size '12Q' is not a size/],
    [['create', '4K', '--bogus'], /Unknown option '--bogus'/],
    [['create', '4K', '--mode', '999'], /mode '999' is not octal/],
    [['create', '4K', '--key', 'abc'], /key 'abc' is not an IPC key/],
    [['open'], /open needs an ID, or -s SIZE/],
    [['open', '-s', 'lots'], /size 'lots' is not a size/],
    [['read'], /missing segment ID/],
    [['read', 'x1'], /'x1' is not a segment ID/],
    [['read', '1', '-o', '-5'], /'-5' is negative/],
    [['create', '-5'], /'-5' is negative/],
    [['rm'], /rm needs at least one ID/],
    [['ls', 'extra'], /ls takes no arguments/],
  ])('usage error %j: exit 2, a message on stderr, nothing on stdout', async (args, message) => {
    const result = await shmtool(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^shmtool: /);
  });

  test('failures: exit 1 with the reason', async () => {
    const gone = await shmtool(['read', '2147483647']);
    expect(gone).toMatchObject({ code: 1 });
    expect(gone.stderr).toMatch(/^shmtool: shmctl\(id=2147483647, IPC_STAT\): EINVAL/);
    const zero = await shmtool(['create', '0']);
    expect(zero).toMatchObject({ code: 1 });
    expect(zero.stderr).toMatch(/^shmtool: size must be an integer from 1/);
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

testLeavesNoSegmentBehind();
