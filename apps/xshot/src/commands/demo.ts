// `xshot demo`: the Quick start's proof. On $DISPLAY if it answers, else on a private Xvfb: puts a picture
// of its own making in a window (ShmPutImage), captures the screen (ShmGetImage), writes xshot-demo.png,
// prints the transport and the rates it measured. Leaves no Xvfb and no segment behind: the private Xvfb
// runs in its own process group (Ctrl-C reaches us, and we stop it after our own clean-up) and dies with
// this process however it ends (see startXvfb).
import { join } from 'node:path';
import { encodePNGParts, loadSharp } from '../encode';
import { interruptScope } from '../lifecycle';
import { defineCommand, displayOption, EXIT_OK, fail, messageOf, parseIntegerIn } from '../options';
import { writeOutput } from '../output';
import { demoPictureSVG } from '../picture';
import {
  connectDisplay,
  type Display,
  loadMitShm,
  type ShmImage,
  type Xvfb,
  type XWindow,
} from '../xdisplay';

export interface DemoOptions {
  display?: string;
  /** Folder for xshot-demo.png; default: the current folder. */
  cwd?: string;
  /** Puts and captures timed for the rates (default 60 each: about a second on a laptop). */
  rounds?: number;
  /** Then stream the display (the demo's window on it) to browsers until Ctrl-C. */
  stream?: boolean;
  port?: number;
}

/** Size of the private Xvfb when there is no usable display. */
const XVFB_SCREEN = { width: 1280, height: 720, depth: 24 };
export const DEMO_FILE = 'xshot-demo.png';
const XVFB_INSTALL = 'apt-get install -y xvfb   (Debian/Ubuntu; Fedora: dnf install xorg-x11-server-Xvfb)';

export async function demo(options: DemoOptions): Promise<number> {
  const scope = interruptScope();
  let xvfb: Xvfb | undefined;
  let display: Display | undefined;
  let window: XWindow | undefined;
  let picture: ShmImage | undefined;
  try {
    const opened = await openDemoDisplay(options.display);
    if ('exitCode' in opened) return opened.exitCode;
    ({ display, xvfb } = opened);
    const where = xvfb ? `a private Xvfb on ${xvfb.display} (no usable DISPLAY)` : `display ${opened.name}`;
    process.stdout.write(
      `xshot demo on ${where}, ${display.width}x${display.height} depth ${display.depth}\n`,
    );
    process.stdout.write(`transport: ${describeTransport(display)}\n`);
    if (scope.signal.aborted) return EXIT_OK;

    const width = Math.min(640, display.width);
    const height = Math.min(400, display.height);
    picture = display.createImage(width, height);
    const svg = demoPictureSVG(width, height, `made by xshot demo on ${xvfb?.display ?? opened.name}`);
    const rgba = await loadSharp()(Buffer.from(svg)).ensureAlpha().raw().toBuffer();
    picture.fromRGBA(rgba);

    const x = Math.floor((display.width - width) / 2);
    const y = Math.floor((display.height - height) / 2);
    const shownImage = picture;
    const shownWindow = await display.createWindow({ title: 'xshot demo', width, height, x, y });
    window = shownWindow;
    shownWindow.on('expose', (event) => {
      if (event.count === 0) shownImage.put(shownWindow.id).catch(() => {});
    });
    const rounds = options.rounds ?? 60;
    const putRate = await timeRounds(rounds, () => shownImage.put(shownWindow.id));
    if (scope.signal.aborted) return EXIT_OK;

    const screen = display.createImage(display.width, display.height);
    let captureRate: number;
    try {
      captureRate = await timeRounds(rounds, () => screen.get(display!.root, 0, 0));
      const frame = await display.capture();
      const path = join(options.cwd ?? process.cwd(), DEMO_FILE);
      await writeOutput(path, await encodePNGParts(frame));
      process.stdout.write(`wrote ${path} (${frame.width}x${frame.height}, the window included)\n`);
    } finally {
      screen.dispose();
    }
    const megapixels = (display.width * display.height) / 1e6;
    process.stdout.write(
      `capture (ShmGetImage ${display.width}x${display.height}): ${captureRate.toFixed(0)} frames/s, ${(captureRate * megapixels).toFixed(0)} Mpixel/s\n`,
    );
    process.stdout.write(
      `put (ShmPutImage ${width}x${height}, waiting for completion): ${putRate.toFixed(0)} frames/s\n`,
    );
    const name = xvfb?.display ?? opened.name;
    if (scope.signal.aborted) return EXIT_OK;
    if (options.stream) {
      // The demo's window stays up (redrawn on Expose) while viewers watch; Ctrl-C ends both. The stream
      // stops on SIGINT and SIGTERM; a hang-up or quit that stopped the demo's scope stops it the same way.
      const { stream } = require('./stream') as typeof import('./stream');
      const forward = (): void => {
        if (scope.received === 'SIGINT' || scope.received === 'SIGTERM') return; // the stream got it too
        scope.release(); // so that the SIGTERM below reaches the stream, not this scope as a second signal
        process.kill(process.pid, 'SIGTERM');
      };
      scope.signal.addEventListener('abort', forward, { once: true });
      try {
        return await stream({ display: name, ...(options.port !== undefined ? { port: options.port } : {}) });
      } finally {
        scope.signal.removeEventListener('abort', forward);
      }
    }
    // Loaded here: the web server module loads sharp, which `xshot demo --help` has no need for.
    const { DEFAULT_HOST, DEFAULT_PORT } = require('../web/server') as typeof import('../web/server');
    // The stream makes up a token at start; its URL, with the token, is what it prints.
    const url = `the URL it prints (http://${DEFAULT_HOST}:${DEFAULT_PORT}/?token=…)`;
    process.stdout.write(
      xvfb
        ? `watch it live in a browser: xshot demo --stream, then open ${url}\n`
        : `watch this display live in a browser: xshot stream --display ${name}, then open ${url}\n`,
    );
    return EXIT_OK;
  } finally {
    scope.release();
    window?.destroy();
    picture?.dispose();
    await display?.close().catch(() => {});
    await xvfb?.stop();
  }
}

type Opened = { display: Display; xvfb?: Xvfb; name: string } | { exitCode: number };

/** --display, else $DISPLAY if it answers, else a private Xvfb. */
async function openDemoDisplay(requested: string | undefined): Promise<Opened> {
  if (requested) return { display: await connectDisplay(requested), name: requested };
  const current = process.env.DISPLAY;
  if (current) {
    try {
      return { display: await connectDisplay(current), name: current };
    } catch (error) {
      process.stdout.write(
        `DISPLAY=${current} does not answer (${messageOf(error)}); starting a private Xvfb\n`,
      );
    }
  }
  let xvfb: Xvfb;
  try {
    xvfb = await loadMitShm().startXvfb(XVFB_SCREEN);
  } catch (error) {
    const message = messageOf(error);
    if (/not installed|ENOENT/.test(message)) {
      return {
        exitCode: fail(
          `the demo needs an X display or Xvfb, and Xvfb is not installed; run: ${XVFB_INSTALL}`,
        ),
      };
    }
    throw error;
  }
  try {
    return { display: await connectDisplay(xvfb.display), xvfb, name: xvfb.display };
  } catch (error) {
    await xvfb.stop();
    throw error;
  }
}

function describeTransport(display: Display): string {
  const { shm } = display;
  const how =
    shm.transport === 'sysv'
      ? 'System V shared memory, zero-copy'
      : shm.transport === 'memfd'
        ? 'memfd shared memory (MIT-SHM 1.2 AttachFd), zero-copy'
        : 'the X socket (no shared memory)';
  return `${shm.transport}: ${how}${shm.version ? `, MIT-SHM ${shm.version}` : ''}${shm.reason ? ` (${shm.reason})` : ''}`;
}

/** Runs `step` `rounds` times in a row; resolves to rounds per second. */
async function timeRounds(rounds: number, step: () => Promise<void>): Promise<number> {
  await step();
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await step();
  return (rounds * 1000) / (performance.now() - started);
}

export const command = defineCommand({
  args: [],
  options: {
    display: displayOption('X display to use (default: $DISPLAY if it answers, else a private Xvfb)'),
    stream: { type: 'boolean', help: 'then stream the display to browsers until Ctrl-C (see xshot stream)' },
    port: {
      type: 'string',
      value: 'N',
      help: 'port for --stream (default 8080; 0 picks a free one)',
      parse: parseIntegerIn(0, 65535),
    },
  },
  run: (_args, options) => demo(options),
});
