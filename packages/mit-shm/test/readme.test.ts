// The README's example runs as written, with the built package under its own name: it starts its own
// Xvfb, prints what its comments say, and leaves no segment behind.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { connect, startXvfb } from '../src';

const packageDir = path.join(__dirname, '..');
const readme = readFileSync(path.join(packageDir, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

test('the README has its examples: the main one, the pixel-format one and the windows one', () => {
  expect(examples).toHaveLength(3);
});

test('the windows example lists a window, captures it whole, follows it and prints the monitors', async () => {
  const xvfb = await startXvfb({ width: 320, height: 240 });
  const owner = await connect({ display: xvfb.display });
  try {
    const window = await owner.createWindow({ width: 120, height: 80, x: 10, y: 10, title: 'readme' });
    const result = spawnSync(process.execPath, ['-e', examples[2] ?? ''], {
      cwd: packageDir,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, DISPLAY: xvfb.display },
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`0x${window.id.toString(16)}  null readme\n`);
    // the capture, then the one frame of a window that does not draw again in the 5 s
    expect(result.stdout).toContain('120 80 BGRX whole\n120 80\n');
    expect(result.stdout).toContain("name: 'screen'");
  } finally {
    await owner.close();
    await xvfb.stop();
  }
}, 60_000);

test('the pixel-format example runs and prints what its comment says', () => {
  const result = spawnSync(process.execPath, ['-e', examples[1] ?? ''], {
    cwd: packageDir,
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  expect(result.stdout).toBe('BGRX 7680\n');
});

test('the README example runs and prints what its comments say', () => {
  const result = spawnSync(process.execPath, ['-e', examples[0] ?? ''], {
    cwd: packageDir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  // console.log breaks the object over lines when it does not write to a terminal
  expect(result.stdout.replace(/\s+/g, ' ').trim()).toBe(
    "{ available: true, version: '1.2', transport: 'memfd', sharedPixmaps: true } 640 360 2560 BGRX",
  );
  // every segment the example's process made is gone
  const segments = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n').slice(1);
  const byExample = segments.filter((row) => row.trim().split(/\s+/)[4] === String(result.pid));
  expect(byExample).toEqual([]);
});
