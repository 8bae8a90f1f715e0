import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { packageDir, run, shmtoolBin, testLeavesNoSegmentBehind } from './helpers';

// The README's examples run as written, with the built package under its own name.
const readme = readFileSync(path.join(packageDir, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

test('the README has its examples', () => {
  expect(examples.length).toBeGreaterThanOrEqual(2);
});

test.each(examples.map((source, index) => [index + 1, source]))(
  'README example %d runs',
  (_index, source) => {
    const result = run(process.execPath, ['-e', String(source)], { cwd: packageDir });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    if (String(source).includes('hello from node')) {
      expect(result.stdout).toMatch(/^hello from node \(segment \d+, 2 attached\)\n0\n$/);
    }
  },
);

// The shell example as written, with `shmtool` the package's bin on PATH and Debian's python3 (the one
// python3-sysv-ipc installs for) first.
const shell = /```sh\n(id=[\s\S]*?)```/.exec(readme)?.[1] ?? '';

test('the README shell example runs: hello through shmtool and Python, then the segment is gone', () => {
  expect(shell).toContain('shmtool rm');
  const bin = mkdtempSync(path.join(tmpdir(), 'shmtool-bin-'));
  try {
    symlinkSync(shmtoolBin, path.join(bin, 'shmtool'));
    const result = run('bash', ['-ec', `${shell}\necho "id=$id"`], {
      env: { ...process.env, PATH: `${bin}:/usr/bin:${process.env.PATH}` },
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    // shmtool read writes the bytes as they are, no newline after them
    expect(result.stdout.startsWith("hellob'hello'\n")).toBe(true);
    const id = /^id=(\d+)$/m.exec(result.stdout)?.[1];
    expect(result.stdout).toMatch(new RegExp(`^${id}\\s+0x`, 'm')); // shmtool ls lists it
    expect(readFileSync('/proc/sysvipc/shm', 'latin1')).not.toMatch(new RegExp(`^\\s*\\d+\\s+${id}\\s`, 'm'));
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

testLeavesNoSegmentBehind();
