// The HTTP side of `xshot stream` (node:http only): routes, token check, listen errors. Pictures
// come from a StreamPipeline over any FrameSource, so the server is tested without X.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { type FanOutStats, MJPEG_BOUNDARY, MjpegFanOut } from './mjpeg';
import { type PipelineOptions, type PipelineStats, StreamPipeline } from './pipeline';
import type { RemoteDesktop } from './remote/desktop';
import type { FrameSource } from './source';
import { VIEWER_HTML } from './viewer';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** PNG for /frame.png: exact pixels; level 1 because a 1080p PNG at level 6 takes ~5x longer. */
const PNG_COMPRESSION_LEVEL = 1;

export interface StreamServerOptions extends PipelineOptions {
  source: FrameSource;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** When set, every endpoint but /healthz needs `?token=` or `Authorization: Bearer`. */
  token?: string;
  /** The remote desktop's page and WebSocket (/desktop, /desktop.ws), when the stream offers one. */
  desktop?: RemoteDesktop;
}

/** The JSON served at /stats: the pipeline's picture figures and the fan-out's viewer figures. */
export type StreamStats = Omit<PipelineStats, 'viewers'> & FanOutStats;

export interface StreamServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port/ (with the token in the query when there is one). */
  readonly url: string;
  readonly pipeline: StreamPipeline;
  stats(): StreamStats;
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

export async function startStreamServer(options: StreamServerOptions): Promise<StreamServer> {
  const host = options.host ?? DEFAULT_HOST;
  const requestedPort = options.port ?? DEFAULT_PORT;
  const pipeline = new StreamPipeline(options.source, options);
  const fanOut = new MjpegFanOut(pipeline);
  const stats = (): StreamStats => {
    const { viewers: _viewers, ...pictures } = pipeline.stats();
    return { ...pictures, ...fanOut.stats() };
  };
  const authorized = tokenCheck(options.token);

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        sendText(response, 503, `xshot stream could not produce a picture: ${String(error)}\n`);
      } else {
        response.destroy();
      }
    });
  });

  // The remote desktop's WebSocket: the same token as every endpoint; the desktop checks Origin and path.
  server.on('upgrade', (request: IncomingMessage, socket, head: Buffer) => {
    if (!options.desktop) return socket.destroy();
    const url = new URL(request.url ?? '/', 'http://localhost');
    options.desktop.upgrade(request, socket, head, authorized(request, url));
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, `${request.method} is not supported; use GET\n`);
      return;
    }
    if (url.pathname === '/healthz') {
      sendText(response, 200, 'ok\n');
      return;
    }
    if (!authorized(request, url)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="xshot"');
      sendText(response, 401, 'a token is required: add ?token=TOKEN or an Authorization: Bearer header\n');
      return;
    }
    if (options.desktop?.serves(url.pathname)) {
      options.desktop.servePage(request, response);
      return;
    }
    switch (url.pathname) {
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
      case '/frame.jpg': {
        const frame = await pipeline.currentJpeg();
        send(response, 200, 'image/jpeg', frame.jpeg);
        return;
      }
      case '/frame.png': {
        const { rgb, width, height } = await pipeline.snapshot();
        const png = await sharp(rgb, { raw: { width, height, channels: 3 } })
          .png({ compressionLevel: PNG_COMPRESSION_LEVEL })
          .toBuffer();
        send(response, 200, 'image/png', png);
        return;
      }
      case '/stats':
        send(response, 200, 'application/json', Buffer.from(`${JSON.stringify(stats())}\n`));
        return;
      default:
        sendText(
          response,
          404,
          `no such endpoint: ${url.pathname} (try /, /stream.mjpeg, /frame.jpg, /stats)\n`,
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
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const query = options.token ? `?token=${encodeURIComponent(options.token)}` : '';

  let closing: Promise<void> | null = null;
  return {
    host,
    port,
    url: `http://${urlHost}:${port}/${query}`,
    pipeline,
    stats,
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

/** Returns whether a request carries the token (always true when there is none). */
function tokenCheck(token: string | undefined): (request: IncomingMessage, url: URL) => boolean {
  if (!token) return () => true;
  const expected = Buffer.from(token);
  const same = (given: string | null | undefined): boolean => {
    if (!given) return false;
    const actual = Buffer.from(given);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
  return (request, url) => {
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : null;
    return same(bearer) || same(url.searchParams.get('token'));
  };
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
