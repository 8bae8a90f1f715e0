// Xauthority: a server that requires a cookie refuses us with a clear error without it, accepts us with it.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { connect, XConnectionError } from '../src';
import { scratch } from './helpers';

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

let server: ChildProcess;
let display: string;
const cookie = randomBytes(16);
const goodAuth = join(scratch, 'good.Xauthority');
const otherAuth = join(scratch, 'other.Xauthority');

beforeAll(async () => {
  writeFileSync(goodAuth, xauthority(cookie));
  writeFileSync(otherAuth, xauthority(randomBytes(16)));
  // startXvfb has no -auth option (nothing else needs one): spawn this one by hand.
  server = spawn(
    'Xvfb',
    ['-displayfd', '3', '-noreset', '-nolisten', 'tcp', '-auth', goodAuth, '-screen', '0', '64x48x24'],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    },
  );
  display = await new Promise<string>((resolve, reject) => {
    let text = '';
    (server.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(`:${text.trim()}`);
    });
    server.once('exit', (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
});
afterAll(async () => {
  if (server && server.exitCode === null) {
    server.kill();
    await new Promise((resolve) => server.once('exit', resolve));
  }
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
    expect(d.shm.transport).toBe('sysv');
    expect((await d.capture()).width).toBe(64);
  } finally {
    await d.close();
  }
});
