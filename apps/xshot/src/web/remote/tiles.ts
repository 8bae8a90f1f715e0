// The remote desktop's picture of the screen, kept as a grid of tiles: which tiles changed since a viewer
// last got them, and how a set of tiles becomes a few rectangles to encode. Pure code, no X.
import type { Rows } from './scroll';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * 16 pixels: a typed character dirties one or two tiles, 768 raw bytes each (64-pixel tiles sent 12 KiB
 * of pixels per key, ~130 B deflated, against ~40 B at 16), and 1080p has 8160 tiles, still a cheap bitmap
 * to merge per viewer and per capture.
 */
export const TILE = 16;
/**
 * Merged rectangles are at most this many tiles (256 pixels) tall, so one encoded piece is never the whole
 * screen: each band is judged (text or photo) on its own, and the page can draw the first bands while later
 * ones decode.
 */
export const MAX_BAND_TILES = 16;
/** A whole tile's box (x0 0, y0 0, x1 TILE, y1 TILE) read as one little-endian word of TileSet.boxes. */
const WHOLE_TILE = ((TILE << 16) | (TILE << 24)) >>> 0;

/**
 * A set of tiles of a width x height screen, each with the box (within the tile) of the pixels that changed
 * in it: a typed character changes 6x13 pixels of a 16x16 tile, and sending only those halves what the page
 * receives per key.
 */
export class TileSet {
  readonly columns: number;
  readonly rows: number;
  readonly bits: Uint8Array;
  /** Per tile: x0, y0, x1, y1 (exclusive) of its changed pixels, relative to the tile; valid where bits is 1. */
  readonly boxes: Uint8Array;
  /** `boxes` a tile a word: whole tiles are set and compared at once (full-screen motion marks them all). */
  readonly #boxWords: Uint32Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.columns = Math.ceil(width / TILE);
    this.rows = Math.ceil(height / TILE);
    this.bits = new Uint8Array(this.columns * this.rows);
    this.#boxWords = new Uint32Array(this.columns * this.rows);
    this.boxes = new Uint8Array(this.#boxWords.buffer);
  }

  get empty(): boolean {
    return this.bits.indexOf(1) < 0;
  }

  /** How many tiles are in the set. */
  count(): number {
    let n = 0;
    for (const bit of this.bits) n += bit;
    return n;
  }

  fill(): void {
    this.bits.fill(1);
    this.#boxWords.fill(WHOLE_TILE);
  }

  clear(): void {
    this.bits.fill(0);
  }

  /** Adds every tile `rect` touches (clipped to the screen), whole. */
  addRect(rect: Rect): void {
    const x0 = Math.max(0, Math.floor(rect.x / TILE));
    const y0 = Math.max(0, Math.floor(rect.y / TILE));
    const x1 = Math.min(this.columns, Math.ceil((rect.x + rect.width) / TILE));
    const y1 = Math.min(this.rows, Math.ceil((rect.y + rect.height) / TILE));
    for (let ty = y0; ty < y1; ty++) {
      this.bits.fill(1, ty * this.columns + x0, ty * this.columns + x1);
      this.#boxWords.fill(WHOLE_TILE, ty * this.columns + x0, ty * this.columns + x1);
    }
  }

  /** Adds a tile, or the box x0..x1, y0..y1 (exclusive, relative to the tile) of it. */
  addTile(column: number, row: number, x0 = 0, y0 = 0, x1 = TILE, y1 = TILE): void {
    const index = row * this.columns + column;
    const at = index * 4;
    if (this.bits[index] !== 1) {
      this.bits[index] = 1;
      this.#setBox(at, x0, y0, x1, y1);
      return;
    }
    const box = this.boxes;
    this.#setBox(
      at,
      Math.min(box[at]!, x0),
      Math.min(box[at + 1]!, y0),
      Math.max(box[at + 2]!, x1),
      Math.max(box[at + 3]!, y1),
    );
  }

  #setBox(at: number, x0: number, y0: number, x1: number, y1: number): void {
    this.boxes[at] = x0;
    this.boxes[at + 1] = y0;
    this.boxes[at + 2] = x1;
    this.boxes[at + 3] = y1;
  }

  has(column: number, row: number): boolean {
    return this.bits[row * this.columns + column] === 1;
  }

  /** Takes every tile lying wholly inside `rect` out of the set (tiles it only overlaps stay). */
  deleteInside(rect: Rect): void {
    const x0 = Math.ceil(rect.x / TILE);
    const y0 = Math.ceil(rect.y / TILE);
    // A tile cut by the screen's right or bottom edge is whole when the rectangle reaches that edge.
    const right = rect.x + rect.width;
    const bottom = rect.y + rect.height;
    const x1 = right >= this.width ? this.columns : Math.floor(right / TILE);
    const y1 = bottom >= this.height ? this.rows : Math.floor(bottom / TILE);
    for (let ty = y0; ty < y1; ty++)
      if (x1 > x0) this.bits.fill(0, ty * this.columns + x0, ty * this.columns + x1);
  }

  /** Whether any tile `rect` touches is in the set. */
  touches(rect: Rect): boolean {
    const x0 = Math.max(0, Math.floor(rect.x / TILE));
    const y0 = Math.max(0, Math.floor(rect.y / TILE));
    const x1 = Math.min(this.columns, Math.ceil((rect.x + rect.width) / TILE));
    const y1 = Math.min(this.rows, Math.ceil((rect.y + rect.height) / TILE));
    for (let ty = y0; ty < y1; ty++) {
      const at = ty * this.columns;
      const i = this.bits.indexOf(1, at + x0);
      if (i >= 0 && i < at + x1) return true;
    }
    return false;
  }

  /** Adds every tile of `other` (same screen), boxes included. */
  addAll(other: TileSet): void {
    const { bits, boxes } = this;
    const words = this.#boxWords;
    const theirs = other.bits;
    const theirBoxes = other.boxes;
    const theirWords = other.#boxWords;
    for (let i = 0; i < theirs.length; i++) {
      if (theirs[i] !== 1) continue;
      if (bits[i] !== 1) {
        bits[i] = 1;
        words[i] = theirWords[i]!;
      } else if (words[i] !== WHOLE_TILE) {
        const at = i * 4;
        boxes[at] = Math.min(boxes[at]!, theirBoxes[at]!);
        boxes[at + 1] = Math.min(boxes[at + 1]!, theirBoxes[at + 1]!);
        boxes[at + 2] = Math.max(boxes[at + 2]!, theirBoxes[at + 2]!);
        boxes[at + 3] = Math.max(boxes[at + 3]!, theirBoxes[at + 3]!);
      }
    }
  }

  /**
   * The part of `rect` (tile-aligned, as rects() gives) that holds changed pixels: the union of its tiles'
   * boxes, clipped to the screen.
   */
  crop(rect: Rect): Rect {
    let x0 = Number.POSITIVE_INFINITY;
    let y0 = Number.POSITIVE_INFINITY;
    let x1 = 0;
    let y1 = 0;
    const c1 = Math.ceil((rect.x + rect.width) / TILE);
    const r1 = Math.ceil((rect.y + rect.height) / TILE);
    for (let row = rect.y / TILE; row < r1; row++)
      for (let column = rect.x / TILE; column < c1; column++) {
        const index = row * this.columns + column;
        if (this.bits[index] !== 1) continue;
        const at = index * 4;
        x0 = Math.min(x0, column * TILE + this.boxes[at]!);
        y0 = Math.min(y0, row * TILE + this.boxes[at + 1]!);
        x1 = Math.max(x1, column * TILE + this.boxes[at + 2]!);
        y1 = Math.max(y1, row * TILE + this.boxes[at + 3]!);
      }
    if (x1 === 0) return { ...rect, width: 0, height: 0 };
    x1 = Math.min(x1, this.width);
    y1 = Math.min(y1, this.height);
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  /** The smallest tile-aligned rectangle holding every tile of the set (null when empty). */
  bounds(): Rect | null {
    const { bits, columns } = this;
    const firstIndex = bits.indexOf(1);
    if (firstIndex < 0) return null;
    const r0 = Math.floor(firstIndex / columns);
    const r1 = Math.floor(bits.lastIndexOf(1) / columns);
    let c0 = columns;
    let c1 = -1;
    for (let row = r0; row <= r1 && (c0 > 0 || c1 < columns - 1); row++) {
      const line = bits.subarray(row * columns, (row + 1) * columns);
      const first = line.indexOf(1);
      if (first < 0) continue;
      c0 = Math.min(c0, first);
      c1 = Math.max(c1, line.lastIndexOf(1));
    }
    return this.tileRect(c0, r0, c1 - c0 + 1, r1 - r0 + 1);
  }

  /** Tile column/row to pixels, clipped to the screen. */
  tileRect(column: number, row: number, columns = 1, rows = 1): Rect {
    const x = column * TILE;
    const y = row * TILE;
    return {
      x,
      y,
      width: Math.min(this.width, (column + columns) * TILE) - x,
      height: Math.min(this.height, (row + rows) * TILE) - y,
    };
  }

  /**
   * The tiles as few rectangles, covering exactly the set: horizontal runs per tile row, and a run joined
   * with the one below it when both span the same columns (a text line, a window), up to a band's height.
   */
  rects(): Rect[] {
    const out: Rect[] = [];
    /** Runs still growing downwards, by "first,last" column. */
    let open = new Map<string, { column: number; row: number; columns: number; rows: number }>();
    for (let row = 0; row < this.rows; row++) {
      const next = new Map<string, { column: number; row: number; columns: number; rows: number }>();
      let column = 0;
      while (column < this.columns) {
        if (!this.has(column, row)) {
          column++;
          continue;
        }
        const start = column;
        while (column < this.columns && this.has(column, row)) column++;
        const key = `${start},${column}`;
        const above = open.get(key);
        if (above && above.rows < MAX_BAND_TILES) {
          above.rows++;
          open.delete(key);
          next.set(key, above);
        } else next.set(key, { column: start, row, columns: column - start, rows: 1 });
      }
      for (const run of open.values()) out.push(this.tileRect(run.column, run.row, run.columns, run.rows));
      open = next;
    }
    for (const run of open.values()) out.push(this.tileRect(run.column, run.row, run.columns, run.rows));
    return out;
  }
}

/**
 * The screen as 32-bit BGRX words (0x00RRGGBB; the layout every common X server captures in, so a capture is
 * compared and copied without converting it), updated from captures: `update` copies a captured rectangle in
 * and reports the pixels that really changed (DAMAGE reports what was drawn, which is often the same pixels
 * again: a cursor blink redrawn, a terminal repainting its line). Converting a 1080p capture to RGB took
 * 33-40 ms here, comparing and copying the words 3-4 ms.
 */
export class ScreenCopy {
  /** BGRX bytes, `width * 4` per row. */
  readonly pixels: Buffer;
  readonly #words: Uint32Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.#words = new Uint32Array(width * height);
    this.pixels = Buffer.from(this.#words.buffer);
  }

  /**
   * Copies `source` (BGRX rows of `rect`, `stride` bytes apart, 4-byte aligned) in; adds the changed pixels
   * to `changed`, tile by tile with the box of what changed in each.
   */
  update(rect: Rect, source: Buffer, stride: number, changed: TileSet): void {
    const words = this.#words;
    const theirs = new Uint32Array(source.buffer, source.byteOffset, source.length >>> 2);
    const rowWords = stride >>> 2;
    const rowBytes = rect.width * 4;
    const firstColumn = Math.floor(rect.x / TILE);
    const columns = Math.ceil((rect.x + rect.width) / TILE) - firstColumn;
    // The box of each tile of the current tile row, in rectangle coordinates, kept here and handed to
    // `changed` once per tile row: per pixel row it is a few comparisons (a 1080p change took 9 ms when each
    // row of each tile called addTile, measured in a profile).
    const left = new Int32Array(columns);
    const right = new Int32Array(columns);
    const top = new Int32Array(columns);
    const bottom = new Int32Array(columns);
    for (let band = rect.y; band < rect.y + rect.height; band = (Math.floor(band / TILE) + 1) * TILE) {
      const bandEnd = Math.min(rect.y + rect.height, (Math.floor(band / TILE) + 1) * TILE);
      left.fill(rect.width);
      right.fill(-1);
      for (let screenY = band; screenY < bandEnd; screenY++) {
        const y = screenY - rect.y;
        const src = y * stride;
        const dst = (screenY * this.width + rect.x) * 4;
        // Most rows of a damaged area are often unchanged: one memcmp settles them.
        if (source.compare(this.pixels, dst, dst + rowBytes, src, src + rowBytes) === 0) continue;
        const mine = dst >>> 2;
        const other = y * rowWords;
        for (let c = 0; c < columns; c++) {
          const x0 = Math.max(0, (firstColumn + c) * TILE - rect.x);
          const x1 = Math.min(rect.width, (firstColumn + c + 1) * TILE - rect.x);
          let first = x0;
          while (first < x1 && ((words[mine + first]! ^ theirs[other + first]!) & 0xffffff) === 0) first++;
          if (first === x1) continue;
          let last = x1 - 1;
          // Only what could widen the box is scanned (nothing, once it spans the tile).
          while (last > right[c]! && ((words[mine + last]! ^ theirs[other + last]!) & 0xffffff) === 0) last--;
          if (right[c]! < 0) top[c] = screenY;
          bottom[c] = screenY + 1;
          if (first < left[c]!) left[c] = first;
          if (last > right[c]!) right[c] = last;
        }
        source.copy(this.pixels, dst, src, src + rowBytes);
      }
      const row = Math.floor(band / TILE);
      for (let c = 0; c < columns; c++) {
        if (right[c]! < 0) continue;
        const tileX = (firstColumn + c) * TILE;
        const tileY = row * TILE;
        changed.addTile(
          firstColumn + c,
          row,
          rect.x + left[c]! - tileX,
          top[c]! - tileY,
          rect.x + right[c]! + 1 - tileX,
          bottom[c]! - tileY,
        );
      }
    }
  }

  /** The copy's rows of `rect`, for findScroll. */
  rowsOf(rect: Rect): Rows {
    return { words: this.#words, start: rect.y * this.width + rect.x, stride: this.width };
  }

  /** `rect`'s pixels as 0x00RRGGBB words, a copy. */
  extractWords(rect: Rect): Uint32Array {
    const out = new Uint32Array(rect.width * rect.height);
    for (let y = 0; y < rect.height; y++) {
      const start = (rect.y + y) * this.width + rect.x;
      out.set(this.#words.subarray(start, start + rect.width), y * rect.width);
    }
    return out;
  }
}

/** Packed 8-bit RGB of 0x00RRGGBB words (what the raw encoding and sharp read). */
export function rgbOfWords(words: Uint32Array): Buffer {
  const out = Buffer.allocUnsafe(words.length * 3);
  for (let i = 0, o = 0; i < words.length; i++, o += 3) {
    const word = words[i]!;
    out[o] = (word >>> 16) & 255;
    out[o + 1] = (word >>> 8) & 255;
    out[o + 2] = word & 255;
  }
  return out;
}
