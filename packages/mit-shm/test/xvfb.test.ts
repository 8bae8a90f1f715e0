// startXvfb: a private server on a free display, a clear message when Xvfb is missing.

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { connect, startXvfb } from '../src';
import { sessionOf } from '../src/session';
import { FIXTURES, RUN_TS } from './helpers';

test('starts on a free display with the asked geometry, stops (twice) cleanly', async () => {
  const xvfb = await startXvfb({ width: 123, height: 45, depth: 16 });
  try {
    expect(xvfb.display).toMatch(/^:\d+$/);
    const info = execFileSync('xdpyinfo', ['-display', xvfb.display]).toString();
    expect(info).toMatch(/dimensions:\s+123x45 pixels/);
    expect(info).toMatch(/depth of root window:\s+16 planes/);
  } finally {
    await xvfb.stop();
    await xvfb.stop();
  }
  expect(() => process.kill(xvfb.pid, 0)).toThrow();
});

test("the connection setup lists every visual xdpyinfo lists (x11's setup parse, patched in patches/)", async () => {
  // Xvfb with GLX announces hundreds of visuals; the patch reads each depth's list in one piece.
  const xvfb = await startXvfb({ width: 64, height: 64 });
  try {
    const info = execFileSync('xdpyinfo', ['-display', xvfb.display]).toString();
    const listed = [...info.matchAll(/^\s+visual id:\s+(0x[0-9a-f]+)/gm)]
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    expect(listed.length).toBeGreaterThan(10);
    const display = await connect({ display: xvfb.display });
    try {
      const parsed = sessionOf(display).wire.client.display.screen[0]!.depths;
      const vids = Object.values(parsed)
        .flatMap((visuals) => Object.values(visuals).map((v) => v.vid))
        .sort((a, b) => a - b);
      expect(vids).toEqual(listed);
      const rootVisual = Number(info.match(/default visual id:\s+(0x[0-9a-f]+)/)![1]);
      const root = parsed[display.depth]![rootVisual];
      expect(root).toMatchObject({ class: 4, red_mask: 0xff0000, green_mask: 0xff00, blue_mask: 0xff });
    } finally {
      await display.close();
    }
  } finally {
    await xvfb.stop();
  }
});

test('two at once get different displays', async () => {
  const [a, b] = await Promise.all([
    startXvfb({ width: 64, height: 64 }),
    startXvfb({ width: 64, height: 64 }),
  ]);
  try {
    expect(a.display).not.toBe(b.display);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('Xvfb missing: says how to install it', () => {
  // In a child whose PATH leads nowhere (changing process.env here would not reach the spawn).
  const out = execFileSync(process.execPath, [RUN_TS, join(FIXTURES, 'xvfb-missing.ts')], {
    env: { ...process.env, PATH: '/nonexistent' },
  }).toString();
  expect(out.trim()).toBe('startXvfb: Xvfb is not installed; install it with: apt-get install xvfb');
});

test('bad geometry is a RangeError before anything is spawned', () => {
  expect(() => startXvfb({ width: 0 })).toThrow(RangeError);
  expect(() => startXvfb({ depth: 12 })).toThrow(/depth=12 must be one of/);
});
