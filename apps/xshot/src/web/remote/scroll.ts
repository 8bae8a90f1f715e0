// Scroll detection: whether a captured rectangle is the screen copy's previous content shifted vertically
// (a terminal or a browser scrolling), so the page can move the pixels it already has instead of receiving
// them again. Pure code on rows of 32-bit words, no X.

/**
 * Rows of a rectangle in a word array: row `r` is words `start + r * stride` to `+ width`. The low 24 bits
 * of each word are the pixel (the capture's X byte is ignored, as ScreenCopy.update does).
 */
export interface Rows {
  words: Uint32Array;
  start: number;
  stride: number;
}

/**
 * In columns `x` to `x + width` (of the rectangle), new rows `y` to `y + height` are exactly the old rows
 * `y + dy` to `y + dy + height`.
 */
export interface Scroll {
  dy: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Fewest rows a scroll moves to be sent as a copy: one tile row, less saves little. */
export const MIN_SCROLL_ROWS = 16;
/** New rows looked up among the old ones for candidate shifts. */
const SAMPLES = 12;
/** A sample row found in more old rows than this (a blank line) says nothing about the shift. */
const MAX_MATCHES = 3;
/** Candidate shifts verified row by row, the most voted first. */
const MAX_CANDIDATES = 3;

function sameRow(a: Rows, ay: number, b: Rows, by: number, x0: number, x1: number): boolean {
  const aw = a.words;
  const bw = b.words;
  const at = a.start + ay * a.stride;
  const bt = b.start + by * b.stride;
  for (let x = x0; x < x1; x++) if (((aw[at + x]! ^ bw[bt + x]!) & 0xffffff) !== 0) return false;
  return true;
}

/**
 * The vertical shift that explains most of `fresh` (the new rows) from `old` (the same rectangle before),
 * and the longest run of new rows it explains exactly in the columns that changed, or null (no shift, or
 * fewer than MIN_SCROLL_ROWS).
 * Cheap when nothing scrolled: a dozen sample rows are looked up among the old rows, most comparisons
 * ending at the first word (full-screen video costs ~10k word comparisons); only the few shifts they vote
 * for are verified row by row.
 */
export function findScroll(old: Rows, fresh: Rows, width: number, rows: number): Scroll | null {
  if (rows < MIN_SCROLL_ROWS * 2 || width <= 0) return null;
  // The columns that changed in the sample rows: a rectangle of tiles is often wider than what scrolls (a
  // terminal's text beside a still background), and rows compared across both never match.
  const samples: number[] = [];
  let x0 = width;
  let x1 = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const y = Math.floor(((s + 0.5) * rows) / SAMPLES);
    const a = fresh.start + y * fresh.stride;
    const b = old.start + y * old.stride;
    let first = 0;
    while (first < width && ((fresh.words[a + first]! ^ old.words[b + first]!) & 0xffffff) === 0) first++;
    if (first === width) continue; // unchanged (or blank both times): no information
    let last = width - 1;
    while (((fresh.words[a + last]! ^ old.words[b + last]!) & 0xffffff) === 0) last--;
    samples.push(y);
    x0 = Math.min(x0, first);
    x1 = Math.max(x1, last + 1);
  }
  const votes = new Map<number, number>();
  for (const y of samples) {
    const found: number[] = [];
    for (let j = 0; j < rows && found.length <= MAX_MATCHES; j++)
      if (j !== y && sameRow(fresh, y, old, j, x0, x1)) found.push(j - y);
    if (found.length === 0 || found.length > MAX_MATCHES) continue;
    for (const dy of found) votes.set(dy, (votes.get(dy) ?? 0) + 1);
  }
  const candidates = [...votes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_CANDIDATES)
    .map(([dy]) => dy);
  let best: Scroll | null = null;
  for (const dy of candidates) {
    const first = Math.max(0, -dy);
    const end = Math.min(rows, rows - dy);
    let runStart = first;
    for (let y = first; y <= end; y++) {
      if (y < end && sameRow(fresh, y, old, y + dy, x0, x1)) continue;
      const height = y - runStart;
      if (height >= MIN_SCROLL_ROWS && (!best || height > best.height))
        best = { dy, x: x0, y: runStart, width: x1 - x0, height };
      runStart = y + 1;
    }
  }
  if (!best) return null;
  // The sample rows may differ in a few columns only (lines of text that begin alike): the copy takes in
  // the columns on either side that hold the same shift over the whole run, so it covers whole tiles.
  const { dy, y, height } = best;
  const columnMoves = (x: number): boolean => {
    for (let row = y; row < y + height; row++)
      if (
        ((fresh.words[fresh.start + row * fresh.stride + x]! ^
          old.words[old.start + (row + dy) * old.stride + x]!) &
          0xffffff) !==
        0
      )
        return false;
    return true;
  };
  let left = best.x;
  while (left > 0 && columnMoves(left - 1)) left--;
  let right = best.x + best.width;
  while (right < width && columnMoves(right)) right++;
  return { dy, x: left, y, width: right - left, height };
}
