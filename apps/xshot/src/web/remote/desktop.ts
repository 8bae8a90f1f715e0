// The remote desktop behind `xshot stream`'s /desktop page: one X connection captures what DAMAGE reports
// into a copy of the screen, and every viewer's WebSocket gets the tiles that changed since it last drew,
// at its own pace. With `control`, viewers' keys, pointer and clipboard reach X through XTEST and the
// CLIPBOARD selection; without it, nothing a viewer sends is acted on.
//
// Flow control: a viewer has at most MAX_IN_FLIGHT updates sent and not yet drawn (the page acks each one
// after drawing it). Changes that arrive meanwhile only mark tiles in the viewer's dirty set, so a slow
// viewer gets the union of what changed when it is ready, a fast one gets every change, and no queue grows:
// the memory a viewer costs is its tile bitmaps and at most MAX_IN_FLIGHT updates.
//
// Full-screen motion: when a quarter of the screen or more is waiting for a viewer, it gets one JPEG of that
// area (TurboJPEG reading the screen copy in place) instead of bands of tiles, which is what the page can
// decode at the capture rate; those tiles are then sent again losslessly once REFRESH_MS pass without
// another such change (as TurboVNC's "lossless refresh"), so text ends pixel-exact. Small changes meanwhile
// (a blinking cursor, a clock, a video in a corner) go on as usual and do not hold the refresh back.
//
// Scrolling: when a capture is the previous screen shifted vertically (findScroll), a viewer whose canvas
// holds the source rows exactly (none of their tiles dirty or lossy for it) gets a `copy` rectangle, ahead
// of its next update's pixels, and only the tiles the copy does not fully cover become dirty for it. The
// page draws updates in order, so what it has drawn plus what is in flight is the screen copy outside the
// viewer's dirty and lossy tiles: a copy from clean tiles reproduces the new rows exactly. Other viewers
// get the pixels, as before.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createDeflate, type Deflate } from 'node:zlib';
import {
  type ChangeWatch,
  type Clipboard,
  type CursorShape,
  connect,
  type Display,
  type Frame,
  type Input,
  openClipboard,
  openInput,
  watchCursor,
} from '@xshm/mit-shm';
import sharp from 'sharp';
import { type WebSocket, WebSocketServer } from 'ws';
import { isWordBGRX } from '../../encodable';
import { isLoopbackHost } from '../server';
import {
  copyRect,
  deflatePiece,
  type EncodedRect,
  type EncodeMode,
  encodeRect,
  updateMessage,
  updateParts,
} from './encode-tile';
import { DESKTOP_HTML } from './page';
import { findScroll } from './scroll';
import { type Rect, ScreenCopy, TILE, TileSet } from './tiles';

export const DESKTOP_PATH = '/desktop';
export const DESKTOP_SOCKET_PATH = '/desktop.ws';

/**
 * Updates sent to a viewer and not yet acknowledged as drawn. Three: one drawing, one decoding (the page
 * starts an update's JPEGs while the one before draws), one on the wire. Full-screen motion in a headless
 * Chromium, alternating runs on the busy 2-core VM: 16.2, 26, 12.8, 9.2 updates/s with three against 20.4,
 * 18.4, 9, 6 with two.
 */
const MAX_IN_FLIGHT = 3;
/** Bytes the viewer's socket may hold before we wait for it (a slow network rather than a slow page). */
const MAX_BUFFERED = 1024 * 1024;
/** How long the capture loop waits for damage before checking whether it should still run. */
const IDLE_WAIT_MS = 5000;
/** zlib level of the viewers' deflate streams (zlib's default). */
const DEFLATE_LEVEL = 6;
/** The largest message a viewer may send: clipboard text (200 KiB in X) plus JSON. */
const MAX_VIEWER_MESSAGE = 256 * 1024;
/**
 * A viewer waiting for at least this share of the screen's tiles (and for at least half the tiles of their
 * bounding box) gets that box as one JPEG. Bench (stream-painter, 1080p changing 60 times a second): 5 JPEG
 * bands of tiles per update gave the page 7.6 updates/s where MJPEG made 27.2 frames/s.
 */
const LOSSY_SHARE = 1 / 4;
/** How long after the last large change (sent as one JPEG) its tiles are sent again losslessly. */
const REFRESH_MS = 200;
/**
 * A viewer whose page would take longer than this to decode and draw a whole-size JPEG of the area (estimated
 * from the times its acknowledgements report, per decoded pixel) gets it at half size: a quarter of the
 * pixels to decode. 40 ms keeps up with 25 updates/s. A headless Chromium on the shared 2-core VM took
 * 90-170 ms to decode and draw one 1080p JPEG, so it drew 3 updates/s at whole size. The page's own time,
 * not the round trip: a busy server or network would pass for a slow page.
 */
const LOSSY_BUDGET_MS = 40;
/** Lossy updates smaller than this are not timed for LOSSY_BUDGET_MS. */
const MIN_SAMPLE_PIXELS = 100_000;

export interface DesktopOptions {
  /** Default: $DISPLAY. */
  display?: string;
  /** Viewers may type, point and use the clipboard. */
  control: boolean;
  /** JPEG quality for photo-like tiles. */
  quality: number;
  /** Upper bound on captures per second. */
  fps: number;
  /** Show this part of the screen (root coordinates) instead of all of it. */
  region?: Rect;
  /** Show this monitor (an index into display.monitors(), or its name). */
  monitor?: number | string;
}

export interface DesktopStats {
  viewers: number;
  detection: 'damage' | 'polling';
  captures: number;
  updates: number;
  rects: number;
  bytesSent: number;
  /** Input events acted on (control only). */
  inputs: number;
}

interface Viewer {
  readonly socket: WebSocket;
  readonly dirty: TileSet;
  /** Tiles this viewer last got as JPEG by LOSSY_SHARE: sent again losslessly when the screen is still. */
  readonly lossy: TileSet;
  /** REFRESH_MS passed since `lossy` was last added to: refresh it when ready. */
  refresh: boolean;
  /** Updates sent and not yet acknowledged: how many JPEG pixels each carries. */
  readonly inFlight: { lossyPixels: number }[];
  /** The page's milliseconds to decode and draw a lossy update, per megapixel (a running mean). */
  msPerMegapixel: number;
  sending: boolean;
  /** Keysyms and buttons this viewer holds down: released when it goes. */
  readonly keys: Set<number>;
  readonly buttons: Set<number>;
  /** Copy rectangles (scrolls) to send ahead of the next update's pixels, in order. */
  copies: EncodedRect[];
  /** This viewer's zlib stream for lossless rectangles; the page keeps the matching inflater. */
  readonly deflate: Deflate;
}

/** A message from the page (JSON). Anything else is ignored. */
type ViewerMessage =
  | { t: 'ack'; ms?: number }
  | { t: 'key'; k: number; d: boolean }
  | { t: 'text'; s: string }
  | { t: 'move'; x: number; y: number }
  | { t: 'btn'; b: number; d: boolean }
  | { t: 'wheel'; dx: number; dy: number }
  | { t: 'clip'; s: string };

export class RemoteDesktop {
  readonly width: number;
  readonly height: number;
  readonly lost: Promise<Error>;
  readonly #display: Display;
  readonly #watch: ChangeWatch;
  readonly #origin: { x: number; y: number };
  readonly #options: DesktopOptions;
  readonly #input: Input | null;
  readonly #clipboard: Clipboard | null;
  readonly #screen: ScreenCopy;
  /** The capture loop's: tiles DAMAGE reported, and tiles whose pixels changed, reused every capture. */
  readonly #damaged: TileSet;
  readonly #changed: TileSet;
  readonly #sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_VIEWER_MESSAGE });
  readonly #viewers = new Set<Viewer>();
  /** True while the screen copy is not known to be current (no viewer kept the capture loop running). */
  #stale = true;
  #version = 0;
  #encodeCache = new Map<string, Promise<EncodedRect | null>>();
  #encodeVersion = -1;
  #closed = false;
  #wake: (() => void) | null = null;
  #poked = new AbortController();
  #cursor: string | null = null;
  #stopCursor: (() => void) | null = null;
  #inputChain: Promise<void> = Promise.resolve();
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #loopDone: Promise<void>;
  readonly #stats = { captures: 0, updates: 0, rects: 0, bytesSent: 0, inputs: 0 };

  private constructor(
    display: Display,
    watch: ChangeWatch,
    area: Rect,
    options: DesktopOptions,
    input: Input | null,
    clipboard: Clipboard | null,
  ) {
    this.#display = display;
    this.#watch = watch;
    this.#origin = { x: area.x, y: area.y };
    this.width = area.width;
    this.height = area.height;
    this.#options = options;
    this.#input = input;
    this.#clipboard = clipboard;
    this.#screen = new ScreenCopy(area.width, area.height);
    this.#damaged = new TileSet(area.width, area.height);
    this.#changed = new TileSet(area.width, area.height);
    this.lost = display.lost;
    clipboard?.onChange(() => void this.#shareClipboard());
    this.#loopDone = this.#loop().catch(() => {});
  }

  /** Connects to the display; with `control`, opens XTEST input and the clipboard too. */
  static async open(options: DesktopOptions): Promise<RemoteDesktop> {
    const display = await connect(options.display !== undefined ? { display: options.display } : {});
    try {
      const area = await areaOf(display, options);
      const watch = await display.watchChanges({ rectangles: true });
      const input = options.control ? await openInput(display) : null;
      const clipboard = options.control ? await openClipboard(display) : null;
      const desktop = new RemoteDesktop(display, watch, area, options, input, clipboard);
      await desktop.#followCursor();
      return desktop;
    } catch (error) {
      await display.close().catch(() => {});
      throw error;
    }
  }

  /** Whether viewers may type and point. */
  get control(): boolean {
    return this.#options.control;
  }

  get detection(): 'damage' | 'polling' {
    return this.#watch.mode;
  }

  /** Whether an HTTP path is the desktop's (the page, or the socket). */
  serves(pathname: string): boolean {
    return pathname === DESKTOP_PATH || pathname === DESKTOP_SOCKET_PATH;
  }

  /** Serves the page (GET /desktop); the caller has checked the token. */
  servePage(request: IncomingMessage, response: ServerResponse): void {
    if (new URL(request.url ?? '/', 'http://localhost').pathname === DESKTOP_SOCKET_PATH) {
      const text = Buffer.from(`${DESKTOP_SOCKET_PATH} is a WebSocket; open ${DESKTOP_PATH} in a browser\n`);
      response.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' });
      response.end(text);
      return;
    }
    const body = Buffer.from(DESKTOP_HTML);
    response.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
    });
    response.end(response.req.method === 'HEAD' ? undefined : body);
  }

  /**
   * An HTTP upgrade that passed the server's Host, Origin and token checks (`server.onUpgrade`): another
   * path, or a desktop that is closing, is answered and the socket closed.
   */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const problem =
      url.pathname !== DESKTOP_SOCKET_PATH
        ? { status: 404, reason: `no WebSocket at ${url.pathname}; use ${DESKTOP_SOCKET_PATH}` }
        : this.#closed
          ? { status: 503, reason: 'the desktop is closing' }
          : null;
    if (problem) {
      refuse(socket, problem.status, problem.reason);
      return;
    }
    this.#sockets.handleUpgrade(request, socket, head, (ws) => this.#addViewer(ws));
  }

  stats(): DesktopStats {
    return { viewers: this.#viewers.size, detection: this.#watch.mode, ...this.#stats };
  }

  /** Closes every viewer (releasing what they hold), stops capturing and closes the X connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const viewer of [...this.#viewers]) viewer.socket.terminate();
    this.#poke();
    this.#stopCursor?.();
    clearTimeout(this.#refreshTimer);
    await Promise.race([this.#loopDone, new Promise((resolve) => setTimeout(resolve, 1000))]);
    await this.#inputChain.catch(() => {});
    await this.#input?.close().catch(() => {});
    await this.#clipboard?.close().catch(() => {});
    this.#watch.close();
    await this.#display.close().catch(() => {});
  }

  #addViewer(socket: WebSocket): void {
    const viewer: Viewer = {
      socket,
      dirty: new TileSet(this.width, this.height),
      lossy: new TileSet(this.width, this.height),
      refresh: false,
      inFlight: [],
      msPerMegapixel: 0,
      sending: false,
      keys: new Set(),
      buttons: new Set(),
      copies: [],
      deflate: createDeflate({ level: DEFLATE_LEVEL, memLevel: 9 }),
    };
    viewer.dirty.fill();
    viewer.deflate.on('error', () => socket.terminate());
    this.#viewers.add(viewer);
    socket.send(
      JSON.stringify({ t: 'hello', width: this.width, height: this.height, control: this.#options.control }),
    );
    if (this.#cursor) socket.send(this.#cursor);
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.#onMessage(viewer, data.toString());
    });
    socket.on('close', () => this.#removeViewer(viewer));
    socket.on('error', () => socket.terminate());
    this.#poke();
    this.#pump(viewer);
  }

  /** Wakes the capture loop from any wait: a viewer came, or the desktop closes. */
  #poke(): void {
    this.#wake?.();
    this.#poked.abort();
    this.#poked = new AbortController();
  }

  #removeViewer(viewer: Viewer): void {
    if (!this.#viewers.delete(viewer)) return;
    viewer.deflate.close();
    if (this.#input && (viewer.keys.size > 0 || viewer.buttons.size > 0)) {
      const input = this.#input;
      const keys = [...viewer.keys];
      const buttons = [...viewer.buttons];
      this.#queueInput(async () => {
        for (const k of keys) await input.keysym(k, false);
        for (const b of buttons) input.button(b, false);
      });
    }
    if (this.#viewers.size === 0) this.#stale = true;
  }

  #onMessage(viewer: Viewer, text: string): void {
    let message: ViewerMessage;
    try {
      message = JSON.parse(text) as ViewerMessage;
    } catch {
      return;
    }
    if (message.t === 'ack') {
      const update = viewer.inFlight.shift();
      const ms = message.ms;
      // Small JPEGs are mostly fixed costs, which say nothing of the cost of a large one.
      if (
        update &&
        update.lossyPixels >= MIN_SAMPLE_PIXELS &&
        typeof ms === 'number' &&
        ms >= 0 &&
        ms < 60_000
      ) {
        const sample = ms / (update.lossyPixels / 1e6);
        viewer.msPerMegapixel =
          viewer.msPerMegapixel === 0 ? sample : viewer.msPerMegapixel * 0.7 + sample * 0.3;
      }
      this.#pump(viewer);
      return;
    }
    const input = this.#input;
    if (!input) return; // read-only: nothing a viewer sends reaches X
    const int = (v: unknown, min: number, max: number): number | null =>
      typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : null;
    switch (message.t) {
      case 'key': {
        const keysym = int(message.k, 1, 0x1fffffff);
        if (keysym === null) return;
        const down = message.d === true;
        if (down) viewer.keys.add(keysym);
        else if (!viewer.keys.delete(keysym)) return;
        this.#queueInput(() => input.keysym(keysym, down));
        return;
      }
      case 'text':
        if (typeof message.s === 'string' && message.s.length <= 1024) {
          const text = message.s;
          this.#queueInput(() => input.type(text));
        }
        return;
      case 'move': {
        const x = int(message.x, 0, this.width - 1);
        const y = int(message.y, 0, this.height - 1);
        if (x === null || y === null) return;
        this.#queueInput(() => input.move(this.#origin.x + x, this.#origin.y + y));
        return;
      }
      case 'btn': {
        const button = int(message.b, 1, 3);
        if (button === null) return;
        const down = message.d === true;
        if (down) viewer.buttons.add(button);
        else if (!viewer.buttons.delete(button)) return;
        this.#queueInput(() => input.button(button, down));
        return;
      }
      case 'wheel': {
        const dx = int(message.dx, -20, 20) ?? 0;
        const dy = int(message.dy, -20, 20) ?? 0;
        this.#queueInput(() => {
          // X scrolls by clicks of buttons 4 (up), 5 (down), 6 (left), 7 (right).
          for (let i = 0; i < Math.abs(dy); i++) input.click(dy < 0 ? 4 : 5);
          for (let i = 0; i < Math.abs(dx); i++) input.click(dx < 0 ? 6 : 7);
        });
        return;
      }
      case 'clip':
        if (typeof message.s === 'string' && this.#clipboard) {
          const text = message.s;
          const clipboard = this.#clipboard;
          this.#queueInput(() => clipboard.write(text));
        }
        return;
    }
  }

  /** Input runs in arrival order, one event after the other (keysym() may wait for a keymap change). */
  #queueInput(run: () => void | Promise<void>): void {
    this.#inputChain = this.#inputChain
      .then(async () => {
        if (this.#display.closed) return;
        await run();
        this.#stats.inputs++;
      })
      .catch(() => {});
  }

  async #shareClipboard(): Promise<void> {
    const text = await this.#clipboard?.read().catch(() => null);
    if (text === null || text === undefined) return;
    const message = JSON.stringify({ t: 'clip', s: text });
    for (const viewer of this.#viewers) viewer.socket.send(message);
  }

  async #followCursor(): Promise<void> {
    try {
      this.#stopCursor = await watchCursor(this.#display, (shape) => void this.#shareCursor(shape));
    } catch {
      // No XFIXES: the page keeps its default cursor.
    }
  }

  async #shareCursor(shape: CursorShape): Promise<void> {
    if (shape.width === 0 || shape.height === 0) return;
    const png = await sharp(shape.rgba, { raw: { width: shape.width, height: shape.height, channels: 4 } })
      .png()
      .toBuffer();
    this.#cursor = JSON.stringify({
      t: 'cursor',
      png: png.toString('base64'),
      x: shape.xhot,
      y: shape.yhot,
    });
    for (const viewer of this.#viewers) viewer.socket.send(this.#cursor);
  }

  async #loop(): Promise<void> {
    const interval = 1000 / this.#options.fps;
    let lastCapture = -Infinity;
    const whole: Rect = { x: 0, y: 0, width: this.width, height: this.height };
    while (!this.#closed) {
      if (this.#viewers.size === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        continue;
      }
      if (this.#stale) {
        this.#watch.take();
        await this.#capture([whole]);
        this.#stale = false;
        for (const viewer of this.#viewers) this.#pump(viewer);
        continue;
      }
      const changed = await this.#watch.changed(IDLE_WAIT_MS, this.#poked.signal);
      if (!changed || this.#closed) continue;
      const pause = lastCapture + interval - performance.now();
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      lastCapture = performance.now();
      const damaged = this.#damaged;
      damaged.clear();
      for (const rect of this.#watch.take())
        damaged.addRect({ ...rect, x: rect.x - this.#origin.x, y: rect.y - this.#origin.y });
      const bounds = damaged.bounds();
      if (!bounds) continue;
      // One capture of the whole area when it is mostly damaged: one round trip instead of a band's each.
      const dense = damaged.count() * 2 * TILE * TILE >= bounds.width * bounds.height;
      await this.#capture(dense ? [bounds] : damaged.rects());
    }
  }

  /** Captures `rects` into the screen copy; the tiles that really changed go to every viewer. */
  async #capture(rects: Rect[]): Promise<void> {
    const changed = this.#changed;
    changed.clear();
    let scroll: { copy: EncodedRect; source: Rect; rest: TileSet } | null = null;
    for (const rect of rects) {
      const frame = await this.#display.capture({
        x: this.#origin.x + rect.x,
        y: this.#origin.y + rect.y,
        width: rect.width,
        height: rect.height,
      });
      try {
        const { data, stride } = bgrxOf(frame);
        // One captured rectangle only: with several, a copy's source rows could be ones an earlier
        // rectangle of this capture changed, which no viewer has yet.
        const found =
          rects.length === 1 && !this.#stale
            ? findScroll(
                this.#screen.rowsOf(rect),
                {
                  words: new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2),
                  start: 0,
                  stride: stride >>> 2,
                },
                rect.width,
                rect.height,
              )
            : null;
        this.#screen.update(rect, data, stride, changed);
        if (found) {
          const target = {
            x: rect.x + found.x,
            y: rect.y + found.y,
            width: found.width,
            height: found.height,
          };
          const rest = new TileSet(this.width, this.height);
          rest.addAll(changed);
          rest.deleteInside(target);
          if (rest.count() < changed.count())
            scroll = {
              copy: copyRect(target, target.y + found.dy),
              source: { ...target, y: target.y + found.dy },
              rest,
            };
        }
      } finally {
        frame.release();
      }
    }
    this.#stats.captures++;
    if (changed.empty) return;
    this.#version++;
    for (const viewer of this.#viewers) {
      if (scroll && !viewer.dirty.touches(scroll.source) && !viewer.lossy.touches(scroll.source)) {
        viewer.copies.push(scroll.copy);
        viewer.dirty.addAll(scroll.rest);
      } else viewer.dirty.addAll(changed);
      this.#pump(viewer);
    }
  }

  /** (Re)starts the wait after a large change, after which viewers' lossy tiles are sent again losslessly. */
  #armRefresh(): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => {
      for (const viewer of this.#viewers)
        if (!viewer.lossy.empty) {
          viewer.refresh = true;
          this.#pump(viewer);
        }
    }, REFRESH_MS);
  }

  /**
   * What the viewer gets next, and how: a lossless refresh of its lossy tiles when it is due (first, so that
   * a screen that keeps changing a little cannot put it off), else its dirty tiles (one JPEG of their area
   * when they cover LOSSY_SHARE of the screen, else cropped rectangles by content); #pump puts the pending
   * copies ahead of them.
   */
  #nextUpdate(viewer: Viewer): { rects: Rect[]; mode: EncodeMode } | null {
    const { dirty, lossy } = viewer;
    if (viewer.refresh && !lossy.empty) {
      const rects = lossy.rects();
      lossy.clear();
      viewer.refresh = false;
      return { rects, mode: 'refresh' };
    }
    if (!dirty.empty) {
      const count = dirty.count();
      const bounds = dirty.bounds()!;
      const tiles = (bounds.width * bounds.height) / (TILE * TILE);
      let next: { rects: Rect[]; mode: EncodeMode };
      if (count >= dirty.bits.length * LOSSY_SHARE && count * 2 >= tiles) {
        const area = dirty.crop(bounds);
        lossy.addRect(area);
        viewer.refresh = false;
        this.#armRefresh();
        const wholeMs = (viewer.msPerMegapixel * area.width * area.height) / 1e6;
        next = { rects: [area], mode: wholeMs > LOSSY_BUDGET_MS ? 'lossy-half' : 'lossy' };
      } else next = { rects: dirty.rects().map((rect) => dirty.crop(rect)), mode: 'auto' };
      dirty.clear();
      return next;
    }
    return viewer.copies.length > 0 ? { rects: [], mode: 'auto' } : null;
  }

  /** Sends the viewer what changed since its last update, if it is ready for one. */
  #pump(viewer: Viewer): void {
    const { socket } = viewer;
    if (
      this.#stale ||
      viewer.sending ||
      viewer.inFlight.length >= MAX_IN_FLIGHT ||
      socket.readyState !== socket.OPEN ||
      socket.bufferedAmount > MAX_BUFFERED
    )
      return;
    const next = this.#nextUpdate(viewer);
    if (!next) return;
    // Taken with the dirty tiles: the copies were valid on the canvas as it is before this update's pixels.
    const copies = viewer.copies;
    viewer.copies = [];
    viewer.sending = true;
    Promise.all(next.rects.map((rect) => this.#encoded(rect, next.mode)))
      .then(async (results) => {
        const encoded = [...copies, ...results.filter((rect) => rect !== null)];
        if (encoded.length === 0) {
          // A refresh that left everything as it was: changes that came meanwhile go now.
          viewer.sending = false;
          this.#pump(viewer);
          return;
        }
        const { plain, tail } = updateParts(encoded);
        const message = updateMessage(await deflatePiece(viewer.deflate, plain), tail);
        viewer.sending = false;
        if (socket.readyState !== socket.OPEN) return;
        viewer.inFlight.push({ lossyPixels: lossyPixelsOf(encoded) });
        this.#stats.updates++;
        this.#stats.rects += encoded.length;
        this.#stats.bytesSent += message.length;
        // Called once the bytes are handed to the kernel: a viewer held back by a full socket resumes here.
        socket.send(message, () => this.#pump(viewer));
      })
      .catch(() => {
        viewer.sending = false;
        // An encode failed: the viewer's deflate stream may be half-written, which the page cannot follow.
        viewer.socket.terminate();
      });
  }

  /**
   * The encoded pixels of `rect` as the screen copy holds them now. Viewers in step ask for the same
   * rectangles of the same version: each is encoded once for all of them.
   */
  #encoded(rect: Rect, mode: EncodeMode): Promise<EncodedRect | null> {
    if (this.#encodeVersion !== this.#version) {
      this.#encodeCache = new Map();
      this.#encodeVersion = this.#version;
    }
    const key = `${mode} ${rect.x},${rect.y},${rect.width},${rect.height}`;
    let encoded = this.#encodeCache.get(key);
    if (!encoded) {
      encoded = encodeRect(this.#screen, rect, this.#options.quality, mode);
      this.#encodeCache.set(key, encoded);
    }
    return encoded;
  }
}

/**
 * Why `--control` cannot be granted with these options, or null: on an address other machines reach, a
 * server without a token would let anyone on the network type into the display.
 */
export function checkControl(options: {
  control?: boolean;
  host?: string;
  token?: string | undefined;
  window?: number | undefined;
}): string | null {
  if (!options.control) return null;
  if (options.window !== undefined)
    return '--control drives the screen, a --region or a --monitor; --window streams pictures only';
  const host = options.host ?? '127.0.0.1';
  if (!options.token && !isLoopbackHost(host.replace(/^\[|\]$/g, '').toLowerCase()))
    return (
      `--control on ${host} without a token would let anyone who reaches that address type into the display; ` +
      'drop --no-token (or give --token SECRET), or listen on 127.0.0.1'
    );
  return null;
}

/** JPEG pixels the page decodes for these rectangles. */
function lossyPixelsOf(rects: EncodedRect[]): number {
  let pixels = 0;
  for (const rect of rects)
    if (rect.encoding === 'jpeg') pixels += rect.width * rect.height;
    else if (rect.encoding === 'jpeg-half') pixels += Math.ceil(rect.width / 2) * Math.ceil(rect.height / 2);
  return pixels;
}

/**
 * A capture's pixels as 4-byte-aligned BGRX rows, the screen copy's layout: the frame's own memory when it is
 * that already (32 bpp TrueColor), else a conversion (16 bpp and other layouts).
 */
function bgrxOf(frame: Frame): { data: Buffer; stride: number } {
  if (isWordBGRX(frame)) return { data: frame.data, stride: frame.stride };
  const rgb = frame.toRGB();
  const words = new Uint32Array(frame.width * frame.height);
  for (let i = 0, o = 0; i < words.length; i++, o += 3)
    words[i] = (rgb[o]! << 16) | (rgb[o + 1]! << 8) | rgb[o + 2]!;
  return { data: Buffer.from(words.buffer), stride: frame.width * 4 };
}

async function areaOf(display: Display, options: DesktopOptions): Promise<Rect> {
  const screen = { x: 0, y: 0, width: display.width, height: display.height };
  if (options.region) return options.region;
  if (options.monitor !== undefined) {
    const wanted = options.monitor;
    const monitors = await display.monitors();
    const monitor = typeof wanted === 'number' ? monitors[wanted] : monitors.find((m) => m.name === wanted);
    if (!monitor)
      throw new RangeError(
        `--monitor ${wanted}: ${display.name} has ${monitors.map((m) => `${m.index} '${m.name}'`).join(', ')}`,
      );
    return { x: monitor.x, y: monitor.y, width: monitor.width, height: monitor.height };
  }
  return screen;
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const statusText = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[
    status
  ];
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
