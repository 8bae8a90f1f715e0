// monitors() without RandR 1.5: Xinerama when the server has it, else the whole screen, checked against xdpyinfo.

import { execFileSync } from 'node:child_process';
import { connect } from '../src';
import { spawnXvfb } from './helpers';

test('no RandR, Xinerama active: the Xinerama heads, as xdpyinfo lists them', async () => {
  const server = await spawnXvfb([
    '-extension',
    'RANDR',
    '+xinerama',
    '-screen',
    '0',
    '200x100x24',
    '-screen',
    '1',
    '200x100x24',
  ]);
  const d = await connect({ display: server.display });
  try {
    const info = execFileSync('xdpyinfo', ['-display', server.display, '-ext', 'XINERAMA']).toString();
    const heads = [...info.matchAll(/head #(\d+): (\d+)x(\d+) @ (-?\d+),(-?\d+)/g)].map((m) => ({
      index: Number(m[1]),
      width: Number(m[2]),
      height: Number(m[3]),
      x: Number(m[4]),
      y: Number(m[5]),
    }));
    expect(heads.length).toBe(2);
    const monitors = await d.monitors();
    expect(monitors.map(({ index, width, height, x, y }) => ({ index, width, height, x, y }))).toEqual(heads);
    expect(monitors[0]).toMatchObject({ name: 'xinerama-0', primary: true });
  } finally {
    await d.close();
    await server.stop();
  }
});

test('neither RandR nor Xinerama: one monitor, the screen', async () => {
  const server = await spawnXvfb(['-extension', 'RANDR', '-screen', '0', '120x80x24']);
  const d = await connect({ display: server.display });
  try {
    expect(await d.monitors()).toEqual([
      { index: 0, name: 'screen', x: 0, y: 0, width: 120, height: 80, primary: true },
    ]);
    expect((await d.capture({ monitor: 0 })).width).toBe(120);
  } finally {
    await d.close();
    await server.stop();
  }
});
