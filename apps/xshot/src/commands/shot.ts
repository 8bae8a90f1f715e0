// `xshot shot [FILE|-]`: one screenshot of the screen, a region, a monitor or a window, as PNG, JPEG, WebP,
// AVIF or raw RGBA, encoded straight from the frame's shared memory.
import {
  type EncodedImage,
  encodeImage,
  encodePNGParts,
  formatFromName,
  formatFromPath,
  IMAGE_FORMATS,
  type ImageFormat,
} from '../encode';
import { interruptScope } from '../lifecycle';
import {
  defineCommand,
  displayOption,
  EXIT_OK,
  parseIntegerIn,
  type SelectionOptions,
  selectionOptions,
  UsageError,
} from '../options';
import { freshDefaultPath, refuseTerminal, writeOutput } from '../output';
import { findWindowByName } from '../windows';
import { connectDisplay, type Display } from '../xdisplay';

export interface ShotOptions extends SelectionOptions {
  format?: string;
  quality?: number;
  windowName?: string;
  cursor?: boolean;
  /** Say on stderr which encoder wrote the file (and why, when it is a fallback). */
  verbose?: boolean;
  /** Folder for the default file name; default: the current folder. */
  cwd?: string;
}

/** Takes one shot; resolves to the exit code. `file` '-' is stdout; undefined is a fresh default name. */
export async function shot(file: string | undefined, options: ShotOptions): Promise<number> {
  const format = chooseFormat(file, options.format);
  if (options.window !== undefined && options.windowName !== undefined) {
    throw new UsageError('--window and --window-name both name a window; give one');
  }
  if (options.monitor !== undefined && (options.window !== undefined || options.windowName !== undefined)) {
    throw new UsageError('--monitor selects part of the screen, not of a window; drop --monitor or --window');
  }
  const target = file ?? freshDefaultPath(options.cwd ?? process.cwd(), new Date(), extensionOf(format));
  const scope = interruptScope();
  let display: Display | undefined;
  try {
    display = await connectDisplay(options.display);
    const window =
      options.windowName !== undefined ? await findWindowByName(display, options.windowName) : options.window;
    const selection = { window, monitor: options.monitor, cursor: options.cursor, ...options.region };
    let encoded: EncodedImage;
    try {
      // PNG is encoded row by row, so it takes the capture in strips: packing and deflating start with the
      // first rows, and little fresh shared memory is mapped (see Display.strips).
      encoded =
        format === 'png'
          ? {
              parts: await encodePNGParts(untilAborted(display.strips(selection), scope.signal)),
              encoder: 'node:zlib',
            }
          : await encodeImage(await display.capture(selection), format, { quality: options.quality });
    } catch (error) {
      if (scope.signal.aborted) return EXIT_OK;
      throw error;
    }
    if (scope.signal.aborted) return EXIT_OK;
    const data = encoded.parts;
    if (options.verbose) {
      const bytes = data.reduce((sum, part) => sum + part.length, 0);
      process.stderr.write(`xshot: ${format} by ${encoded.encoder}, ${(bytes / 1024).toFixed(0)} KiB\n`);
    }
    // The frame is encoded: the file write (opened and written on libuv's threads) and the display's
    // goodbye overlap. Write first: closing runs ~1-2 ms of JavaScript that the open need not wait for.
    const writing = writeOutput(target, data);
    const closing = display.close();
    await Promise.all([writing, closing]);
    if (file === undefined) process.stdout.write(`${target}\n`);
    return EXIT_OK;
  } finally {
    scope.release();
    await display?.close();
  }
}

/** The strips until `signal` aborts: then the capture ends early (releasing the server and its memory). */
async function* untilAborted<T>(strips: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  for await (const strip of strips) {
    if (signal.aborted) return;
    yield strip;
  }
}

function chooseFormat(file: string | undefined, name: string | undefined): ImageFormat {
  if (name !== undefined) {
    const format = formatFromName(name);
    if (!format) throw new UsageError(`--format '${name}' is not one of ${IMAGE_FORMATS.join(', ')}`);
    return format;
  }
  if (file === undefined || file === '-') return 'png';
  const format = formatFromPath(file);
  if (!format) {
    throw new UsageError(
      `cannot tell the format of '${file}' from its extension; use .png, .jpg, .webp, .avif or .raw, or --format`,
    );
  }
  return format;
}

function extensionOf(format: ImageFormat): string {
  return format === 'jpeg' ? 'jpg' : format;
}

export const command = defineCommand({
  args: [{ name: 'FILE|-', help: "output file, '-' for stdout (default: xshot-YYYYMMDD-HHMMSS.png here)" }],
  options: {
    format: {
      type: 'string',
      short: 'f',
      value: 'NAME',
      help: `image format: ${IMAGE_FORMATS.join(', ')} (default: from FILE)`,
    },
    quality: {
      type: 'string',
      short: 'q',
      value: 'N',
      help: 'quality 1-100 for jpeg, webp and avif',
      parse: parseIntegerIn(1, 100),
    },
    windowName: { type: 'string', short: 'n', value: 'TEXT', help: 'the window whose title contains TEXT' },
    cursor: { type: 'boolean', short: 'c', help: 'include the mouse cursor' },
    force: { type: 'boolean', help: "write the image to stdout ('-') even when it is a terminal" },
    verbose: {
      type: 'boolean',
      short: 'v',
      help: 'say on stderr which encoder wrote the file, and why when it is a fallback',
    },
    display: displayOption(),
    ...selectionOptions,
  },
  run: ([file], { force, ...options }) => {
    refuseTerminal(file, force);
    return shot(file, options);
  },
});
