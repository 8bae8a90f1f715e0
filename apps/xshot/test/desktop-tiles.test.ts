// The remote desktop's tile bookkeeping without X: which tiles a change marks, how they merge into
// rectangles that cover exactly them, which tiles of a capture really changed, and how rectangles are judged.
import { looksLikeScreen, updateMessage } from '../src/web/remote/encode-tile';
import { ScreenCopy, TILE, TileSet } from '../src/web/remote/tiles';

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
  expect(bands.every((r) => r.x === 0 && r.width === 1920 && r.height <= 4 * TILE)).toBe(true);
  expect(bands.reduce((sum, r) => sum + r.height, 0)).toBe(1080);
  const one = new TileSet(1920, 1080);
  one.addRect({ x: 60, y: 10, width: 10, height: 60 });
  expect(one.rects()).toEqual([{ x: 0, y: 0, width: 128, height: 128 }]);
});

test('ScreenCopy.update reports only tiles whose pixels changed', () => {
  const screen = new ScreenCopy(200, 100);
  const changed = new TileSet(200, 100);
  const pixels = Buffer.alloc(200 * 100 * 3);
  screen.update({ x: 0, y: 0, width: 200, height: 100 }, pixels, changed);
  expect(changed.empty).toBe(true); // black over black
  pixels[(70 * 200 + 150) * 3] = 255; // one pixel in tile (2, 1)
  screen.update({ x: 0, y: 0, width: 200, height: 100 }, pixels, changed);
  expect(changed.rects()).toEqual([{ x: 128, y: 64, width: 64, height: 36 }]);
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
  const data = Buffer.from([1, 2, 3]);
  const message = Buffer.concat(
    updateMessage(9, [{ x: 64, y: 128, width: 10, height: 20, encoding: 'jpeg', data }]),
  );
  expect(message.readUInt8(0)).toBe(1);
  expect(message.readUInt16LE(2)).toBe(1);
  expect(message.readUInt32LE(4)).toBe(9);
  expect([0, 2, 4, 6].map((o) => message.readUInt16LE(8 + o))).toEqual([64, 128, 10, 20]);
  expect(message.readUInt8(16)).toBe(1);
  expect(message.readUInt32LE(20)).toBe(3);
  expect(message.subarray(24)).toEqual(data);
});
