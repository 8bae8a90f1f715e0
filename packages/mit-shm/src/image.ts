// Images in shared memory (ShmImage), captured frames (Frame) and the pooled buffers frames live in.
// What to capture and the capture loops are in capture.ts.

import {
  fromRGBA,
  type ImageLayout,
  type PixelFormat,
  type RowPlacement,
  strideOf,
  toRGB,
  toRGBA,
} from './format';
import type { Backing, TransportName } from './transport/transport';

/** What an image needs from its connection. Implemented by Session. */
export interface ImageHost {
  readonly transportName: TransportName;
  formatFor(depth: number): PixelFormat;
  allocate(size: number): Backing;
  get(
    backing: Backing,
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    offset: number,
    depth: number,
  ): Promise<void>;
  put(
    backing: Backing,
    layout: ImageLayout,
    offset: number,
    drawable: number,
    target: PutTarget,
  ): Promise<void>;
  createSharedPixmap(backing: Backing, layout: ImageLayout, offset: number): Promise<number>;
  freePixmap(pixmap: number): void;
  forget(image: ShmImage): void;
}

/** Where and which part of an image `put` draws. */
export interface PutOptions {
  /** Destination in the drawable. Default 0, 0. */
  x?: number;
  y?: number;
  /** Source rectangle in the image. Default: all of it. */
  srcX?: number;
  srcY?: number;
  width?: number;
  height?: number;
}

export interface PutTarget {
  x: number;
  y: number;
  srcX: number;
  srcY: number;
  width: number;
  height: number;
}

/** The memory under an image (to attach it on another display): for this package's modules, not exported. */
export let backingOf: (image: ShmImage) => Backing;

/** An image whose pixels live in memory shared with the X server (on the socket transport: our memory). */
export class ShmImage implements Disposable {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly stride: number;
  readonly format: PixelFormat;
  /** Byte offset of the image in its backing (non-zero for images over an attached segment). */
  readonly offset: number;
  #backing: Backing | null;
  #data: Buffer;
  #pixmap = 0;
  readonly #host: ImageHost;
  readonly #ownsBacking: boolean;

  /** @internal images are made by `display.createImage()` */
  constructor(
    host: ImageHost,
    backing: Backing,
    width: number,
    height: number,
    format: PixelFormat,
    offset = 0,
    ownsBacking = true,
  ) {
    this.#host = host;
    this.#backing = backing;
    this.width = width;
    this.height = height;
    this.depth = format.depth;
    this.format = format;
    this.stride = strideOf(format, width);
    this.offset = offset;
    this.#ownsBacking = ownsBacking;
    this.#data = backing.buffer.subarray(offset, offset + this.stride * height);
  }

  /** The pixels: ZPixmap rows of `stride` bytes, aliasing the shared memory. */
  get data(): Buffer {
    this.#live('data');
    return this.#data;
  }

  /** How the pixels travel: 'sysv', 'memfd' or 'socket'. */
  get transport(): TransportName {
    return this.#host.transportName;
  }

  get disposed(): boolean {
    return this.#backing === null;
  }

  static {
    backingOf = (image) => image.#live('backing');
  }

  /** Fill the image from `drawable` (a window or pixmap id) starting at x, y (ShmGetImage). */
  async get(drawable: number, x = 0, y = 0): Promise<void> {
    const backing = this.#live('get');
    checkId('get', 'drawable', drawable);
    checkInt('get', 'x', x, -32768, 32767);
    checkInt('get', 'y', y, -32768, 32767);
    await this.#host.get(backing, drawable, x, y, this.width, this.height, this.offset, this.depth);
  }

  /**
   * Draw the image (or the part srcX, srcY, width, height of it) into `drawable` at x, y (ShmPutImage).
   * Resolves on the server's ShmCompletion: the image may be written again at once.
   */
  put(drawable: number, options: PutOptions = {}): Promise<void> {
    try {
      const backing = this.#live('put');
      checkId('put', 'drawable', drawable);
      const srcX = options.srcX ?? 0;
      const srcY = options.srcY ?? 0;
      checkInt('put', 'srcX', srcX, 0, this.width - 1);
      checkInt('put', 'srcY', srcY, 0, this.height - 1);
      const width = options.width ?? this.width - srcX;
      const height = options.height ?? this.height - srcY;
      checkInt('put', 'width', width, 1, this.width - srcX);
      checkInt('put', 'height', height, 1, this.height - srcY);
      const x = options.x ?? 0;
      const y = options.y ?? 0;
      checkInt('put', 'x', x, -32768, 32767);
      checkInt('put', 'y', y, -32768, 32767);
      return this.#host.put(backing, this, this.offset, drawable, { x, y, srcX, srcY, width, height });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * A pixmap whose pixels are this image's memory (ShmCreatePixmap): draw into it with X, read it here
   * without a request. Needs shared memory and a server offering shared pixmaps (`display.shm.sharedPixmaps`).
   * Freed with the image.
   */
  async createPixmap(): Promise<number> {
    const backing = this.#live('createPixmap');
    if (this.#pixmap === 0) this.#pixmap = await this.#host.createSharedPixmap(backing, this, this.offset);
    return this.#pixmap;
  }

  /** The pixels as tightly packed RGBA (alpha 255), in `out` if given. */
  toRGBA(out?: Buffer): Buffer {
    return toRGBA(this.data, this, out);
  }

  /** The pixels as 8-bit RGB, in `out` if given, rows placed as `rows` says (e.g. behind PNG filter bytes). */
  toRGB(out?: Buffer, rows?: RowPlacement): Buffer {
    return toRGB(this.data, this, out, rows);
  }

  /** Fill the image from tightly packed 8-bit RGBA of the same width and height (what decoders give). */
  fromRGBA(rgba: Buffer): void {
    fromRGBA(rgba, this.data, this);
  }

  /** Free the pixmap, detach the memory from the server and release it. Safe to call twice. */
  dispose(): void {
    const backing = this.#backing;
    if (!backing) return;
    this.#backing = null;
    if (this.#pixmap) this.#host.freePixmap(this.#pixmap);
    if (this.#ownsBacking) backing.release();
    this.#host.forget(this);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #live(what: string): Backing {
    if (!this.#backing) throw new Error(`ShmImage.${what}: the image was disposed; create a new one`);
    return this.#backing;
  }
}

/** A captured picture. `data` aliases shared memory until `release()` or until the memory is reused. */
export class Frame {
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly format: PixelFormat;
  /** Why the frame holds less than was asked for (a window captured without Composite); else absent. */
  reason?: string;
  /** process.hrtime.bigint() when the pixels arrived; `timestamp` converts it when first read. */
  readonly #arrived: bigint;
  #timestamp: number | undefined;
  readonly #slot: CaptureSlot;
  readonly #generation: number;
  readonly #offset: number;

  /** @internal frames come from `display.capture()`, `display.frames()` and `display.strips()` */
  constructor(
    slot: CaptureSlot,
    width: number,
    height: number,
    format: PixelFormat,
    arrived: bigint,
    offset = 0,
  ) {
    this.#slot = slot;
    this.#generation = slot.generation;
    this.#offset = offset;
    this.width = width;
    this.height = height;
    this.format = format;
    this.stride = strideOf(format, width);
    this.#arrived = arrived;
  }

  /**
   * performance.now() when the pixels arrived. Computed on first read: the global `performance` loads
   * node:perf_hooks (~1-1.5 ms of a one-shot process such as `xshot shot`, which never reads it).
   */
  get timestamp(): number {
    this.#timestamp ??= performance.now() - Number(process.hrtime.bigint() - this.#arrived) / 1e6;
    return this.#timestamp;
  }

  /** True until `release()` or until a later capture reuses the memory. */
  get valid(): boolean {
    return this.#slot.generation === this.#generation && this.#slot.backing !== null;
  }

  /** ZPixmap rows of `stride` bytes; channel order in `format.channels`. No copy was made. */
  get data(): Buffer {
    const backing = this.#slot.backing;
    if (this.#slot.generation !== this.#generation || !backing)
      throw new Error(
        'Frame.data: this frame was released or its memory was reused by a later capture; copy what you need to keep (Buffer.from(frame.data)) before the next capture',
      );
    return backing.buffer.subarray(this.#offset, this.#offset + this.stride * this.height);
  }

  /** The pixels as tightly packed RGBA (alpha 255), in `out` if given. */
  toRGBA(out?: Buffer): Buffer {
    return toRGBA(this.data, this, out);
  }

  /** The pixels as 8-bit RGB, in `out` if given, rows placed as `rows` says (e.g. behind PNG filter bytes). */
  toRGB(out?: Buffer, rows?: RowPlacement): Buffer {
    return toRGB(this.data, this, out, rows);
  }

  /** Hand the memory back for the next capture. The frame's data is unusable afterwards. */
  release(): void {
    if (this.#slot.generation === this.#generation) this.#slot.generation++;
  }
}

/**
 * Rows `y` to `y + height - 1` of a capture taken in strips (`display.strips()`): a Frame of its own, valid
 * until the next strip is asked for.
 */
export class Strip extends Frame {
  /** The row of the captured region this strip starts at. */
  readonly y: number;
  /** Rows in the whole region: the strip with `y + height === regionHeight` is the last. */
  readonly regionHeight: number;

  /** @internal strips come from `display.strips()` */
  constructor(
    slot: CaptureSlot,
    width: number,
    height: number,
    format: PixelFormat,
    arrived: bigint,
    offset: number,
    y: number,
    regionHeight: number,
  ) {
    super(slot, width, height, format, arrived, offset);
    this.y = y;
    this.regionHeight = regionHeight;
  }
}

/** One pooled buffer captures land in; `generation` changes whenever what it holds stops being a frame's. */
export class CaptureSlot {
  backing: Backing | null;
  generation = 0;
  busy = false;
  /** Its pages have been touched by this process (see grab() in capture.ts). */
  mapped = false;
  constructor(backing: Backing) {
    this.backing = backing;
  }
  get size(): number {
    return this.backing?.size ?? 0;
  }
  release(): void {
    this.generation++;
    this.backing?.release();
    this.backing = null;
  }
}

export function checkInt(
  where: string,
  name: string,
  value: unknown,
  min: number,
  max: number,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new RangeError(`${where}: ${name}=${String(value)} must be an integer between ${min} and ${max}`);
}

export function checkId(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > 0x1fffffff)
    throw new RangeError(
      `${where}: ${name}=${String(value)} is not an X resource id (a positive 29-bit integer)`,
    );
}
