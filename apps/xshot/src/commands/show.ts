// `xshot show --name NAME`: a window titled `show NAME` presenting a frame ring's newest frames.
// Zero-copy: the ring's segment is attached to this display too, and ShmPutImage reads each frame
// straight from its slot, so from capture on one display to presentation on another no pixel passes
// through JavaScript. A frame the producer started to overwrite during the put is put again.
import type { FrameReader, FrameView, PixelFormat } from '@xshm/framebus';
import { fourccOf } from '@xshm/mit-shm/format';
import { interruptScope } from '../lifecycle';
import { defineCommand, displayOption, EXIT_OK, fail, UsageError } from '../options';
import { connectDisplay, type Display, type PixelLayout, type XWindow } from '../xdisplay';

export interface ShowOptions {
  name?: string;
  display?: string;
}

export async function show(options: ShowOptions): Promise<number> {
  if (!options.name)
    throw new UsageError('show needs --name NAME (the ring a producer such as xshot share made)');
  const { FrameRing } = require('@xshm/framebus') as typeof import('@xshm/framebus');
  const scope = interruptScope();
  let reader: FrameReader | undefined;
  let display: Display | undefined;
  let window: XWindow | undefined;
  let detach = (): void => {};
  try {
    reader = FrameRing.open({ name: options.name });
    display = await connectDisplay(options.display);
    const depth = depthFor(reader.format, display);
    const advice = 'run show on a local display in the same IPC namespace as the producer';
    if (!display.shm.available) {
      throw new Error(
        `show puts frames straight from the ring's SysV segment, and ${display.name} shares no memory with us ` +
          `(${display.shm.reason ?? 'no MIT-SHM'}); ${advice}`,
      );
    }
    const here = display;
    const handle = await display
      .attachSegment({ id: reader.id, size: reader.size })
      .catch((error: unknown) => {
        throw new Error(
          `${here.name} cannot attach the ring's SysV segment (${(error as Error).message}); ${advice}`,
        );
      });
    detach = () => handle.detach();

    const closed = new AbortController();
    window = await display.createWindow({
      title: `show ${options.name}`,
      width: reader.width,
      height: reader.height,
    });
    const target = window;
    window.on('close', () => closed.abort());
    // The display dying ends show even while the shared screen is still (no put would fail meanwhile).
    const gone = new AbortController();
    let lost: Error | undefined;
    void display.lost.then((error) => {
      lost = error;
      gone.abort();
    });
    const stop = AbortSignal.any([closed.signal, scope.signal, gone.signal]);
    process.stderr.write(
      `xshot: showing ring "${options.name}" (${reader.width}x${reader.height} ${reader.format}) on ${display.name}: ` +
        "zero-copy, ShmPutImage from the ring's segment. Close the window or Ctrl-C to stop.\n",
    );

    const source = reader;
    const screen = display;
    // Puts the newest frame; again when the producer started overwriting it during the put (it
    // lapped the ring), so what stays on screen is never torn. Serialized: frames and Exposes
    // both paint, one put at a time.
    let painting: Promise<void> = Promise.resolve();
    const paint = (): Promise<void> => {
      painting = painting.then(async () => {
        for (let view: FrameView | null = source.peek(); view && !stop.aborted; view = source.peek()) {
          await screen.putFrom(handle, view.offset, {
            width: view.width,
            height: view.height,
            depth,
            drawable: target.id,
          });
          if (view.intact()) break;
        }
      });
      return painting;
    };
    window.on('expose', (event: { count: number }) => {
      if (event.count === 0) paint().catch(() => {}); // a failing put fails the next frame's paint too
    });
    try {
      for await (const _ of reader.views({ signal: stop })) await paint();
    } catch (error) {
      if (!display.closed) throw error;
      lost ??= error as Error;
    }
    if (lost) return fail(`show: the X server at ${display.name} went away (${lost.message})`);
    const end = reader.end;
    if (
      end &&
      (end.reason === 'producer-closed' || end.reason === 'producer-died' || end.reason === 'ring-removed')
    ) {
      process.stderr.write(`xshot: show: ${end.message}\n`);
      return end.reason === 'producer-closed' ? EXIT_OK : fail(`show ended: ${end.reason}`);
    }
    return EXIT_OK;
  } finally {
    scope.release();
    window?.destroy();
    detach();
    reader?.close();
    await display?.close();
  }
}

/** The depth to put a ring's frames at on `display`: its pixels must be the display's own layout. */
function depthFor(format: PixelFormat, display: Display): number {
  const layout: PixelLayout = display.format;
  const own = fourccOf(display.format);
  // BGRA frames go to a BGRX display as they are: it ignores the fourth byte.
  if (own !== format && !(format === 'BGRA' && own === 'BGRX')) {
    throw new Error(
      `the ring holds ${format} frames and ${display.name} is depth ${layout.depth} (${layout.channels}); ` +
        'show puts frames as they are, with no conversion: use a display of the same depth as the shared one',
    );
  }
  return layout.depth;
}

export const command = defineCommand({
  args: [],
  options: {
    name: {
      type: 'string',
      short: 'n',
      value: 'NAME',
      help: 'the ring to show (as given to xshot share --name)',
    },
    display: displayOption('X display to show it on (default: $DISPLAY)'),
  },
  run: (_args, options) => show(options),
});
