// Xauthority: a server that requires a cookie refuses us with a clear error without it, accepts us with it.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, XConnectionError } from '../src';
import { scratch, spawnXvfb } from './helpers';

/** One Xauthority entry: FamilyWild, any display, MIT-MAGIC-COOKIE-1 (the file format xauth writes). */
function xauthority(cookie: Buffer): Buffer {
  const field = (data: Buffer): Buffer =>
    Buffer.concat([Buffer.from([data.length >> 8, data.length & 0xff]), data]);
  return Buffer.concat([
    Buffer.from([0xff, 0xff]),
    field(Buffer.alloc(0)),
    field(Buffer.alloc(0)),
    field(Buffer.from('MIT-MAGIC-COOKIE-1')),
    field(cookie),
  ]);
}

let server: { display: string; stop(): Promise<void> };
let display: string;
const cookie = randomBytes(16);
const goodAuth = join(scratch, 'good.Xauthority');
const otherAuth = join(scratch, 'other.Xauthority');

beforeAll(async () => {
  writeFileSync(goodAuth, xauthority(cookie));
  writeFileSync(otherAuth, xauthority(randomBytes(16)));
  server = await spawnXvfb(['-auth', goodAuth, '-screen', '0', '64x48x24']);
  display = server.display;
});
afterAll(async () => {
  await server?.stop();
});

const withXauthority = async <T>(file: string, run: () => Promise<T>): Promise<T> => {
  const saved = process.env.XAUTHORITY;
  process.env.XAUTHORITY = file;
  try {
    return await run();
  } finally {
    if (saved === undefined) delete process.env.XAUTHORITY;
    else process.env.XAUTHORITY = saved;
  }
};

test('the wrong cookie: refused, with what to check', async () => {
  const err = await withXauthority(otherAuth, () => connect({ display })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XConnectionError);
  expect((err as Error).message).toMatch(new RegExp(`cannot open X display ${display}: .*check XAUTHORITY`));
});

test('the right cookie from XAUTHORITY: connected, shared memory works', async () => {
  const d = await withXauthority(goodAuth, () => connect({ display }));
  try {
    expect(d.shm.transport).toBe('memfd');
    expect((await d.capture()).width).toBe(64);
  } finally {
    await d.close();
  }
});

test('an unreadable XAUTHORITY (here a directory) rejects with XConnectionError, not an uncaught exception', async () => {
  const err = await withXauthority(scratch, () => connect({ display })).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(XConnectionError);
  expect((err as Error).message).toMatch(/cannot read the X authority file .*EISDIR/);
});

test.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])(
  'connect({ timeout: %p }) is a RangeError before any socket: the process can exit',
  async (timeout) => {
    await expect(connect({ display, timeout })).rejects.toThrow(RangeError);
    // Nothing was opened: no socket handle is left behind by the call.
    const sockets = (process as unknown as { _getActiveHandles(): object[] })
      ._getActiveHandles()
      .filter((h) => h.constructor.name === 'Socket' && !(h as { _isStdio?: boolean })._isStdio);
    const before = sockets.length;
    await connect({ display, timeout }).catch(() => {});
    const after = (process as unknown as { _getActiveHandles(): object[] })
      ._getActiveHandles()
      .filter((h) => h.constructor.name === 'Socket' && !(h as { _isStdio?: boolean })._isStdio).length;
    expect(after).toBe(before);
  },
);
