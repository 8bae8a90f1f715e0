// `xshot mirror --from A --to B`: a window on display B titled `mirror A` that shows A (or a region of it)
// live. Zero-copy when one segment can be attached to both servers (ShmGetImage from A into it, ShmPutImage
// to B from it); otherwise one Buffer.copy per frame between two images, and it says so.
import { interruptScope, sleep } from '../lifecycle';
import { defineCommand, EXIT_OK, fpsOption, parseRegion, type Region, UsageError } from '../options';
import { connectDisplay, type Display, type ShmImage, type XWindow } from '../xdisplay';

export interface MirrorOptions {
  from?: string;
  to?: string;
  fps: number;
  region?: Region;
}

/** How frames travel from A to B, for the status line. */
export type MirrorPath = 'zero-copy' | 'copy';

/** One image per side, and how to move a frame from A's to B's. */
interface Pipe {
  path: MirrorPath;
  reason: string;
  source: ShmImage;
  target: ShmImage;
  dispose(): void;
}

export async function mirror(options: MirrorOptions): Promise<number> {
  if (!options.from) throw new UsageError('mirror needs --from DISPLAY (the display to show)');
  if (!options.to) throw new UsageError('mirror needs --to DISPLAY (the display to show it on)');
  const scope = interruptScope();
  let from: Display | undefined;
  let to: Display | undefined;
  let window: XWindow | undefined;
  let pipe: Pipe | undefined;
  try {
    from = await connectDisplay(options.from);
    to = await connectDisplay(options.to);
    const region = options.region ?? { x: 0, y: 0, width: from.width, height: from.height };
    if (region.x + region.width > from.width || region.y + region.height > from.height) {
      throw new RangeError(
        `--region ${region.x},${region.y},${region.width},${region.height} is outside ${options.from} (${from.width}x${from.height})`,
      );
    }
    // 1:1 from the top-left: what does not fit on B is cut, never scaled.
    const width = Math.min(region.width, to.width);
    const height = Math.min(region.height, to.height);
    pipe = await openPipe(from, to, width, height);
    process.stderr.write(
      `xshot: mirror ${options.from} -> ${options.to} ${width}x${height}: ${pipe.path} (${pipe.reason})\n`,
    );

    const closed = new AbortController();
    window = await to.createWindow({ title: `mirror ${options.from}`, width, height });
    window.on('close', () => closed.abort());
    const stop = AbortSignal.any([closed.signal, scope.signal]);
    const interval = 1000 / options.fps;
    const progress = process.stderr.isTTY ? new RateLine('mirror') : undefined;
    while (!stop.aborted) {
      const started = performance.now();
      await pipe.source.get(from.root, region.x, region.y);
      if (pipe.path === 'copy') pipe.source.data.copy(pipe.target.data);
      await pipe.target.put(window.id);
      progress?.count(started);
      const rest = interval - (performance.now() - started);
      if (rest > 0) await sleep(rest, stop);
    }
    progress?.end();
    return EXIT_OK;
  } finally {
    scope.release();
    window?.destroy();
    pipe?.dispose();
    await to?.close();
    await from?.close();
  }
}

/** A ShmImage on A attached to B too when both are local; else two images and a copy per frame. */
async function openPipe(from: Display, to: Display, width: number, height: number): Promise<Pipe> {
  const source = from.createImage(width, height);
  if (from.shm.available && to.shm.available) {
    try {
      const target = await to.attachImage(source);
      return {
        path: 'zero-copy',
        reason: `one ${from.shm.transport} segment attached to both servers; no pixel passes through JavaScript`,
        source,
        target,
        dispose() {
          target.dispose();
          source.dispose();
        },
      };
    } catch (error) {
      return copyPipe(source, to, width, height, `shared attach failed: ${(error as Error).message}`);
    }
  }
  const why = !from.shm.available ? from.shm.reason : to.shm.reason;
  return copyPipe(source, to, width, height, `no shared memory on both sides${why ? `: ${why}` : ''}`);
}

function copyPipe(source: ShmImage, to: Display, width: number, height: number, why: string): Pipe {
  const target = to.createImage(width, height);
  if (source.format.bitsPerPixel !== target.format.bitsPerPixel || source.stride !== target.stride) {
    source.dispose();
    target.dispose();
    throw new Error(
      `the two displays lay pixels out differently (${source.format.channels} vs ${target.format.channels}); mirror needs the same depth on both`,
    );
  }
  return {
    path: 'copy',
    reason: `one Buffer.copy per frame; ${why}`,
    source,
    target,
    dispose() {
      source.dispose();
      target.dispose();
    },
  };
}

/** A status line on a TTY, rewritten once a second: frames per second and the time one frame takes. */
class RateLine {
  private frames = 0;
  private busy = 0;
  private since = performance.now();
  constructor(private readonly label: string) {}

  count(started: number): void {
    const now = performance.now();
    this.frames++;
    this.busy += now - started;
    if (now - this.since < 1000) return;
    const fps = (this.frames * 1000) / (now - this.since);
    process.stderr.write(
      `\r${this.label}: ${fps.toFixed(1)} frames/s, ${(this.busy / this.frames).toFixed(2)} ms a frame (Ctrl-C stops) `,
    );
    this.frames = 0;
    this.busy = 0;
    this.since = now;
  }

  end(): void {
    process.stderr.write('\n');
  }
}

export const command = defineCommand({
  args: [],
  options: {
    from: { type: 'string', value: 'DISPLAY', help: 'the display to show, e.g. :1' },
    to: {
      type: 'string',
      value: 'DISPLAY',
      help: 'the display to show it on, e.g. :0 (default: --display, then $DISPLAY)',
    },
    region: {
      type: 'string',
      short: 'r',
      value: 'X,Y,W,H',
      help: 'a rectangle of display A',
      parse: parseRegion,
    },
    display: { type: 'string', short: 'd', value: 'NAME', help: 'same as --to' },
    fps: fpsOption(30),
  },
  run: (_args, options) => mirror({ ...options, to: options.to ?? options.display ?? process.env.DISPLAY }),
});
