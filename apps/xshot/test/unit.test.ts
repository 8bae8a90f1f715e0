// Unit tests: option parsing, exit codes of usage errors, output naming (the encoders: encode.test.ts).
// Nothing here needs an X server.
import { execFileSync } from 'node:child_process';
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
import { main, plainShot } from '../src/cli';
import { formatFromPath } from '../src/encode';
import { parseRegion, parseWindowId } from '../src/options';
import { defaultFileName, freshDefaultPath } from '../src/output';

/** Runs main() with stdout/stderr captured. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    const code = await main(['node', 'xshot', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

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

describe('exit codes', () => {
  test('--help everywhere exits 0', async () => {
    for (const command of ['shot', 'view', 'mirror', 'stream', 'share', 'show', 'demo']) {
      const result = await run(command, '--help');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: xshot ${command}`);
      expect(result.stdout).toContain('--display');
    }
  });
  test.each([
    [['shot', '--bogus'], /unknown option '--bogus'/],
    [['shot', '--region', '1,2,3'], /--region '1,2,3' is not X,Y,W,H/],
    [['shot', '--format', 'bmp'], /--format 'bmp' is not one of png, jpeg, webp, avif, raw/],
    [['shot', 'out.bmp'], /cannot tell the format of 'out.bmp'/],
    [['shot', '--quality', '101', 'a.jpg'], /between 1 and 100/],
    [['shot', '--window', '1', '--window-name', 'x'], /give one/],
    [['mirror', '--fps', '0', '--from', ':1', '--to', ':2'], /--fps '0'/],
    [['view'], /missing required argument/],
    [['nonsense'], /unknown command 'nonsense'/],
    [[], /Usage: xshot/],
  ])('%p exits 2', async (args, message) => {
    const result = await run(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^xshot: /);
    expect(result.stderr).toMatch(message);
  });
  test('a missing file for view exits 1 before touching X', async () => {
    const result = await run('view', '/nonexistent/picture.png', '--display', ':31999');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('xshot: cannot open /nonexistent/picture.png: no such file or not readable\n');
  });
});

describe('plain shot (the path that skips commander)', () => {
  const argv = (...args: string[]) => ['node', 'xshot', ...args];
  test.each([
    [['shot'], {}],
    [['shot', 'a.png'], { file: 'a.png' }],
    [['shot', '-'], { file: '-' }],
    [['shot', 'a.png', '--display', ':3'], { file: 'a.png', display: ':3' }],
    [['shot', '-d', ':3', 'a.png'], { file: 'a.png', display: ':3' }],
    [['shot', '--display=:3'], { display: ':3' }],
  ])('%p is read without commander', (args, expected) => {
    expect(plainShot(argv(...args))).toEqual(expected);
  });
  test.each([
    [['view', 'a.png']],
    [['shot', 'a.png', 'b.png']],
    [['shot', '--region', '0,0,5,5']],
    [['shot', '-d']],
    [['shot', '-d', '--help']],
    [['shot', '--help']],
    [['shot', '--', 'a.png']],
    [['shot', '--display=']],
  ])('%p goes to commander', (args) => {
    expect(plainShot(argv(...args))).toBeUndefined();
  });
  test('a plain shot with no display exits 1 with the message commander gives', async () => {
    const saved = process.env.DISPLAY;
    delete process.env.DISPLAY;
    try {
      const plain = await run('shot', join(tmpdir(), 'never.png'));
      const parsed = await run('shot', join(tmpdir(), 'never.png'), '--cursor');
      expect(plain.code).toBe(1);
      expect(plain.stderr).toMatch(/^xshot: no X display/);
      expect(parsed).toEqual(plain);
    } finally {
      if (saved !== undefined) process.env.DISPLAY = saved;
    }
  });
});

describe('compile cache (bin/xshot.js)', () => {
  const bin = join(__dirname, '..', 'bin', 'xshot.js');
  const built = existsSync(join(__dirname, '..', 'dist', 'compile-cache.js'));
  (built ? test : test.skip)('fills a private folder on the first run; later runs print the same', () => {
    const cache = mkdtempSync(join(tmpdir(), 'xshot-cache-'));
    try {
      const env = { ...process.env, XDG_CACHE_HOME: cache };
      const first = execFileSync(process.execPath, [bin, '--version'], { env }).toString();
      const folder = join(cache, 'xshot', `v8-${process.version}-${process.arch}`);
      const files = readdirSync(folder);
      expect(files.length).toBeGreaterThan(3);
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      expect(statSync(join(folder, files[0]!)).mode & 0o777).toBe(0o600);
      expect(execFileSync(process.execPath, [bin, '--version'], { env }).toString()).toBe(first);
      // A folder others may write to is not trusted: nothing is read from or added to it.
      chmodSync(folder, 0o777);
      for (const file of files) rmSync(join(folder, file));
      expect(execFileSync(process.execPath, [bin, '--version'], { env }).toString()).toBe(first);
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  (built ? test : test.skip)('a run that writes the cache removes entries older than 30 days', () => {
    const cache = mkdtempSync(join(tmpdir(), 'xshot-cache-'));
    try {
      const folder = join(cache, 'xshot', `v8-${process.version}-${process.arch}`);
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      const stale = join(folder, 'deadbeef-0-1');
      const recent = join(folder, 'cafe-0-1');
      writeFileSync(stale, 'old build');
      writeFileSync(recent, 'last week');
      const day = 24 * 60 * 60;
      const now = Date.now() / 1000;
      utimesSync(stale, now - 31 * day, now - 31 * day);
      utimesSync(recent, now - 7 * day, now - 7 * day);
      execFileSync(process.execPath, [bin, '--version'], { env: { ...process.env, XDG_CACHE_HOME: cache } });
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(recent)).toBe(true);
      expect(readdirSync(folder).length).toBeGreaterThan(2);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

  (built ? test : test.skip)(
    'remembers resolutions per command, and does not follow one whose folder changed',
    () => {
      const cache = mkdtempSync(join(tmpdir(), 'xshot-cache-'));
      try {
        const env = { ...process.env, XDG_CACHE_HOME: cache };
        const folder = join(cache, 'xshot', `v8-${process.version}-${process.arch}`);
        const resolutionFiles = (): string[] =>
          readdirSync(folder).filter((f) => f.startsWith('resolutions-'));
        const first = execFileSync(process.execPath, [bin, '--version'], { env }).toString();
        expect(resolutionFiles()).toHaveLength(1);
        const file = join(folder, resolutionFiles()[0]!);
        // Another command keeps its own (small) file.
        execFileSync(process.execPath, [bin, 'shot', '--help'], { env });
        expect(resolutionFiles()).toHaveLength(2);
        const known = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { filename: string }>;
        const cli = `${bin}\0../dist/xshot.cjs`;
        expect(known[cli]?.filename).toBe(join(__dirname, '..', 'dist', 'xshot.cjs'));
        // A remembered answer that no longer holds (its folder is not as it was) is resolved again.
        const elsewhere = mkdtempSync(join(tmpdir(), 'xshot-moved-'));
        writeFileSync(join(elsewhere, 'xshot.cjs'), 'throw new Error("stale resolution followed");');
        known[cli] = { ...known[cli]!, filename: join(elsewhere, 'xshot.cjs') };
        writeFileSync(file, JSON.stringify(known));
        try {
          expect(execFileSync(process.execPath, [bin, '--version'], { env }).toString()).toBe(first);
        } finally {
          rmSync(elsewhere, { recursive: true, force: true });
        }
        const again = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { filename: string }>;
        expect(again[cli]?.filename).toBe(join(__dirname, '..', 'dist', 'xshot.cjs'));
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    },
  );
});

describe('output naming', () => {
  test('xshot-YYYYMMDD-HHMMSS.png in local time', () => {
    expect(defaultFileName(new Date(2026, 0, 2, 3, 4, 5))).toBe('xshot-20260102-030405.png');
    expect(defaultFileName(new Date(2026, 10, 26, 17, 59, 9), 'jpg')).toBe('xshot-20261126-175909.jpg');
  });
  test('a second shot in the same second does not overwrite the first', () => {
    const folder = mkdtempSync(join(tmpdir(), 'xshot-name-'));
    try {
      const date = new Date(2026, 0, 2, 3, 4, 5);
      const first = freshDefaultPath(folder, date);
      writeFileSync(first, 'x');
      expect(freshDefaultPath(folder, date)).toBe(join(folder, 'xshot-20260102-030405-2.png'));
    } finally {
      rmSync(folder, { recursive: true });
    }
  });
  test('formats from extensions', () => {
    expect(formatFromPath('a.PNG')).toBe('png');
    expect(formatFromPath('a.jpg')).toBe('jpeg');
    expect(formatFromPath('a.rgba')).toBe('raw');
    expect(formatFromPath('a')).toBeUndefined();
  });
});

test('the committed screenshot is a PNG', () => {
  const file = join(__dirname, '..', 'docs', 'screenshot.png');
  const header = (() => {
    try {
      return readFileSync(file).subarray(0, 8);
    } catch {
      return Buffer.alloc(0);
    }
  })();
  expect(
    header.length === 0 || header.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  ).toBe(true);
});
