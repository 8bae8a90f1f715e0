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

/** A set of tiles of a width x height screen. */
export class TileSet {
  readonly columns: number;
  readonly rows: number;
  readonly bits: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.columns = Math.ceil(width / TILE);
    this.rows = Math.ceil(height / TILE);
    this.bits = new Uint8Array(this.columns * this.rows);
  }

  get empty(): boolean {
    return this.bits.indexOf(1) < 0;
  }

  fill(): void {
    this.bits.fill(1);
  }

  clear(): void {
    this.bits.fill(0);
  }

  /** Adds every tile `rect` touches (clipped to the screen). */
  addRect(rect: Rect): void {
    const x0 = Math.max(0, Math.floor(rect.x / TILE));
    const y0 = Math.max(0, Math.floor(rect.y / TILE));
    const x1 = Math.min(this.columns, Math.ceil((rect.x + rect.width) / TILE));
    const y1 = Math.min(this.rows, Math.ceil((rect.y + rect.height) / TILE));
    for (let ty = y0; ty < y1; ty++) this.bits.fill(1, ty * this.columns + x0, ty * this.columns + x1);
  }

  addTile(column: number, row: number): void {
    this.bits[row * this.columns + column] = 1;
  }

  has(column: number, row: number): boolean {
    return this.bits[row * this.columns + column] === 1;
  }

  /** Adds every tile of `other` (same screen). */
  addAll(other: TileSet): void {
    const { bits } = this;
    const theirs = other.bits;
    for (let i = 0; i < bits.length; i++) if (theirs[i] === 1) bits[i] = 1;
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
 * The screen as packed RGB, updated from captures: `update` copies a captured rectangle in and reports the
 * tiles whose pixels really changed (DAMAGE reports what was drawn, which is often the same pixels again:
 * a cursor blink redrawn, a terminal repainting its line).
 */
export class ScreenCopy {
  readonly rgb: Buffer;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = Buffer.alloc(width * height * 3);
  }

  /** Copies `pixels` (packed RGB of `rect`) in; adds the tiles that differed to `changed`. */
  update(rect: Rect, pixels: Buffer, changed: TileSet): void {
    const rowBytes = this.width * 3;
    const rectRow = rect.width * 3;
    for (let y0 = rect.y; y0 < rect.y + rect.height; y0 = (Math.floor(y0 / TILE) + 1) * TILE) {
      const y1 = Math.min(rect.y + rect.height, (Math.floor(y0 / TILE) + 1) * TILE);
      for (let x0 = rect.x; x0 < rect.x + rect.width; x0 = (Math.floor(x0 / TILE) + 1) * TILE) {
        const x1 = Math.min(rect.x + rect.width, (Math.floor(x0 / TILE) + 1) * TILE);
        const span = (x1 - x0) * 3;
        let differs = false;
        for (let y = y0; y < y1; y++) {
          const src = (y - rect.y) * rectRow + (x0 - rect.x) * 3;
          const dst = y * rowBytes + x0 * 3;
          if (!differs && pixels.compare(this.rgb, dst, dst + span, src, src + span) !== 0) differs = true;
          if (differs) pixels.copy(this.rgb, dst, src, src + span);
        }
        if (differs) changed.addTile(Math.floor(x0 / TILE), Math.floor(y0 / TILE));
      }
    }
  }

  /** A copy of `rect`'s pixels, packed RGB: what an encoder may read while the screen copy moves on. */
  extract(rect: Rect): Buffer {
    const out = Buffer.allocUnsafe(rect.width * rect.height * 3);
    const rowBytes = this.width * 3;
    for (let y = 0; y < rect.height; y++) {
      const src = (rect.y + y) * rowBytes + rect.x * 3;
      this.rgb.copy(out, y * rect.width * 3, src, src + rect.width * 3);
    }
    return out;
  }
}
