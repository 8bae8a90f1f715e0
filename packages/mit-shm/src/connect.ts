// Connecting to an X display: reading the display name and options, opening the `x11` client (the one
// place that loads it), and choosing how pixels travel (sysv, memfd or socket, each proven by a real attach
// and round trip). What comes out is a Display over a Session.

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Display, type ShmInfo } from './display';
import { XConnectionError } from './errors';
import { Session } from './session';
import { MemfdTransport } from './transport/memfd';
import { prove } from './transport/prove';
import { SocketTransport } from './transport/socket';
import { SysvTransport } from './transport/sysv';
import { TRANSPORTS, type Transport, type TransportName } from './transport/transport';
import { Wire } from './wire';
import type { X11Client, X11Display, X11Module } from './x11-types';

export type TransportChoice = 'auto' | TransportName;

export interface ConnectOptions {
  /** The display, e.g. ':0' or 'host:1'. Default: $DISPLAY. */
  display?: string;
  /** Force a transport. Default: $XSHM_TRANSPORT, else 'auto' (memfd, then sysv, then socket). */
  transport?: TransportChoice;
  /** Give up connecting after this many milliseconds. Default 5000. */
  timeout?: number;
}

const CONNECT_TIMEOUT_MS = 5000;
/** setTimeout's limit (2^31 - 1 ms, about 24.8 days): a longer delay fires at once. */
const MAX_TIMEOUT_MS = 0x7fffffff;

/** `x11`, typed: the one place the untyped module is loaded and cast (its shapes are in x11-types.ts). */
const x11 = require('x11') as X11Module;

/** Open a connection to an X display and choose how pixels travel. */
export async function connect(options: ConnectOptions = {}): Promise<Display> {
  const name = options.display ?? process.env.DISPLAY;
  if (!name)
    throw new XConnectionError(
      '',
      'connect: no display given and DISPLAY is not set — pass { display: ":0" } or set DISPLAY (start a virtual one with startXvfb())',
    );
  const requested = chosenTransport(options.transport);
  const timeout = options.timeout ?? CONNECT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > MAX_TIMEOUT_MS)
    throw new RangeError(
      `connect: timeout=${String(timeout)} must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS} (default ${CONNECT_TIMEOUT_MS})`,
    );
  checkXauthority(name);
  const { client, setup } = await openClient(name, timeout);
  const wire = new Wire(client, setup, name);
  try {
    const { transport, info } = await chooseTransport(wire, requested);
    return new Display(new Session(wire, transport, info));
  } catch (err) {
    await wire.close();
    throw err;
  }
}

function chosenTransport(option: TransportChoice | undefined): TransportChoice {
  const fromEnv = process.env.XSHM_TRANSPORT;
  const value = option ?? (fromEnv ? fromEnv : 'auto');
  if (value !== 'auto' && !TRANSPORTS.includes(value as TransportName))
    throw new RangeError(
      `connect: transport ${JSON.stringify(value)}${option === undefined ? ' (from XSHM_TRANSPORT)' : ''} must be one of auto, ${TRANSPORTS.join(', ')}`,
    );
  return value as TransportChoice;
}

function openClient(name: string, timeout: number): Promise<{ client: X11Client; setup: X11Display }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let client: X11Client | undefined;
    const finish = (err: Error | null, setup?: X11Display): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err || !client || !setup) {
        client?.stream?.destroy();
        reject(err ?? new XConnectionError(name, `connect: X display ${name} gave no setup data`));
      } else resolve({ client, setup });
    };
    const timer = setTimeout(
      () =>
        finish(
          new XConnectionError(
            name,
            `connect: X display ${name} did not answer within ${timeout / 1000} s — is the server hung, or DISPLAY a stale forwarding? Check it with: xdpyinfo -display ${name}`,
          ),
        ),
      timeout,
    );
    try {
      // BIG-REQUESTS costs two round trips and a module load at every connect (~4 ms of a one-shot
      // capture), and only the socket transport sends requests that large: chooseTransport enables it there.
      client = x11.createClient({ display: name, disableBigRequests: true }, (err, setup) => {
        // Set up after we gave up (the timeout): close it, or its socket keeps the process alive.
        if (settled) client?.stream?.destroy();
        finish(err ? describeConnectError(name, err) : null, setup);
      });
      // Errors after setup are routed by Wire; until then a socket error must not be an unhandled 'error'.
      client.on('error', (err: Error) => finish(describeConnectError(name, err)));
    } catch (err) {
      finish(describeConnectError(name, err instanceof Error ? err : new Error(String(err))));
    }
  });
}

/**
 * x11 reads the Xauthority file in a callback and throws what it cannot read there, out of reach of any
 * handler (an uncaught exception that ends the process). Read it first, as x11 will: $XAUTHORITY, else
 * ~/.Xauthority, else ~/Xauthority; a missing file is fine (no authorisation), an unreadable one is not.
 */
function checkXauthority(name: string): void {
  const fromEnv = process.env.XAUTHORITY;
  const candidates = fromEnv ? [fromEnv] : [join(homedir(), '.Xauthority'), join(homedir(), 'Xauthority')];
  for (const file of candidates) {
    try {
      readFileSync(file);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new XConnectionError(
        name,
        `connect: cannot read the X authority file ${file} (${code ?? (err as Error).message}) — fix its permissions, or point XAUTHORITY at a readable file${fromEnv ? ' (or unset it)' : ''}`,
        { cause: err },
      );
    }
  }
}

function describeConnectError(name: string, err: Error): XConnectionError {
  const code = (err as NodeJS.ErrnoException).code;
  let hint: string;
  if (code === 'ECONNREFUSED' || code === 'ENOENT')
    hint = `no X server is listening there — start one (e.g. Xvfb ${name}, or startXvfb()) or set DISPLAY to a running display`;
  else if (/authori[sz]|protocol specified|cookie|access control|refused/i.test(err.message))
    hint =
      'the server refused us — check XAUTHORITY and `xauth list`, or allow this user with `xhost +si:localuser:$USER`';
  else if (/parse display/i.test(err.message)) hint = 'a display looks like ":0", ":1.0" or "host:0"';
  else hint = `check that the display is running and reachable (xdpyinfo -display ${name})`;
  return new XConnectionError(name, `connect: cannot open X display ${name}: ${err.message} — ${hint}`, {
    cause: err,
  });
}

async function chooseTransport(
  wire: Wire,
  requested: TransportChoice,
): Promise<{ transport: Transport; info: ShmInfo }> {
  const shm = await wire.extension('shm');
  wire.shm = shm;
  if (shm) wire.registerExtensionErrors(shm.firstError, ['BadShmSeg']);
  const version = shm ? `${shm.major}.${shm.minor}` : null;
  const sharedPixmaps = !!shm?.sharedPixmaps;
  const info = (transport: TransportName, reason?: string): ShmInfo => ({
    available: transport !== 'socket',
    version,
    transport,
    sharedPixmaps: transport !== 'socket' && sharedPixmaps,
    ...(reason ? { reason } : {}),
  });
  const socket = async (reason: string) => {
    await enableBigRequests(wire);
    return { transport: new SocketTransport(wire), info: info('socket', reason) };
  };
  if (requested === 'socket') return socket('transport "socket" was requested');

  const reasons: string[] = [];
  // memfd first: the server gets a private descriptor, where a SysV id is world-readable and any client of
  // the display could ask the server to attach it (see the README's trust model). Equally fast (`pnpm bench`).
  const candidates: TransportName[] = requested === 'auto' ? ['memfd', 'sysv'] : [requested];
  for (const name of candidates) {
    const why = unusable(wire, name);
    if (why) {
      reasons.push(`${name}: ${why}`);
      continue;
    }
    const transport = name === 'sysv' ? new SysvTransport(wire) : new MemfdTransport(wire);
    try {
      await prove(wire, transport);
      return { transport, info: info(name, reasons.length ? reasons.join('; ') : undefined) };
    } catch (err) {
      reasons.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (requested !== 'auto')
    throw new Error(
      `connect: transport "${requested}" was requested (connect({ transport }) or XSHM_TRANSPORT) but does not work on ${wire.displayName}: ${reasons.join('; ')}`,
    );
  return socket(reasons.join('; '));
}

/**
 * Lifts the request size limit from 256 KiB to the server's BIG-REQUESTS maximum (16 MiB on Xorg and
 * Xvfb), so the socket transport moves an image in a few requests instead of dozens. Without the
 * extension the limit stays, and the transport cuts smaller strips.
 */
async function enableBigRequests(wire: Wire): Promise<void> {
  const ext = await wire.extension('big-requests');
  if (!ext) return;
  const words = await wire.call<number>('BigReqEnable', (cb) => ext.Enable(cb));
  if (words > wire.setup.max_request_length) wire.setup.max_request_length = words;
}

function unusable(wire: Wire, name: TransportName): string | null {
  if (!wire.shm) return 'the server has no MIT-SHM extension';
  if (!wire.setup.isLocalSocket) return 'the connection is not a local unix socket (remote or TCP display)';
  if (name === 'memfd') {
    const { major, minor, fdCapable } = wire.shm;
    if (major < 1 || (major === 1 && minor < 2))
      return `the server speaks MIT-SHM ${major}.${minor}; AttachFd needs 1.2`;
    if (!fdCapable) return 'this runtime cannot pass file descriptors over the X socket';
  }
  return null;
}
