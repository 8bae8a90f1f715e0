// The remote desktop's tile bookkeeping and encoding without X: which tiles a change marks, how they merge
// into rectangles that cover exactly them, which pixels of a capture really changed, how rectangles are
// judged, packed as palettes, and laid out in an update. The page's decoding of them is desktop.test.ts's.
import { createDeflate, createInflate } from 'node:zlib';
import sharp from 'sharp';
import {
  deflatePiece,
  encodePalette,
  encodeRect,
  halfSize,
  looksLikeScreen,
  paletteBits,
  updateMessage,
  updateParts,
  varint,
} from '../src/web/remote/encode-tile';
import { findScroll } from '../src/web/remote/scroll';
import { MAX_BAND_TILES, rgbOfWords, ScreenCopy, TILE, TileSet } from '../src/web/remote/tiles';

function covered(set: TileSet): Set<string> {
  const tiles = new Set<string>();
  for (const rect of set.rects())
    for (let y = rect.y; y < rect.y + rect.height; y += TILE)
      for (let x = rect.x; x < rect.x + rect.width; x += TILE) {
        const key = `${x / TILE},${y / TILE}`;
        expect(tiles.has(key)).toBe(false); // no tile twice
        tiles.add(key);
      }
  return tiles;
}

test('rects() covers exactly the marked tiles, once each, whatever the pattern', () => {
  const set = new TileSet(1920, 1080);
  let seed = 7;
  for (let i = 0; i < 200; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    set.addTile(seed % set.columns, (seed >> 8) % set.rows);
  }
  const expected = new Set<string>();
  for (let row = 0; row < set.rows; row++)
    for (let column = 0; column < set.columns; column++)
      if (set.has(column, row)) expected.add(`${column},${row}`);
  expect(covered(set)).toEqual(expected);
});

test('the whole screen becomes a few full-width bands; a damaged rectangle marks every tile it touches', () => {
  const set = new TileSet(1920, 1080);
  set.fill();
  const bands = set.rects();
  expect(bands.every((r) => r.x === 0 && r.width === 1920 && r.height <= MAX_BAND_TILES * TILE)).toBe(true);
  expect(bands.reduce((sum, r) => sum + r.height, 0)).toBe(1080);
  const one = new TileSet(1920, 1080);
  one.addRect({ x: 60, y: 10, width: 10, height: 60 });
  expect(one.rects()).toEqual([{ x: 48, y: 0, width: 32, height: 80 }]);
});

/** A width x height BGRX buffer (4 bytes a pixel, 0x00RRGGBB little-endian) filled with `colour`. */
function bgrx(width: number, height: number, colour: number): Buffer {
  const words = new Uint32Array(width * height).fill(colour);
  return Buffer.from(words.buffer);
}

test('ScreenCopy.update reports only the pixels that changed, as tiles with boxes, and crops to them', () => {
  const screen = new ScreenCopy(200, 100);
  const changed = new TileSet(200, 100);
  const whole = { x: 0, y: 0, width: 200, height: 100 };
  const pixels = bgrx(200, 100, 0);
  screen.update(whole, pixels, 200 * 4, changed);
  expect(changed.empty).toBe(true); // black over black
  pixels.writeUInt32LE(0x00ff8040, (70 * 200 + 150) * 4); // one pixel in tile (9, 4)
  pixels.writeUInt32LE(0xff000000, (10 * 200 + 10) * 4); // only the padding byte: not a change
  screen.update(whole, pixels, 200 * 4, changed);
  expect(changed.rects()).toEqual([{ x: 144, y: 64, width: 16, height: 16 }]);
  expect(changed.crop({ x: 144, y: 64, width: 16, height: 16 })).toEqual({
    x: 150,
    y: 70,
    width: 1,
    height: 1,
  });
  expect(rgbOfWords(screen.extractWords({ x: 149, y: 70, width: 2, height: 1 }))).toEqual(
    Buffer.from([0, 0, 0, 255, 128, 64]),
  );
  // A glyph-sized change across two tiles, captured as a rectangle of its own (stride of that rectangle).
  const glyph = bgrx(12, 13, 0x00ffffff);
  const cell = new TileSet(200, 100);
  screen.update({ x: 12, y: 3, width: 12, height: 13 }, glyph, 12 * 4, cell);
  expect(cell.rects()).toEqual([{ x: 0, y: 0, width: 32, height: 16 }]);
  expect(cell.crop({ x: 0, y: 0, width: 32, height: 16 })).toEqual({ x: 12, y: 3, width: 12, height: 13 });
  expect(cell.bounds()).toEqual({ x: 0, y: 0, width: 32, height: 16 });
  expect(cell.count()).toBe(2);
  // A viewer's set takes the union of the boxes it is given.
  const viewer = new TileSet(200, 100);
  viewer.addAll(changed);
  viewer.addAll(cell);
  viewer.addTile(9, 4, 2, 2, 3, 3);
  expect(viewer.crop({ x: 144, y: 64, width: 16, height: 16 })).toEqual({
    x: 146,
    y: 66,
    width: 5,
    height: 5,
  });
  expect(viewer.bounds()).toEqual({ x: 0, y: 0, width: 160, height: 80 });
});

test('flat fills and text look like a screen; noise does not', () => {
  const flat = new Uint32Array(64 * 64).fill(0xc8c8c8);
  expect(looksLikeScreen(flat, 64, 64)).toBe(true);
  const noise = new Uint32Array(64 * 64);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 8;
  expect(looksLikeScreen(noise, 64, 64)).toBe(false);
});

test('a palette rectangle: the colours, then 0, 1, 2 or 4 bits a pixel, unpadded, high bits first', () => {
  const [white, black, red] = [0xffffff, 0x000000, 0xff0000];
  // 3x3, two colours: indices 0 1 0 / 1 1 1 / 0 0 1 -> bits 010111001 -> 0b01011100 0b10000000.
  const two = Uint32Array.from([white, black, white, black, black, black, white, white, black]);
  expect(encodePalette(two)).toEqual(Buffer.from([2, 255, 255, 255, 0, 0, 0, 0b01011100, 0b10000000]));
  expect(encodePalette(new Uint32Array(50).fill(red))).toEqual(Buffer.from([1, 255, 0, 0])); // a fill
  const three = Uint32Array.from([red, white, black, red, red]);
  expect(encodePalette(three)).toEqual(
    Buffer.from([3, 255, 0, 0, 255, 255, 255, 0, 0, 0, 0b00011000, 0b00000000]),
  );
  const sixteen = Uint32Array.from({ length: 33 }, (_, i) => i % 16);
  const encoded = encodePalette(sixteen)!;
  expect(encoded[0]).toBe(16);
  expect(encoded.length).toBe(1 + 48 + 17); // 33 pixels of 4 bits
  expect(encoded[49]).toBe(0x01);
  expect(paletteBits(16)).toBe(4);
  expect(encodePalette(Uint32Array.from({ length: 17 }, (_, i) => i))).toBeNull(); // 17 colours: raw RGB
});

test('a half-size picture for a slow page: each pixel the rounded mean of its 2x2, edges repeated', () => {
  const screen = new ScreenCopy(4, 3);
  const changed = new TileSet(4, 3);
  const words = Uint32Array.from([
    ...[0x000000, 0x0a0a0a, 0xff0000, 0xff0000],
    ...[0x000000, 0x0b0b0b, 0x00ff00, 0x0000ff],
    ...[0x102030, 0x102030, 0x405060, 0x000000],
  ]);
  screen.update({ x: 0, y: 0, width: 4, height: 3 }, Buffer.from(words.buffer), 16, changed);
  const half = halfSize(screen, { x: 1, y: 0, width: 3, height: 3 });
  // 3x3 from x=1 becomes 2x2: the right column and the bottom row are their own neighbours.
  expect([...new Uint32Array(half.buffer, half.byteOffset, 4)]).toEqual([
    0x454505, // red (10 + 255 + 11 + 0 + 2) >> 2 = 0x45, green the same, blue (10 + 11 + 2) >> 2 = 5
    0x800080, // the last column twice: ff0000 and 0000ff
    0x283848, // the last row twice: 102030 and 405060, rounded down from .5
    0x000000,
  ]);
});

test('an update message lays out its varint headers and rectangles as the page reads them', () => {
  expect(varint(0)).toEqual([0]);
  expect(varint(127)).toEqual([127]);
  expect(varint(1919)).toEqual([0xff, 0x0e]);
  const jpeg = Buffer.from([1, 2, 3]);
  const rgb = Buffer.alloc(2 * 1 * 3, 7);
  const palette = Buffer.from([1, 9, 9, 9]);
  const { plain, tail } = updateParts([
    { x: 200, y: 128, width: 10, height: 20, encoding: 'jpeg', data: jpeg },
    { x: 16, y: 32, width: 2, height: 1, encoding: 'zlib', data: rgb },
    { x: 1, y: 2, width: 3, height: 4, encoding: 'palette', data: palette },
  ]);
  expect([...plain]).toEqual([
    3,
    ...[0xc8, 0x01, 0x80, 0x01, 10, 20, 1, 3], // x 200 and y 128 take two bytes; the JPEG's length
    ...[16, 32, 2, 1, 2, 7, 7, 7, 7, 7, 7], // raw pixels follow their header
    ...[1, 2, 3, 4, 3, 1, 9, 9, 9],
  ]);
  expect(tail).toEqual([jpeg]); // JPEG bytes go to the tail
  const message = updateMessage(Buffer.alloc(300, 5), tail);
  expect([...message.subarray(0, 2)]).toEqual([0xac, 0x02]); // 300
  expect(message.length).toBe(2 + 300 + 3);
});

test('pieces through one deflate stream inflate back in order, each on its own (partial flush)', async () => {
  const deflate = createDeflate();
  const inflate = createInflate();
  const out: Buffer[] = [];
  inflate.on('data', (chunk: Buffer) => out.push(chunk));
  try {
    const first = Buffer.from('the same line of text\n'.repeat(50));
    const a = await deflatePiece(deflate, first);
    const b = await deflatePiece(deflate, first);
    expect(b.length).toBeLessThan(a.length); // the second refers back to the first
    for (const piece of [a, b, await deflatePiece(deflate, Buffer.from('x'))]) {
      inflate.write(piece);
      await new Promise<void>((resolve) => setTimeout(resolve, 20));
      expect(Buffer.concat(out.splice(0)).toString()).toBe(
        piece === a || piece === b ? first.toString() : 'x',
      );
    }
  } finally {
    deflate.close();
    inflate.close();
  }
});

describe('findScroll', () => {
  /** A width x rows picture of text-like lines: row r is line r's pattern, distinct per line. */
  function lines(width: number, rows: number, first: number, blankEvery = 0): Uint32Array {
    const words = new Uint32Array(width * rows);
    for (let r = 0; r < rows; r++) {
      const line = first + r;
      if (blankEvery > 0 && line % blankEvery === 0) continue; // a blank row (0), like a terminal's gaps
      for (let x = 0; x < width; x++)
        words[r * width + x] = ((line * 2654435761 + x * 40503) >>> 8) & 0xffffff;
    }
    return words;
  }
  const rowsOf = (words: Uint32Array, width: number) => ({ words, start: 0, stride: width });

  test('a picture scrolled up by 13 rows: dy 13, the rows that moved, verified', () => {
    const width = 200;
    const rows = 300;
    const old = lines(width, rows, 0, 7);
    const fresh = lines(width, rows, 13, 7);
    // The last 13 rows are new content (the scroll's new lines).
    expect(findScroll(rowsOf(old, width), rowsOf(fresh, width), width, rows)).toEqual({
      dy: 13,
      x: 0,
      y: 0,
      width,
      height: rows - 13,
    });
  });

  test('scrolled down, in a rectangle of a larger buffer, X byte ignored', () => {
    const width = 64;
    const stride = 100;
    const rows = 120;
    const old = new Uint32Array(stride * rows);
    const fresh = new Uint32Array(stride * rows);
    const a = lines(width, rows, 0);
    const b = lines(width, rows, -40);
    for (let r = 0; r < rows; r++)
      for (let x = 0; x < width; x++) {
        old[r * stride + 10 + x] = a[r * width + x]!;
        fresh[r * stride + 10 + x] = (b[r * width + x]! | 0xff000000) >>> 0;
      }
    const found = findScroll(
      { words: old, start: 10, stride },
      { words: fresh, start: 10, stride },
      width,
      rows,
    );
    expect(found).toEqual({ dy: -40, x: 0, y: 40, width, height: rows - 40 });
  });

  test('the run stops where the rows stop matching (a status line that changed)', () => {
    const width = 50;
    const rows = 100;
    const old = lines(width, rows, 0);
    const fresh = lines(width, rows, 5);
    fresh.fill(0x123456, 60 * width, 61 * width); // row 60 is something else
    const found = findScroll(rowsOf(old, width), rowsOf(fresh, width), width, rows)!;
    expect(found).toEqual({ dy: 5, x: 0, y: 0, width, height: 60 });
    for (let y = found.y; y < found.y + found.height; y++)
      expect(fresh.subarray(y * width, (y + 1) * width)).toEqual(
        old.subarray((y + found.dy) * width, (y + found.dy + 1) * width),
      );
  });

  test('text scrolling beside columns that stay (a background in bands): only the columns that changed', () => {
    const width = 120;
    const rows = 200;
    const old = new Uint32Array(width * rows);
    const fresh = new Uint32Array(width * rows);
    const a = lines(100, rows, 0, 13);
    const b = lines(100, rows, 13, 13);
    for (let r = 0; r < rows; r++) {
      old.set(a.subarray(r * 100, (r + 1) * 100), r * width);
      fresh.set(b.subarray(r * 100, (r + 1) * 100), r * width);
      // Columns 100-119: still, and different every 64 rows (compared whole, no row would match).
      old.fill(0x400000 + (r >> 6), r * width + 100, (r + 1) * width);
      fresh.fill(0x400000 + (r >> 6), r * width + 100, (r + 1) * width);
    }
    expect(findScroll(rowsOf(old, width), rowsOf(fresh, width), width, rows)).toEqual({
      dy: 13,
      x: 0,
      y: 0,
      width: 100,
      height: rows - 13,
    });
  });

  test('lines that begin alike: the copy takes in the still columns that hold the same shift', () => {
    const width = 90;
    const rows = 100;
    const old = lines(width, rows, 0);
    const fresh = lines(width, rows, 10);
    // Columns 0-59 the same in every row ("line " before the numbers), 60-89 the numbers.
    for (const words of [old, fresh])
      for (let r = 0; r < rows; r++) words.fill(0x202020, r * width, r * width + 60);
    expect(findScroll(rowsOf(old, width), rowsOf(fresh, width), width, rows)).toEqual({
      dy: 10,
      x: 0,
      y: 0,
      width,
      height: rows - 10,
    });
  });

  test('no scroll: unrelated pictures, an unchanged one, one too short', () => {
    const width = 80;
    expect(
      findScroll(rowsOf(lines(width, 200, 0), width), rowsOf(lines(width, 200, 1000), width), width, 200),
    ).toBeNull();
    const same = lines(width, 200, 0);
    expect(findScroll(rowsOf(same, width), rowsOf(same.slice(), width), width, 200)).toBeNull();
    expect(
      findScroll(rowsOf(lines(width, 20, 0), width), rowsOf(lines(width, 20, 2), width), width, 20),
    ).toBeNull();
    // Noise everywhere (video): nothing matches.
    const noise = (seed: number) =>
      Uint32Array.from({ length: width * 200 }, (_, i) => (i * 2246822519 + seed) >>> 8);
    expect(findScroll(rowsOf(noise(1), width), rowsOf(noise(2), width), width, 200)).toBeNull();
  });
});

test('deleteInside takes out the tiles wholly inside; touches sees any tile a rectangle touches', () => {
  const set = new TileSet(100, 100); // 7 x 7 tiles, the last column and row cut at 100
  set.fill();
  set.deleteInside({ x: 8, y: 16, width: 92, height: 40 }); // columns 1..6 (to the edge), rows 1..2 (3 is cut)
  for (let row = 0; row < set.rows; row++)
    for (let column = 0; column < set.columns; column++)
      expect(set.has(column, row)).toBe(!(column >= 1 && row >= 1 && row <= 2));
  expect(set.touches({ x: 20, y: 20, width: 40, height: 10 })).toBe(false);
  expect(set.touches({ x: 20, y: 20, width: 40, height: 30 })).toBe(true); // reaches row 3
  expect(set.touches({ x: 15, y: 20, width: 10, height: 10 })).toBe(true); // column 0
});

test.each([
  ['libjpeg-turbo', undefined],
  ['sharp (libjpeg-turbo missing)', '/nonexistent/libturbojpeg.so.0'],
])('a lossy rectangle through %s, whole and half size, decodes to its pixels', async (_encoder, library) => {
  const saved = process.env.XSHOT_TURBOJPEG;
  if (library) process.env.XSHOT_TURBOJPEG = library;
  try {
    // A smooth gradient in a 64x48 screen: JPEG keeps it within a few levels.
    const screen = new ScreenCopy(64, 48);
    const pixels = Buffer.alloc(64 * 48 * 4);
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 64; x++)
        pixels.writeUInt32LE(((x * 4) << 16) | ((y * 5) << 8) | 128, (y * 64 + x) * 4);
    screen.update({ x: 0, y: 0, width: 64, height: 48 }, pixels, 64 * 4, new TileSet(64, 48));
    const rect = { x: 16, y: 8, width: 32, height: 32 };
    for (const [mode, size] of [
      ['lossy', 32],
      ['lossy-half', 16],
    ] as const) {
      const encoded = await encodeRect(screen, rect, 90, mode);
      expect(encoded?.encoding).toBe(mode === 'lossy' ? 'jpeg' : 'jpeg-half');
      const { data, info } = await sharp(encoded!.data).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([size, size]);
      const step = 32 / size;
      for (const [x, y] of [
        [0, 0],
        [size - 1, size - 1],
        [size >> 1, size >> 2],
      ] as const) {
        // The source pixel (the mean of its 2x2 at half size) at rect + (x, y) * step.
        const sx = rect.x + x * step + (step - 1) / 2;
        const sy = rect.y + y * step + (step - 1) / 2;
        const at = (y * size + x) * 3;
        expect(Math.abs(data[at]! - sx * 4)).toBeLessThanOrEqual(6);
        expect(Math.abs(data[at + 1]! - sy * 5)).toBeLessThanOrEqual(6);
        expect(Math.abs(data[at + 2]! - 128)).toBeLessThanOrEqual(6);
      }
    }
  } finally {
    if (saved === undefined) delete process.env.XSHOT_TURBOJPEG;
    else process.env.XSHOT_TURBOJPEG = saved;
  }
});
