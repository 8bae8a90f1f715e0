// The remote desktop's picture of the screen, kept as a grid of tiles: which tiles changed since a viewer
// last got them, and how a set of tiles becomes a few rectangles to encode. Pure code, no X.

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

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.columns = Math.ceil(width / TILE);
    this.rows = Math.ceil(height / TILE);
    this.bits = new Uint8Array(this.columns * this.rows);
    this.boxes = new Uint8Array(this.columns * this.rows * 4);
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
    for (let i = 0; i < this.boxes.length; i += 4) this.#setBox(i, 0, 0, TILE, TILE);
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
    for (let ty = y0; ty < y1; ty++) for (let tx = x0; tx < x1; tx++) this.addTile(tx, ty);
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

  /** Adds every tile of `other` (same screen), boxes included. */
  addAll(other: TileSet): void {
    const theirs = other.bits;
    const box = other.boxes;
    for (let i = 0; i < theirs.length; i++)
      if (theirs[i] === 1) {
        const at = i * 4;
        this.addTile(i % this.columns, Math.floor(i / this.columns), box[at], box[at + 1], box[at + 2], box[at + 3]);
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
    let c0 = this.columns;
    let r0 = this.rows;
    let c1 = -1;
    let r1 = -1;
    for (let i = 0; i < this.bits.length; i++)
      if (this.bits[i] === 1) {
        const column = i % this.columns;
        const row = Math.floor(i / this.columns);
        c0 = Math.min(c0, column);
        c1 = Math.max(c1, column);
        r0 = Math.min(r0, row);
        r1 = Math.max(r1, row);
      }
    return c1 < 0 ? null : this.tileRect(c0, r0, c1 - c0 + 1, r1 - r0 + 1);
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
    for (let y = 0; y < rect.height; y++) {
      const src = y * stride;
      const dst = ((rect.y + y) * this.width + rect.x) * 4;
      // Most rows of a damaged area are often unchanged: one memcmp settles them.
      if (source.compare(this.pixels, dst, dst + rowBytes, src, src + rowBytes) === 0) continue;
      const screenY = rect.y + y;
      const row = Math.floor(screenY / TILE);
      const inTileY = screenY - row * TILE;
      const mine = dst >>> 2;
      const other = y * rowWords;
      for (let x0 = 0; x0 < rect.width; ) {
        const screenX0 = rect.x + x0;
        const column = Math.floor(screenX0 / TILE);
        const x1 = Math.min(rect.width, (column + 1) * TILE - rect.x);
        let first = x0;
        while (first < x1 && ((words[mine + first]! ^ theirs[other + first]!) & 0xffffff) === 0) first++;
        if (first < x1) {
          let last = x1 - 1;
          while (((words[mine + last]! ^ theirs[other + last]!) & 0xffffff) === 0) last--;
          const tileX = column * TILE;
          changed.addTile(column, row, rect.x + first - tileX, inTileY, rect.x + last + 1 - tileX, inTileY + 1);
        }
        x0 = x1;
      }
      source.copy(this.pixels, dst, src, src + rowBytes);
    }
  }

  /** `rect`'s pixels as packed RGB (what the lossless encoders read). */
  extractRGB(rect: Rect): Buffer {
    const out = Buffer.allocUnsafe(rect.width * rect.height * 3);
    const words = this.#words;
    let o = 0;
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      const start = y * this.width + rect.x;
      for (let i = start; i < start + rect.width; i++) {
        const word = words[i]!;
        out[o++] = (word >>> 16) & 255;
        out[o++] = (word >>> 8) & 255;
        out[o++] = word & 255;
      }
    }
    return out;
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
