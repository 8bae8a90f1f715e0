// XTEST input, the CLIPBOARD selection and the cursor shape on a real Xvfb, checked with tools no one here
// wrote: xdotool reads the pointer, an xterm's shell writes what was typed to a file, a second connection
// reads the clipboard, and a window of our own reports the keycodes and Shift state it receives.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Clipboard,
  connect,
  cursorShape,
  type Display,
  type Input,
  type KeyPress,
  keysymOf,
  openClipboard,
  openInput,
  readKeymap,
  watchCursor,
} from '../src';
import { scratch, spawnXvfb } from './helpers';

jest.setTimeout(30_000);

let server: { display: string; stop(): Promise<void> };
let display: Display;
let input: Input;

beforeAll(async () => {
  server = await spawnXvfb(['-screen', '0', '640x480x24']);
  display = await connect({ display: server.display });
  input = await openInput(display);
});

afterAll(async () => {
  await input?.close();
  await display?.close();
  await server?.stop();
});

function until<T>(what: string, probe: () => T | null | undefined | false, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const value = probe();
      if (value) resolve(value);
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

test('move() puts the pointer where xdotool then finds it', async () => {
  for (const [x, y] of [
    [123, 45],
    [639, 479],
    [0, 0],
  ] as const) {
    input.move(x, y);
    await input.flush();
    const where = execFileSync('xdotool', ['getmouselocation'], {
      env: { ...process.env, DISPLAY: server.display },
    })
      .toString()
      .trim();
    expect(where).toMatch(new RegExp(`^x:${x} y:${y} `));
  }
});

test('keysym() presses the keycode of its level, with Shift exactly when the level needs it', async () => {
  const window = await display.createWindow({ width: 200, height: 100, x: 0, y: 0 });
  const presses: KeyPress[] = [];
  window.on('keypress', (key) => presses.push(key));
  input.move(50, 50); // no window manager: keyboard focus follows the pointer (PointerRoot)
  await input.flush();
  await input.type('aB!1');
  await input.flush();
  await until('4 key presses', () => presses.filter((p) => p.key !== 'keysym-0xffe1').length >= 4);
  const keymap = await readKeymap(display);
  const shiftMask = 1;
  const typed = presses.filter((p) => p.key !== 'keysym-0xffe1');
  expect(typed.map((p) => [p.key, p.state & shiftMask])).toEqual([
    ['a', 0],
    ['b', shiftMask],
    ['1', shiftMask],
    ['1', 0],
  ]);
  expect(presses[0]!.keycode).toBe(keymap.find(keysymOf('a'))!.keycode);

  // Shift held by the user is lifted for a character on level 0, and kept for a function key.
  const shift = keymap.find(0xffe1)!.keycode;
  presses.length = 0;
  input.key(shift, true);
  await input.keysym(keysymOf('1'), true);
  await input.keysym(keysymOf('1'), false);
  await input.keysym(0xff09, true); // Tab
  await input.keysym(0xff09, false);
  input.key(shift, false);
  await input.flush();
  await until('2 key presses', () => presses.filter((p) => p.key !== 'keysym-0xffe1').length >= 2);
  expect(presses.filter((p) => p.key !== 'keysym-0xffe1').map((p) => [p.key, p.state & shiftMask])).toEqual([
    ['1', 0],
    ['Tab', shiftMask],
  ]);
  window.destroy();
});

test('a keysym missing from the keymap goes through a spare keycode, given back on close()', async () => {
  const euro = keysymOf('€');
  const before = await readKeymap(display);
  expect(before.find(euro)).toBeNull();
  const second = await openInput(display);
  await second.keysym(euro, true);
  await second.keysym(euro, false);
  await second.flush();
  const during = await readKeymap(display);
  const bound = during.find(euro);
  expect(bound).not.toBeNull();
  expect(before.keysyms(bound!.keycode)).toEqual([]);
  await second.close();
  const after = await readKeymap(display);
  expect(after.find(euro)).toBeNull();
  expect(after.spareKeycodes()).toEqual(before.spareKeycodes());
});

describe('an xterm', () => {
  let xterm: ReturnType<typeof spawn>;
  const out = join(scratch, 'typed.txt');

  beforeAll(async () => {
    // The shell reads one line and writes it out byte for byte: what arrives is exactly what was typed.
    xterm = spawn(
      'xterm',
      [
        '-geometry',
        '80x10+0+0',
        '-u8',
        '-e',
        'sh',
        '-c',
        `IFS= read -r line; printf %s "$line" > ${out}; exec sleep 600`,
      ],
      {
        env: { ...process.env, DISPLAY: server.display, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
        stdio: 'ignore',
      },
    );
    await until('the xterm window', () => {
      try {
        return execFileSync('xdotool', ['search', '--onlyvisible', '--class', 'xterm'], {
          env: { ...process.env, DISPLAY: server.display },
        })
          .toString()
          .trim();
      } catch {
        return null;
      }
    });
  });

  afterAll(() => {
    xterm?.kill();
  });

  test('receives typed text exactly: shifted, Latin-1 and characters the keymap lacks', async () => {
    input.move(100, 60);
    await input.flush();
    const text = 'Hello, World! ~|{}"<>? é ß € ✓ Ω';
    await input.type(`${text}\n`);
    await input.flush();
    await until(
      'the xterm shell to write the line',
      () => existsSync(out) && readFileSync(out, 'utf8'),
    ).catch(() => {});
    expect(readFileSync(out, 'utf8')).toBe(text);
  });

  test('the cursor shape over it (an I-beam) differs from the root window one, and watchCursor reports it', async () => {
    input.move(639, 479); // below the 10-line xterm
    await input.flush();
    const shapes: number[] = [];
    const stop = await watchCursor(display, (shape) => shapes.push(shape.serial));
    const first = await cursorShape(display);
    expect(first.rgba.length).toBe(first.width * first.height * 4);
    expect([...first.rgba].some((v, i) => i % 4 === 3 && v === 255)).toBe(true);
    expect(shapes).toEqual([first.serial]);
    input.move(20, 20);
    await input.flush();
    await until('a new cursor shape', () => shapes.length >= 2);
    const over = await cursorShape(display);
    expect(over.serial).not.toBe(first.serial);
    expect(over.rgba.equals(first.rgba)).toBe(false);
    stop();
  });
});

describe('the CLIPBOARD selection between two connections', () => {
  let other: Display;
  let ours: Clipboard;
  let theirs: Clipboard;

  beforeAll(async () => {
    other = await connect({ display: server.display });
    ours = await openClipboard(display);
    theirs = await openClipboard(other);
  });

  afterAll(async () => {
    await ours?.close();
    await theirs?.close();
    await other?.close();
  });

  test('text written on one connection is read on the other, UTF-8 intact, and the owner change is reported', async () => {
    let changes = 0;
    const stop = theirs.onChange(() => changes++);
    const text = 'copied: héllo ✓ — 🙂\nsecond line';
    await ours.write(text);
    expect(ours.owned).toBe(true);
    await until('the owner change', () => changes >= 1);
    expect(await theirs.read()).toBe(text);
    stop();
  });

  test('the other way round: writing there takes the clipboard from us', async () => {
    await theirs.write('from the other side');
    await until('our SelectionClear', () => !ours.owned);
    expect(await ours.read()).toBe('from the other side');
  });

  test('no owner: read() is null; too much text is refused before anything is sent', async () => {
    await theirs.close();
    await until('the owner to go', async () => true);
    expect(await ours.read(500)).toBeNull();
    await expect(ours.write('x'.repeat(300 * 1024))).rejects.toThrow(/more than the 204800/);
  });
});
