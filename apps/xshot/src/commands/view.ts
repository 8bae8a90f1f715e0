// `xshot view IMAGE...`: shows images 1:1 (scaled down only when larger than the screen) in an X window
// through ShmPutImage; arrows page through them, q or Escape closes, Ctrl-C/SIGTERM exit 0 cleanly.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { loadSharp } from '../encode';
import { aborted, interruptScope } from '../lifecycle';
import { defineCommand, displayOption, EXIT_OK, fail } from '../options';
import { readStdin } from '../output';
import { connectDisplay, type Display, type ShmImage, type XWindow } from '../xdisplay';

export interface ViewOptions {
  display?: string;
}

/** A decoded picture, sized for the screen, in the server's layout. */
interface Shown {
  file: string;
  image: ShmImage;
  /** Size before scaling to the screen. */
  original: { width: number; height: number };
}

/** Decodes `file` (or `source`, its bytes) with sharp, fits it inside width x height, into a new ShmImage. */
export async function loadPicture(
  display: Display,
  file: string,
  maxWidth: number,
  maxHeight: number,
  source: string | Buffer = file,
) {
  const sharp = loadSharp();
  let decoded: { data: Buffer; info: { width: number; height: number } };
  let original: { width: number; height: number };
  try {
    const input = sharp(source, { failOn: 'error' }).rotate();
    const meta = await input.metadata();
    const upright = (meta.orientation ?? 1) >= 5;
    original = upright
      ? { width: meta.height ?? 0, height: meta.width ?? 0 }
      : { width: meta.width ?? 0, height: meta.height ?? 0 };
    const fits = original.width <= maxWidth && original.height <= maxHeight;
    const pipeline = fits ? input : input.resize({ width: maxWidth, height: maxHeight, fit: 'inside' });
    decoded = await pipeline.ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new Error(
      `${file} is not an image xshot can read (${(error as Error).message}); try png, jpeg, webp, avif, gif or tiff`,
    );
  }
  const { width, height } = decoded.info;
  const image = display.createImage(width, height);
  try {
    image.fromRGBA(decoded.data);
  } catch (error) {
    image.dispose();
    throw error;
  }
  return { file, image, original } satisfies Shown;
}

export async function view(files: string[], options: ViewOptions): Promise<number> {
  for (const file of files) {
    if (file === '-') continue;
    const info = await stat(file).catch(() => {
      throw new Error(`cannot open ${file}: no such file or not readable`);
    });
    // sharp opens a path in a libvips thread: on a FIFO with no writer that open never returns, and
    // neither Ctrl-C nor SIGTERM can end the process. A stream of bytes comes in through stdin instead.
    if (!info.isFile())
      throw new Error(
        `cannot show ${file}: it is ${info.isDirectory() ? 'a directory' : 'not a regular file (a pipe or device)'}; ` +
          `give an image file, or pipe the bytes in: xshot view - < ${file}`,
      );
  }
  // '-' is an image on stdin, read once (paging back to it shows the same picture).
  const stdin = files.includes('-') ? await readStdin() : undefined;
  const scope = interruptScope();
  let display: Display | undefined;
  let window: XWindow | undefined;
  let shown: Shown | undefined;
  try {
    display = await connectDisplay(options.display);
    const screen = display;
    let index = 0;
    const load = (file: string) =>
      loadPicture(screen, file, screen.width, screen.height, file === '-' && stdin ? stdin : file);
    shown = await load(files[0]!);

    const closed = new AbortController();
    const pending = new Set<Promise<void>>();
    let paging = Promise.resolve();
    const draw = (): void => {
      const current = shown;
      if (!current || !window) return;
      const drawing = current.image.put(window.id).catch(() => {});
      pending.add(drawing);
      void drawing.then(() => pending.delete(drawing));
    };
    const page = (step: number): void => {
      if (files.length < 2) return;
      paging = paging.then(async () => {
        index = (index + step + files.length) % files.length;
        const next = await load(files[index]!);
        shown?.image.dispose();
        shown = next;
        if (!window) return;
        window.resize(next.image.width, next.image.height);
        await window.setTitle(titleOf(next, index, files.length));
        draw();
      });
      // A file that fails to load is reported and skipped; the chain stays usable for the next key.
      paging = paging.catch((error: unknown) => {
        process.stderr.write(`xshot: ${(error as Error).message}\n`);
      });
    };
    window = await screen.createWindow({
      title: titleOf(shown, 0, files.length),
      width: shown.image.width,
      height: shown.image.height,
      // Centred; a window manager, if there is one, places it as it likes.
      x: Math.floor((screen.width - shown.image.width) / 2),
      y: Math.floor((screen.height - shown.image.height) / 2),
    });
    window.on('expose', (event) => {
      if (event.count === 0) draw();
    });
    // The first Expose can arrive before createWindow resolves and these listeners exist: draw once now.
    draw();
    window.on('close', () => closed.abort());
    window.on('keypress', ({ key }) => {
      if (key === 'q' || key === 'Escape') closed.abort();
      else if (['Right', 'Down', 'Page_Down', ' '].includes(key)) page(1);
      else if (['Left', 'Up', 'Page_Up'].includes(key)) page(-1);
    });
    process.stdout.write(
      `window 0x${window.id.toString(16)}: ${shown.file} ${shown.image.width}x${shown.image.height}\n`,
    );
    const lost = await Promise.race([
      aborted(closed.signal).then(() => null),
      aborted(scope.signal).then(() => null),
      screen.lost,
    ]);
    if (lost) return fail(`view: the X server at ${screen.name} went away (${lost.message})`);
    await paging;
    await Promise.all([...pending]);
    return EXIT_OK;
  } finally {
    scope.release();
    window?.destroy();
    shown?.image.dispose();
    await display?.close();
  }
}

function titleOf(shown: Shown, index: number, count: number): string {
  const { width, height } = shown.image;
  const scaled =
    width !== shown.original.width ? ` scaled from ${shown.original.width}x${shown.original.height}` : '';
  const position = count > 1 ? ` [${index + 1}/${count}]` : '';
  return `${basename(shown.file)} (${width}x${height}${scaled})${position} - xshot view`;
}

export const command = defineCommand({
  args: [
    {
      name: 'IMAGE',
      required: true,
      variadic: true,
      help: "image files (png, jpeg, webp, avif, gif, tiff, svg); '-' reads one from stdin",
    },
  ],
  options: { display: displayOption() },
  run: (files, options) => view(files, options),
});
