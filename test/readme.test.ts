// The root README's examples run as written: CI runs the Quick start's test line (.ci/run reads it from
// here), its demo prints what the README shows, and every `pnpm X` it names is a script of package.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const quickStart = readme.slice(readme.indexOf('## Quick start'));
const [commands = '', transcript = ''] = [...quickStart.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]);

test('the Quick start is what CI runs: setup, then pnpm test', () => {
  expect(commands.split('\n')).toEqual([
    'scripts/setup.sh demo && pnpm demo',
    'scripts/setup.sh test && pnpm test',
    '',
  ]);
  const ci = readFileSync(path.join(root, '.ci/run'), 'utf8');
  const extracted = execFileSync('bash', ['-c', /^command=\$\((.*)\)$/m.exec(ci)?.[1] ?? 'false'], {
    cwd: root,
    encoding: 'utf8',
  });
  expect(extracted).toBe('scripts/setup.sh test && pnpm test\n');
});

test('setup.sh knows the profiles the README names', () => {
  const result = spawnSync('bash', [path.join(root, 'scripts/setup.sh'), 'no-such-profile'], {
    encoding: 'utf8',
  });
  expect(result.status).toBe(2);
  expect(result.stderr).toBe('usage: scripts/setup.sh [demo|test|bench]\n');
});

test('every `pnpm X` the README names is a script of package.json or pnpm’s own', () => {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const named = [...readme.matchAll(/`pnpm ([a-z:-]+)/g)].map((m) => m[1] ?? '');
  expect(named.length).toBeGreaterThan(5);
  const builtin = new Set(['install', 'add', 'publish', 'pack', 'patch', 'exec']);
  expect(named.filter((name) => !(name in scripts) && !builtin.has(name))).toEqual([]);
});

test('pnpm demo prints what the README shows, with its own figures, and writes the picture', () => {
  // what `pnpm demo` runs once built; the README's transcript with numbers, display and path left open
  const demo = /"demo": "[^"]*&& (node [^"]+)"/.exec(
    readFileSync(path.join(root, 'package.json'), 'utf8'),
  )?.[1];
  expect(demo).toBe('node apps/xshot/bin/xshot.js demo');
  const cwd = mkdtempSync(path.join(tmpdir(), 'xshm-readme-'));
  try {
    const result = spawnSync(process.execPath, [path.join(root, 'apps/xshot/bin/xshot.js'), 'demo'], {
      cwd,
      env: { ...process.env, DISPLAY: '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const expected = transcript
      .trimEnd()
      .split('\n')
      .map((line) =>
        line
          .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\/root\/xshm\//, '\\S+/')
          .replace(/\d+/g, '\\d+'),
      );
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(expected.length);
    for (const [index, line] of lines.entries()) expect(line).toMatch(new RegExp(`^${expected[index]}$`));
    expect(existsSync(path.join(cwd, 'xshot-demo.png'))).toBe(true);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}, 90_000);
