// The HTTP side of `xshot stream` (node:http only): routes, the access check (Host, Origin, token),
// limits on connections and on single-picture responses, listen errors. Pictures come from a
// StreamPipeline over any FrameSource, so the server is tested without X.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { loadSharp } from '../encode';
import { type FanOutStats, MJPEG_BOUNDARY, MjpegFanOut } from './mjpeg';
import { type PipelineOptions, type PipelineStats, StreamPipeline } from './pipeline';
import type { RemoteDesktop } from './remote/desktop';
import type { FrameSource } from './source';
import { VIEWER_HTML } from './viewer';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** PNG for /frame.png: exact pixels; level 1 because a 1080p PNG at level 6 takes ~5x longer. */
const PNG_COMPRESSION_LEVEL = 1;
/** Seconds a client is told to wait (Retry-After) when single-picture requests are at their limit. */
const RETRY_AFTER_S = 1;

/**
 * What one server may hold at a time. Before these limits, 1000 clients asking for /frame.png of a
 * 1080p screen and never reading took the process from 93 MB to over 670 MB within 20 s, still
 * growing (one PNG encode and body per request); with them it peaks at 141 MB (measured by hand).
 * About 20k idle connections ran it out of file descriptors.
 */
export interface ServerLimits {
  /** Open TCP connections; the server closes any beyond at once (Node's `server.maxConnections`). */
  maxConnections: number;
  /** /frame.jpg and /frame.png requests being produced or sent; beyond: 503 with Retry-After. */
  maxPictureRequests: number;
  /** Bytes of those responses not yet taken by their sockets; at or beyond: 503 with Retry-After. */
  maxPictureBytes: number;
  /** A /frame.jpg or /frame.png response whose socket takes no byte for this long: the socket is destroyed. */
  stallTimeoutMs: number;
  /** A connection must have sent a request's whole header by then (else 408 and closed). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  // A viewer page holds 2 (stream, stats); a few dozen viewers and scripts fit with room to spare.
  maxConnections: 256,
  maxPictureRequests: 32,
  maxPictureBytes: 64 << 20,
  stallTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
};

export interface StreamServerOptions extends PipelineOptions {
  source: FrameSource;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /**
   * When set, every endpoint but /healthz needs `?token=` or `Authorization: Bearer`. The server
   * itself has no default; `xshot stream` makes one up (generateToken) unless told `--no-token`.
   */
  token?: string;
  limits?: Partial<ServerLimits>;
  /** The remote desktop's page and WebSocket (/desktop, /desktop.ws), when the stream offers one. */
  desktop?: RemoteDesktop;
}

/** The JSON served at /stats: pictures (pipeline), viewers (fan-out), and connections and limits. */
export type StreamStats = Omit<PipelineStats, 'viewers'> & FanOutStats & ServerCounters;

export interface ServerCounters {
  /** Open TCP connections. */
  connections: number;
  /** Connections closed at once because `maxConnections` were open. */
  droppedConnections: number;
  /** /frame.jpg and /frame.png responses being produced or sent, and their unsent bytes. */
  pictureRequests: number;
  pictureBytes: number;
  /** Single-picture requests answered 503 because of the two figures above. */
  refusedBusy: number;
  /** Single-picture responses whose socket was destroyed for taking nothing for `stallTimeoutMs`. */
  stallTimeouts: number;
  /** PNG encodes for /frame.png: concurrent requests share one. */
  pngEncoded: number;
}

/** Why a request is refused before any work is done for it. */
export interface Refusal {
  status: 400 | 401 | 403;
  message: string;
  headers: Record<string, string>;
}

/**
 * Host, Origin and token checks, in that order; null when the request may proceed. Requests other
 * than plain HTTP (a WebSocket upgrade) go through the same function: see `onUpgrade`.
 */
export type AccessCheck = (request: IncomingMessage, url: URL) => Refusal | null;

export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

export interface StreamServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port/ (with the token in the query when there is one). */
  readonly url: string;
  readonly pipeline: StreamPipeline;
  readonly checkAccess: AccessCheck;
  stats(): StreamStats;
  /**
   * Hands upgrade requests (WebSocket) to `handler`, but only those that pass `checkAccess`; the
   * others are answered with the refusal and closed. Without a handler upgrades are refused (400).
   */
  onUpgrade(handler: UpgradeHandler): void;
  /** Ends every viewer's stream, stops capturing and closes the listening socket. */
  close(): Promise<void>;
}

/** listen() failed: the message says what was asked and what to do. */
export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** A random URL-safe token (192 bits, as base64url). */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function startStreamServer(options: StreamServerOptions): Promise<StreamServer> {
  const host = options.host ?? DEFAULT_HOST;
  const requestedPort = options.port ?? DEFAULT_PORT;
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const pipeline = new StreamPipeline(options.source, options);
  const fanOut = new MjpegFanOut(pipeline);
  const pictures = new PictureBudget(limits);
  let pngEncoded = 0;
  const nextPng = coalesced(async (): Promise<Buffer> => {
    const { rgb, width, height } = await pipeline.snapshot();
    pngEncoded++;
    return loadSharp()(rgb, { raw: { width, height, channels: 3 } })
      .png({ compressionLevel: PNG_COMPRESSION_LEVEL })
      .toBuffer();
  });
  let connections = 0;
  let droppedConnections = 0;
  const stats = (): StreamStats => {
    const { viewers: _viewers, ...picture } = pipeline.stats();
    return {
      ...picture,
      ...fanOut.stats(),
      connections,
      droppedConnections,
      ...pictures.stats(),
      pngEncoded,
    };
  };
  const checkAccess = accessCheck({ host, token: options.token });

  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      // Covers receiving the request only (a GET is its header), never the endless MJPEG response.
      requestTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node looks for connections past headersTimeout (its default is 30 s).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) {
          sendText(response, 503, `xshot stream could not produce a picture: ${messageOf(error)}\n`);
        } else {
          response.destroy();
        }
      });
    },
  );
  server.maxConnections = limits.maxConnections;
  server.on('connection', (socket: Socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  server.on('drop', () => droppedConnections++);

  // The desktop's WebSocket is one such upgrade: it sees only requests that passed the checks.
  let upgradeHandler: UpgradeHandler | null = options.desktop
    ? (request, socket, head, url) => options.desktop?.upgrade(request, socket, head, url)
    : null;
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = requestUrl(request);
    if (!url) {
      refuseRaw(socket, malformedTarget(request));
      return;
    }
    const refusal =
      checkAccess(request, url) ??
      (upgradeHandler ? null : plainRefusal(400, 'this server accepts no protocol upgrade\n'));
    if (refusal) refuseRaw(socket, refusal);
    else upgradeHandler?.(request, socket, head, url);
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request);
    if (!url) {
      refuse(response, malformedTarget(request));
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, `${request.method} is not supported; use GET\n`);
      return;
    }
    const refusal = checkAccess(request, url);
    // /healthz needs no token, but is still behind the Host and Origin checks.
    if (refusal && !(url.pathname === '/healthz' && refusal.status === 401)) {
      refuse(response, refusal);
      return;
    }
    if (options.desktop?.serves(url.pathname)) {
      options.desktop.servePage(request, response);
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        sendText(response, 200, 'ok\n');
        return;
      case '/':
      case '/index.html':
        send(response, 200, 'text/html; charset=utf-8', Buffer.from(VIEWER_HTML));
        return;
      case '/stream.mjpeg':
        if (request.method === 'HEAD') {
          response.writeHead(200, {
            'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
          });
          response.end();
        } else {
          fanOut.add(response);
        }
        return;
      case '/frame.jpg':
      case '/frame.png': {
        const ticket = pictures.admit(response);
        if (!ticket) {
          response.setHeader('Retry-After', String(RETRY_AFTER_S));
          sendText(response, 503, 'too many pictures are being sent; retry in a second\n');
          return;
        }
        const png = url.pathname === '/frame.png';
        const body = png ? await nextPng() : (await pipeline.currentJpeg()).jpeg;
        if (response.destroyed) return; // gone while its picture was made (or timed out)
        ticket.sending(body.length);
        send(response, 200, png ? 'image/png' : 'image/jpeg', body);
        return;
      }
      case '/stats':
        send(response, 200, 'application/json', Buffer.from(`${JSON.stringify(stats())}\n`));
        return;
      default:
        sendText(
          response,
          404,
          `no such endpoint: ${url.pathname} (try /, /stream.mjpeg, /frame.jpg, /frame.png, /stats)\n`,
        );
    }
  }

  try {
    await listen(server, host, requestedPort);
  } catch (error) {
    await pipeline.stop();
    fanOut.close();
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const query = options.token ? `?token=${encodeURIComponent(options.token)}` : '';

  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    url: `http://${hostForUrl(host)}:${port}/${query}`,
    pipeline,
    checkAccess,
    stats,
    onUpgrade(handler) {
      upgradeHandler = handler;
    },
    close() {
      closing ??= (async () => {
        fanOut.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await pipeline.stop();
        await closed;
      })();
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const where = `${host}:${port}`;
      if (error.code === 'EADDRINUSE') {
        reject(
          new ListenError(
            `port ${port} on ${host} is in use — pick another with --port, or stop what is listening ` +
              `there (ss -ltnp 'sport = :${port}')`,
            error.code,
          ),
        );
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        reject(
          new ListenError(`cannot listen on ${where}: no such local address — check --host`, error.code),
        );
      } else if (error.code === 'EACCES') {
        reject(new ListenError(`not allowed to listen on ${where} — use a port above 1023`, error.code));
      } else {
        reject(new ListenError(`cannot listen on ${where}: ${error.message}`, error.code));
      }
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** The request target as a URL, or null when it is not one (`GET http://[`). */
function requestUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://localhost');
  } catch {
    return null;
  }
}

function malformedTarget(request: IncomingMessage): Refusal {
  return plainRefusal(400, `malformed request target: ${JSON.stringify(request.url ?? '')}\n`);
}

function plainRefusal(status: Refusal['status'], message: string): Refusal {
  return { status, message, headers: {} };
}

/**
 * The access check of a server bound to `host`:
 * - Host must name this server: a loopback name or address, the address or name it was bound to,
 *   or, bound to every address (0.0.0.0, ::), any IP address. A page that reaches the port by DNS
 *   rebinding sends its own domain name, and is refused (403).
 * - Origin, when a browser sends one, must be the server itself (a page elsewhere gets 403).
 * - The token, if any: `?token=` or `Authorization: Bearer`, compared in constant time (401).
 */
export function accessCheck(options: { host: string; token?: string | undefined }): AccessCheck {
  const hostAllowed = hostCheck(options.host);
  const tokenGiven = tokenCheck(options.token);
  return (request, url) => {
    const hostHeader = request.headers.host;
    // HTTP/1.0 clients may omit Host; browsers never do (and Node answers 400 to HTTP/1.1 without one).
    const name = hostHeader === undefined ? null : hostName(hostHeader);
    if (hostHeader !== undefined && (name === null || !hostAllowed(name))) {
      return plainRefusal(
        403,
        `Host ${JSON.stringify(hostHeader)} is not this server's address: open it as ` +
          `http://${hostForUrl(options.host)}:PORT/ (or start xshot stream with --host ${hostHeader.replace(/:\d+$/, '')}); ` +
          'other names are refused so that web pages cannot reach the stream by DNS rebinding\n',
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, hostHeader)) {
      return plainRefusal(403, `requests from pages at ${origin} are refused: open the viewer page itself\n`);
    }
    if (!tokenGiven(request, url)) {
      return {
        status: 401,
        message: 'a token is required: add ?token=TOKEN or an Authorization: Bearer header\n',
        headers: { 'WWW-Authenticate': 'Bearer realm="xshot"' },
      };
    }
    return null;
  };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

function hostCheck(boundHost: string): (name: string) => boolean {
  const bound = normalizeName(boundHost);
  const wildcard = WILDCARD_HOSTS.has(bound);
  return (name) => isLoopbackHost(name) || name === bound || (wildcard && isIP(name) !== 0);
}

/** The name or address in a Host header, lowercased, without port or brackets; null if it is not one. */
function hostName(header: string): string | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::\d{1,5})?$/.exec(header);
  if (!match) return null;
  const name = match[1] ?? match[2]!;
  if (match[1] !== undefined && isIP(name) !== 6) return null;
  return normalizeName(name);
}

function normalizeName(name: string): string {
  return name
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

/** `localhost` or a loopback address: only this machine reaches a server bound to it. */
export function isLoopbackHost(name: string): boolean {
  if (name === 'localhost') return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  return name === '::1' || /^::ffff:127\./.test(name);
}

function sameOrigin(origin: string, hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return false;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && url.host === new URL(`http://${hostHeader}`).host;
  } catch {
    return false; // includes the opaque origin "null" of sandboxed pages and files
  }
}

/** Returns whether a request carries the token (always true when there is none). */
function tokenCheck(token: string | undefined): (request: IncomingMessage, url: URL) => boolean {
  if (!token) return () => true;
  // Digests have one length, so neither the comparison nor a length test shows how long the token is.
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  const expected = digest(token);
  const same = (given: string | null | undefined): boolean =>
    given !== null && given !== undefined && timingSafeEqual(digest(given), expected);
  return (request, url) => {
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
    // Both are compared, whatever the first gives: the time does not say which one was wrong.
    const byHeader = same(bearer);
    const byQuery = same(url.searchParams.get('token'));
    return byHeader || byQuery;
  };
}

/** One admitted /frame.* response: say how big its body is when it is about to be sent. */
interface PictureTicket {
  sending(length: number): void;
}

/**
 * /frame.jpg and /frame.png responses in flight: at most `maxPictureRequests`, and new ones only
 * while fewer than `maxPictureBytes` wait in their sockets. A response whose socket takes nothing
 * for `stallTimeoutMs` loses it, so clients that never read cannot hold the budget (a slow reader
 * that keeps taking bytes keeps its socket).
 */
class PictureBudget {
  private requests = 0;
  private bytes = 0;
  private refused = 0;
  private stalled = 0;

  constructor(private readonly limits: ServerLimits) {}

  /** Counts `response` in, or returns null when the budget is spent (the caller answers 503). */
  admit(response: ServerResponse): PictureTicket | null {
    if (this.requests >= this.limits.maxPictureRequests || this.bytes >= this.limits.maxPictureBytes) {
      this.refused++;
      return null;
    }
    this.requests++;
    let length = 0;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const release = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.requests--;
      this.bytes -= length;
    };
    // 'finish': every byte is with the kernel; 'close': the socket went first.
    response.once('finish', release);
    response.once('close', release);
    return {
      sending: (bodyLength) => {
        length = bodyLength;
        this.bytes += length;
        const socket = response.socket;
        if (!socket) return;
        // bytesWritten counts what is still buffered too: what the kernel took is the difference.
        const taken = (): number => socket.bytesWritten - socket.writableLength;
        let before = -1;
        const check = (): void => {
          if (done) return;
          if (taken() === before) {
            this.stalled++;
            response.destroy();
            return;
          }
          before = taken();
          timer = setTimeout(check, this.limits.stallTimeoutMs);
        };
        check();
      },
    };
  }

  stats(): Pick<ServerCounters, 'pictureRequests' | 'pictureBytes' | 'refusedBusy' | 'stallTimeouts'> {
    return {
      pictureRequests: this.requests,
      pictureBytes: this.bytes,
      refusedBusy: this.refused,
      stallTimeouts: this.stalled,
    };
  }
}

/**
 * Single flight: one `job` runs at a time, and every call made while it runs shares the one run
 * that starts after it. Each caller so gets a result begun after its call, and any number of
 * concurrent callers cost at most two runs.
 */
function coalesced<T>(job: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  let queued: Promise<T> | null = null;
  const start = (): Promise<T> => {
    const run = job();
    running = run;
    const clear = (): void => {
      if (running === run) running = null;
    };
    run.then(clear, clear);
    return run;
  };
  return () => {
    if (queued) return queued;
    if (!running) return start();
    const next = running.then(
      () => undefined,
      () => undefined,
    );
    const run = next.then(() => {
      queued = null;
      return start();
    });
    queued = run;
    return run;
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function refuse(response: ServerResponse, refusal: Refusal): void {
  for (const [name, value] of Object.entries(refusal.headers)) response.setHeader(name, value);
  sendText(response, refusal.status, refusal.message);
}

/** Answers a refused upgrade on its raw socket and closes it. */
function refuseRaw(socket: Duplex, refusal: Refusal): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' }[refusal.status];
  const headers = Object.entries({
    ...refusal.headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(refusal.message)),
    Connection: 'close',
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${refusal.status} ${reason}\r\n${headers}\r\n${refusal.message}`);
}

function send(response: ServerResponse, status: number, type: string, body: Buffer): void {
  response.writeHead(status, {
    'Content-Type': type,
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function sendText(response: ServerResponse, status: number, text: string): void {
  send(response, status, 'text/plain; charset=utf-8', Buffer.from(text));
}
