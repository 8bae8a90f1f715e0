// `xshot stream`: serves an X display to browsers (viewer page, MJPEG, single frames, stats) until
// Ctrl-C, or until the X server goes away. The HTTP side is src/web/server.ts, the capture side
// src/web/x-source.ts; this file parses options and owns the process lifecycle.
import {
  defineCommand,
  displayOption,
  EXIT_FAILURE,
  EXIT_OK,
  fail,
  fpsOption,
  messageOf,
  parseIntegerIn,
  type SelectionOptions,
  selectionOptions,
  UsageError,
} from '../options';
import type * as OpenDisplay from '../web/open-display';
import type * as Desktop from '../web/remote/desktop';
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  generateToken,
  isLoopbackHost,
  ListenError,
  type StreamServer,
  startStreamServer,
} from '../web/server';

export const DEFAULT_FPS = 30;
export const DEFAULT_QUALITY = 80;
const LOST_GRACE_MS = 200;

export interface StreamOptions extends SelectionOptions {
  host?: string;
  port?: number;
  fps?: number;
  quality?: number;
  cursor?: boolean;
  /** The secret every endpoint but /healthz needs; absent: a random one; false (`--no-token`): none. */
  token?: string | false;
  /** Viewers of /desktop may type, point and use the clipboard. */
  control?: boolean;
}

/** What ended a stream, and the exit code it gives. */
type Ending = { code: number; message?: string };

/**
 * The parts that connect to X and serve the desktop (mit-shm, x11, koffi, ws), loaded when a stream starts
 * rather than for `xshot stream --help`.
 */
function loadServing(): typeof OpenDisplay & typeof Desktop {
  return {
    ...(require('../web/open-display') as typeof OpenDisplay),
    ...(require('../web/remote/desktop') as typeof Desktop),
  };
}

export async function stream(options: StreamOptions): Promise<number> {
  const selections = [options.region, options.window, options.monitor].filter((v) => v !== undefined);
  if (selections.length > 1) {
    throw new UsageError('--region, --window and --monitor select the same thing; give at most one');
  }
  if (options.token === '') {
    throw new UsageError('--token is empty; give a secret, or --no-token to serve without one');
  }
  // As Jupyter does: a fresh secret unless told otherwise, printed in the URL to open.
  const token = options.token === false ? undefined : (options.token ?? generateToken());
  const host = options.host ?? DEFAULT_HOST;

  const { checkControl, DESKTOP_PATH, openDisplaySource, RemoteDesktop } = loadServing();
  const controlProblem = checkControl({ ...options, token });
  if (controlProblem) throw new UsageError(controlProblem);

  let source: Awaited<ReturnType<typeof OpenDisplay.openDisplaySource>>;
  try {
    source = await openDisplaySource({
      ...(options.display !== undefined ? { display: options.display } : {}),
      area: {
        ...(options.region ? { region: options.region } : {}),
        ...(options.window !== undefined ? { window: options.window } : {}),
        ...(options.monitor !== undefined ? { monitor: options.monitor } : {}),
        ...(options.cursor ? { cursor: true } : {}),
      },
    });
  } catch (error) {
    return fail(`stream: ${messageOf(error)}`);
  }

  // The remote desktop (/desktop): the whole screen, a --region or a --monitor; a --window is MJPEG only.
  let desktop: Desktop.RemoteDesktop | undefined;
  if (options.window === undefined) {
    try {
      desktop = await RemoteDesktop.open({
        ...(options.display !== undefined ? { display: options.display } : {}),
        ...(options.region ? { region: options.region } : {}),
        ...(options.monitor !== undefined ? { monitor: options.monitor } : {}),
        control: options.control === true,
        quality: options.quality ?? DEFAULT_QUALITY,
        fps: options.fps ?? DEFAULT_FPS,
      });
    } catch (error) {
      await source.close();
      return fail(`stream: ${messageOf(error)}`);
    }
  }

  let server: StreamServer;
  try {
    server = await startStreamServer({
      source,
      host,
      port: options.port ?? DEFAULT_PORT,
      fps: options.fps ?? DEFAULT_FPS,
      quality: options.quality ?? DEFAULT_QUALITY,
      pollEveryFrame: options.cursor === true,
      ...(token ? { token } : {}),
      ...(desktop ? { desktop } : {}),
    });
  } catch (error) {
    await desktop?.close();
    await source.close();
    return fail(`stream: ${error instanceof ListenError ? error.message : messageOf(error)}`);
  }

  const detection =
    source.detection === 'damage' ? 'changes from XDAMAGE' : `polling at ${options.fps ?? DEFAULT_FPS} fps`;
  process.stdout.write(
    `xshot stream: ${source.displayName} ${source.width}x${source.height} (${source.transport}, ${detection}) ` +
      `at ${server.url}\n`,
  );
  if (!token && !isLoopbackHost(host)) {
    process.stderr.write(
      `xshot stream: warning: no token and listening on ${host}: anyone who can reach port ${server.port} ` +
        'can see this screen (drop --no-token to require one)\n',
    );
  }
  if (desktop)
    process.stdout.write(
      `xshot stream: remote desktop (${desktop.control ? 'keyboard and mouse enabled' : 'view only'}) at ` +
        `${server.url.replace(/\/(\?|$)/, `${DESKTOP_PATH}$1`)}\n`,
    );
  if (source.pollingReason) process.stderr.write(`xshot stream: polling because ${source.pollingReason}\n`);

  const progress = process.stderr.isTTY ? showProgress(server) : null;
  let onSignal = (): void => {};
  const ending = await new Promise<Ending>((resolve) => {
    onSignal = () => resolve({ code: EXIT_OK });
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void source.lost.then((error) =>
      resolve({
        code: EXIT_FAILURE,
        message: `the X server at ${source.displayName} went away (${error.message}); stopping the stream`,
      }),
    );
    // A dying X server also fails the capture in flight; give `lost` a moment to say so itself.
    server.pipeline.onFailure((error) => {
      setTimeout(
        () => resolve({ code: EXIT_FAILURE, message: `capture stopped: ${error.message}` }),
        LOST_GRACE_MS,
      ).unref();
    });
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  progress?.stop();

  await desktop?.close();
  await server.close();
  await source.close();
  if (ending.message) return fail(`stream: ${ending.message}`, ending.code);
  return ending.code;
}

const PROGRESS_INTERVAL_MS = 1000;

/** On a terminal: one status line, rewritten every second, cleared at the end. */
function showProgress(server: StreamServer): { stop(): void } {
  const timer = setInterval(() => {
    const stats = server.stats();
    process.stderr.write(
      `\r\x1b[K${stats.clients} viewer${stats.clients === 1 ? '' : 's'}, ${stats.fps.toFixed(1)} fps, ` +
        `${stats.encoded} frames encoded, ${stats.captured} captured (${stats.detection})`,
    );
  }, PROGRESS_INTERVAL_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      process.stderr.write('\r\x1b[K');
    },
  };
}

export const command = defineCommand({
  args: [],
  options: {
    display: displayOption(),
    ...selectionOptions,
    fps: fpsOption(DEFAULT_FPS),
    host: { type: 'string', value: 'ADDRESS', help: 'address to listen on', default: DEFAULT_HOST },
    port: {
      type: 'string',
      short: 'p',
      value: 'N',
      help: 'TCP port (0 picks a free one)',
      parse: parseIntegerIn(0, 65535),
      default: DEFAULT_PORT,
    },
    quality: {
      type: 'string',
      short: 'q',
      value: 'N',
      help: 'JPEG quality',
      parse: parseIntegerIn(1, 100),
      default: DEFAULT_QUALITY,
    },
    cursor: { type: 'boolean', help: 'draw the mouse cursor into the picture' },
    token: {
      type: 'string',
      value: 'SECRET',
      negatable: true,
      help: 'require ?token=SECRET or Authorization: Bearer SECRET on all but /healthz (default: a random one, in the printed URL)',
    },
    control: {
      type: 'boolean',
      help: 'let viewers of /desktop type, point and use the clipboard (XTEST)',
    },
  },
  run: (_args, options) => stream(options),
});
