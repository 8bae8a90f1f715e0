import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageDir, run, testLeavesNoSegmentBehind } from './helpers';

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

testLeavesNoSegmentBehind();
