// The README's example runs as written, with the built package under its own name: a producer and a
// reader of one ring, ending when the producer closes it.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ringKey } from '../src';
import { segmentKeys } from './helpers';

const packageDir = path.join(__dirname, '..');
const readme = readFileSync(path.join(packageDir, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

test('the README has its example', () => {
  expect(examples).toHaveLength(1);
});

test('the README example runs: null, the frames it saw, producer-closed; no ring left', () => {
  const result = spawnSync(process.execPath, ['-e', examples[0] ?? ''], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe('null');
  expect(lines.at(-1)).toBe('producer-closed');
  const frames = lines.slice(1, -1);
  for (const line of frames) expect(line).toMatch(/^[123] 1920 1080 BGRX (64|128|192)$/);
  expect(frames.length).toBeLessThanOrEqual(3);
  expect(segmentKeys()).not.toContain(ringKey('example'));
});
