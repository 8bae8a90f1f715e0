// `xshot share --name NAME`: publishes a display (or a region, window or monitor of it) into an
// @xshm/framebus ring that any process can read. Zero-copy when the X server can attach the ring's
// segment: ShmGetImage writes each frame straight into the claimed slot, and no pixel passes
// through JavaScript. Damage-driven: no new frame while nothing on screen changes.
import type { FrameRing, PixelFormat as RingFormat } from '@xshm/framebus';
import type { CaptureOptions } from '@xshm/mit-shm';
import type { Command } from 'commander';
import { interruptScope, sleep } from '../lifecycle';
import {
  action,
  addDisplayOption,
  addFpsOption,
  addSelectionOptions,
  EXIT_OK,
  parseIntegerIn,
  type SelectionOptions,
  UsageError,
} from '../options';
import { type DamageCapableClient, DamageWatch } from '../web/damage';
import { connectDisplay, type Display, type PixelLayout } from '../xdisplay';

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
  let damage: DamageWatch | null = null;
  let detach = (): void => {};
  let progress: (() => void) | undefined;
  let stopWatching = (): void => {};
  try {
    display = await connectDisplay(options.display);
    const selection = { window: options.window, monitor: options.monitor, ...options.region };
    // One ordinary capture tells the size and format of what is shared (a window or monitor has no
    // cheaper way to tell), and proves the selection is valid before any ring exists.
    const first = await display.capture(selection);
    const { width, height } = first;
    const format = ringFormat(first.format);
    first.release();
    const { FrameRing } = require('@xshm/framebus') as typeof import('@xshm/framebus');
    ring = FrameRing.create({ name: options.name, width, height, format, slots: options.slots ?? 3 });

    // Every later capture has exactly this size, so a frame can never spill out of its slot.
    const fixed = { ...selection, x: selection.x ?? 0, y: selection.y ?? 0, width, height };
    const pipe = await openPipe(display, ring, fixed);
    detach = pipe.detach;
    const { path, why } = pipe;

    damage = await DamageWatch.open(
      display.client as unknown as DamageCapableClient,
      options.window ?? display.root,
    );
    process.stdout.write(
      `ring ${ring.name} key=0x${ring.key.toString(16)} id=${ring.id} ${width}x${height} ${format} ` +
        `stride=${ring.stride} slots=${ring.slots} slot_size=${ring.slotSize} data_offset=${ring.slotOffset(0)} ` +
        `path=${path}\n`,
    );
    process.stderr.write(
      `xshot: sharing ${display.name} as ring "${ring.name}": ${path} — ${why}; ` +
        `${damage ? 'new frames on damage' : 'no DAMAGE extension: polling'}, at most ${options.fps} fps. Ctrl-C stops and removes the ring.\n`,
    );

    const interval = 1000 / options.fps;
    // A shared window that is destroyed ends the share: its DAMAGE goes with it, so no change would come.
    // (mit-shm's window capture selected StructureNotify on it, on this connection.)
    const destroyed = new AbortController();
    const onDestroy = (ev: { name?: string; wid?: number }): void => {
      if (ev.name === 'DestroyNotify' && ev.wid === options.window) destroyed.abort();
    };
    if (options.window !== undefined) display.client.on('event', onDestroy);
    stopWatching = () => display?.client.removeListener('event', onDestroy);
    const signal = AbortSignal.any([scope.signal, destroyed.signal]);
    progress = showProgress(ring);
    while (!signal.aborted) {
      const started = performance.now();
      // Subtract before capturing, on the same connection: a change drawn after it is in this
      // capture or reported again, so none is lost between the two requests.
      damage?.subtract();
      try {
        await pipe.capture();
      } catch (error) {
        if (destroyed.signal.aborted) break;
        throw error;
      }
      const rest = interval - (performance.now() - started);
      if (rest > 0) await sleep(rest, signal);
      // Nothing changed, no frame: readers keep the newest one. Without DAMAGE, poll at --fps.
      while (damage && !signal.aborted && !(await damage.waitForDamage(DAMAGE_WAIT_MS, signal))) {}
    }
    if (destroyed.signal.aborted)
      process.stderr.write(
        `xshot: window 0x${options.window!.toString(16)} was destroyed; the ring is removed\n`,
      );
    return EXIT_OK;
  } finally {
    stopWatching();
    progress?.();
    scope.release();
    damage?.close(true);
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
 * Zero-copy when the X server can attach the ring's SysV segment; otherwise a capture into
 * mit-shm's own buffer and one copy into the ring per frame, and the reason.
 */
async function openPipe(display: Display, ring: FrameRing, selection: Selection): Promise<Pipe> {
  let why: string;
  if (display.shm.available && display.shm.transport === 'sysv') {
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
  } else if (display.shm.available) {
    why = `${display.name} shares memory by ${display.shm.transport}, and the ring is a SysV segment it cannot see`;
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

/** The ring format of a captured layout: rings carry 32-bit BGRX/BGRA and 16-bit RGB565. */
function ringFormat(format: PixelLayout): RingFormat {
  switch (format.channels) {
    case 'BGRX':
      return 'BGRX';
    case 'BGRA':
      return 'BGRA';
    case 'RGB565':
      return 'RG16';
    default:
      throw new Error(
        `share: the display's pixels are ${format.channels} (${format.bitsPerPixel} bpp, depth ${format.depth}); ` +
          'a frame ring carries BGRX, BGRA or RGB565 — use a depth 24, 32 or 16 display',
      );
  }
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

export function register(program: Command): void {
  const command = program
    .command('share')
    .description('publish a display into a shared-memory frame ring that other processes read')
    .option('-n, --name <name>', 'the ring name readers open (e.g. desktop)')
    .option('--slots <n>', 'frames the ring holds (2-63)', parseIntegerIn(2, 63), 3);
  addDisplayOption(command);
  addSelectionOptions(command);
  addFpsOption(command, 30);
  command.action(action((options: ShareOptions) => share(options)));
}
