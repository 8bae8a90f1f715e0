// The remote desktop's tile bookkeeping without X: which tiles a change marks, how they merge into
// rectangles that cover exactly them, which tiles of a capture really changed, and how rectangles are judged.
import { createDeflate, createInflate } from 'node:zlib';
import { deflatePiece, looksLikeScreen, updateMessage, updateParts } from '../src/web/remote/encode-tile';
import { MAX_BAND_TILES, ScreenCopy, TILE, TileSet } from '../src/web/remote/tiles';

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

test('ScreenCopy.update reports only tiles whose pixels changed', () => {
  const screen = new ScreenCopy(200, 100);
  const changed = new TileSet(200, 100);
  const pixels = Buffer.alloc(200 * 100 * 3);
  screen.update({ x: 0, y: 0, width: 200, height: 100 }, pixels, changed);
  expect(changed.empty).toBe(true); // black over black
  pixels[(70 * 200 + 150) * 3] = 255; // one pixel in tile (9, 4)
  screen.update({ x: 0, y: 0, width: 200, height: 100 }, pixels, changed);
  expect(changed.rects()).toEqual([{ x: 144, y: 64, width: 16, height: 16 }]);
  expect(screen.extract({ x: 150, y: 70, width: 1, height: 1 })).toEqual(Buffer.from([255, 0, 0]));
});

test('flat fills and text look like a screen; noise does not', () => {
  const flat = Buffer.alloc(64 * 64 * 3, 200);
  expect(looksLikeScreen(flat, 64, 64)).toBe(true);
  const noise = Buffer.alloc(64 * 64 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
  expect(looksLikeScreen(noise, 64, 64)).toBe(false);
});

test('an update message lays out its header and rectangles as the page reads them', () => {
  const jpeg = Buffer.from([1, 2, 3]);
  const rgb = Buffer.alloc(2 * 1 * 3, 7);
  const { plain, tail } = updateParts(9, [
    { x: 64, y: 128, width: 10, height: 20, encoding: 'jpeg', data: jpeg },
    { x: 16, y: 32, width: 2, height: 1, encoding: 'zlib', data: rgb },
  ]);
  expect(plain.readUInt8(0)).toBe(1);
  expect(plain.readUInt16LE(2)).toBe(2);
  expect(plain.readUInt32LE(4)).toBe(9);
  expect([0, 2, 4, 6].map((o) => plain.readUInt16LE(8 + o))).toEqual([64, 128, 10, 20]);
  expect(plain.readUInt8(16)).toBe(1);
  expect(plain.readUInt32LE(20)).toBe(3);
  expect([0, 2, 4, 6].map((o) => plain.readUInt16LE(24 + o))).toEqual([16, 32, 2, 1]);
  expect(plain.readUInt8(32)).toBe(2);
  expect(plain.subarray(40)).toEqual(rgb); // raw pixels follow their header; JPEG bytes go to the tail
  expect(tail).toEqual([jpeg]);
});

test('pieces through one deflate stream inflate back in order, each on its own (sync flush)', async () => {
  const deflate = createDeflate();
  const inflate = createInflate();
  const out: Buffer[] = [];
  inflate.on('data', (chunk: Buffer) => out.push(chunk));
  try {
    const first = Buffer.from('the same line of text\n'.repeat(50));
    const a = await deflatePiece(deflate, first);
    const b = await deflatePiece(deflate, first);
    expect(b.length).toBeLessThan(a.length); // the second refers back to the first
    const message = updateMessage(b, [Buffer.from([9, 9])]);
    expect(message.readUInt8(0)).toBe(2);
    expect(message.readUInt32LE(4)).toBe(b.length);
    expect(message.subarray(8 + b.length)).toEqual(Buffer.from([9, 9]));
    for (const piece of [a, b]) {
      inflate.write(piece);
      await new Promise<void>((resolve) => inflate.flush(resolve));
      expect(Buffer.concat(out.splice(0))).toEqual(first);
    }
  } finally {
    deflate.close();
    inflate.close();
  }
});
