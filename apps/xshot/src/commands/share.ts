// `xshot share --name NAME`: publishes a display (or a region, window or monitor of it) into an
// @xshm/framebus ring that any process can read. Zero-copy when the X server can attach the ring's
// segment: ShmGetImage writes each frame straight into the claimed slot, and no pixel passes
// through JavaScript. Damage-driven: no new frame while nothing on screen changes.
import type { FrameRing } from '@xshm/framebus';
import type { CaptureOptions, ChangeWatch } from '@xshm/mit-shm';
import { fourccOf } from '@xshm/mit-shm/format';
import { interruptScope, sleep } from '../lifecycle';
import {
  defineCommand,
  displayOption,
  EXIT_OK,
  fail,
  fpsOption,
  parseIntegerIn,
  type SelectionOptions,
  selectionOptions,
  UsageError,
} from '../options';
import { connectDisplay, type Display } from '../xdisplay';

export interface ShareOptions extends SelectionOptions {
  name?: string;
  fps: number;
  slots?: number;
}

/** How frames get into the ring, for the summary line. */
type SharePath = 'zero-copy' | 'copy';

/** How long one wait for damage lasts before it is simply renewed (nothing is captured meanwhile). */
const DAMAGE_WAIT_MS = 60_000;

export async function share(options: ShareOptions): Promise<number> {
  if (!options.name)
    throw new UsageError('share needs --name NAME (the ring readers open, e.g. --name desktop)');
  if (options.window !== undefined && options.monitor !== undefined) {
    throw new UsageError('--monitor selects part of the screen, not of a window; drop --monitor or --window');
  }
  const scope = interruptScope();
  let display: Display | undefined;
  let ring: FrameRing | undefined;
  let changes: ChangeWatch | undefined;
  let detach = (): void => {};
  let progress: (() => void) | undefined;
  try {
    display = await connectDisplay(options.display);
    const selection = { window: options.window, monitor: options.monitor, ...options.region };
    // One ordinary capture tells the size and format of what is shared (a window or monitor has no
    // cheaper way to tell), and proves the selection is valid before any ring exists.
    const first = await display.capture(selection);
    const { width, height, stride } = first;
    const format = fourccOf(first.format);
    first.release();
    if (!format) {
      throw new Error(
        `share: the display's pixels are ${first.format.channels} (${first.format.bitsPerPixel} bpp, depth ${first.format.depth}), ` +
          'which a frame ring has no code for — use a depth 24, 32 or 16 display',
      );
    }
    const { FrameRing } = require('@xshm/framebus') as typeof import('@xshm/framebus');
    ring = FrameRing.create({ name: options.name, width, height, format, slots: options.slots ?? 3 });

    // Every later capture has exactly this size, so a frame can never spill out of its slot.
    const fixed = { ...selection, x: selection.x ?? 0, y: selection.y ?? 0, width, height };
    const pipe = await openPipe(display, ring, fixed, stride);
    detach = pipe.detach;
    const { path, why } = pipe;

    changes = await display.watchChanges(options.window !== undefined ? { drawable: options.window } : {});
    const damage = changes.mode === 'damage' ? changes : null;
    process.stdout.write(
      `ring ${ring.name} key=0x${ring.key.toString(16)} id=${ring.id} ${width}x${height} ${format} ` +
        `stride=${ring.stride} slots=${ring.slots} slot_size=${ring.slotSize} data_offset=${ring.slotOffset(0)} ` +
        `path=${path}\n`,
    );
    process.stderr.write(
      `xshot: sharing ${display.name} as ring "${ring.name}": ${path} — ${why}; ` +
        `${damage ? 'new frames on damage' : `polling (${changes.reason})`}, at most ${options.fps} fps. Ctrl-C stops and removes the ring.\n`,
    );

    const interval = 1000 / options.fps;
    // The X server going away ends an idle share too (no capture would fail while nothing changes).
    const gone = new AbortController();
    let lost: Error | undefined;
    void display.lost.then((error) => {
      lost = error;
      gone.abort();
    });
    const signal = AbortSignal.any([scope.signal, gone.signal]);
    let destroyed = false;
    progress = showProgress(ring);
    try {
      while (!signal.aborted) {
        const started = performance.now();
        // Re-arm before capturing, on the same connection: a change drawn after it is in this
        // capture or reported again, so none is lost between the two requests.
        changes.take();
        try {
          await pipe.capture();
        } catch (error) {
          // A shared window that is destroyed ends the share: its watch wakes once more, and the capture
          // finds no window. Nothing more would ever change.
          if (options.window !== undefined && isGone(error)) {
            destroyed = true;
            break;
          }
          throw error;
        }
        const rest = interval - (performance.now() - started);
        if (rest > 0) await sleep(rest, signal);
        // Nothing changed, no frame: readers keep the newest one. A polling watch answers at once.
        while (!signal.aborted && !(await changes.changed(DAMAGE_WAIT_MS, signal))) {}
      }
    } catch (error) {
      // A capture that failed because the server died says so through `lost` (and exits 1 below).
      if (!display.closed) throw error;
      lost ??= error as Error;
    }
    if (lost)
      return fail(`share: the X server at ${display.name} went away (${lost.message}); the ring is removed`);
    // A shared window that goes away ends the share as a failure, as the X server going away does: a
    // script waiting on `share` learns that its frames stopped for a reason other than its own Ctrl-C.
    if (destroyed)
      return fail(`share: window 0x${options.window!.toString(16)} was destroyed; the ring is removed`);
    return EXIT_OK;
  } finally {
    progress?.();
    scope.release();
    changes?.close();
    detach();
    ring?.close();
    await display?.close();
  }
}

interface Pipe {
  path: SharePath;
  why: string;
  /** Captures one frame into the ring and commits it. */
  capture(): Promise<void>;
  detach(): void;
}

type Selection = Omit<CaptureOptions, 'cursor'>;

/**
 * Zero-copy when the X server can attach the ring's SysV segment (it shares memory with us, by either
 * transport, and sees our IPC namespace); otherwise a capture into mit-shm's own buffer and one copy
 * into the ring per frame, and the reason.
 */
async function openPipe(
  display: Display,
  ring: FrameRing,
  selection: Selection,
  captureStride: number,
): Promise<Pipe> {
  let why: string;
  if (captureStride !== ring.stride) {
    // ShmGetImage writes rows at the server's scanline pad; a slot's rows are the ring's stride.
    why = `the server's rows are ${captureStride} bytes and the ring's ${ring.stride}, so a capture cannot land in a slot`;
  } else if (display.shm.available) {
    try {
      const handle = await display.attachSegment(ring.segment);
      return {
        path: 'zero-copy',
        why: "ShmGetImage writes each frame straight into the ring's slot",
        async capture() {
          const claim = ring.claim();
          try {
            await display.captureInto(handle, claim.offset, selection);
          } catch (error) {
            claim.cancel();
            throw error;
          }
          claim.commit();
        },
        detach: () => handle.detach(),
      };
    } catch (error) {
      why = `the X server could not attach the ring's segment (${(error as Error).message})`;
    }
  } else {
    why = `no shared memory with ${display.name}${display.shm.reason ? ` (${display.shm.reason})` : ''}`;
  }
  return {
    path: 'copy',
    why: `one copy per frame: ${why}`,
    async capture() {
      const frame = await display.capture(selection);
      try {
        ring.publish({ data: frame.data, stride: frame.stride });
      } finally {
        frame.release();
      }
    },
    detach() {},
  };
}

/** The errors of a window that no longer exists. */
function isGone(error: unknown): boolean {
  const code = (error as { name?: string; error?: string }).error;
  return (error as Error).name === 'XError' && (code === 'BadWindow' || code === 'BadDrawable');
}

/** On a terminal, a status line with the frames published, once a second; returns its stop. */
function showProgress(ring: FrameRing): () => void {
  if (!process.stderr.isTTY) return () => {};
  let last = ring.frames;
  const timer = setInterval(() => {
    const frames = ring.frames;
    process.stderr.write(`\r\x1b[Kxshot: ${frames} frames published, ${frames - last} in the last second`);
    last = frames;
  }, 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write('\n');
  };
}

export const command = defineCommand({
  args: [],
  options: {
    name: { type: 'string', short: 'n', value: 'NAME', help: 'the ring name readers open (e.g. desktop)' },
    slots: {
      type: 'string',
      value: 'N',
      help: 'frames the ring holds (2-63)',
      parse: parseIntegerIn(2, 63),
      default: 3,
    },
    display: displayOption(),
    ...selectionOptions,
    fps: fpsOption(30),
  },
  run: (_args, options) => share(options),
});
