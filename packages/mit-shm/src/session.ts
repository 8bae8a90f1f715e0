// The inside of one connection: the wire, the transport, the pooled capture memory, live images, attached
// segments, windows and GCs. Capture, image and window code take a Session as an argument; the public
// Display (display.ts) holds one and is only the face of it, so nothing calls back into Display.

import type { SegmentHandle, ShmInfo } from './display';
import { type ImageLayout, type PixelFormat, pixelFormat } from './format';
import { CaptureSlot, type ImageHost, type PutTarget, type ShmImage } from './image';
import { prove } from './transport/prove';
import { SysvTransport } from './transport/sysv';
import { type Backing, pageRound, type Transport, type TransportName } from './transport/transport';
import type { Wire } from './wire';

/** Something the session must close with the connection (windows, change watches). */
export interface Closable {
  close(): void;
}

export class Session implements ImageHost {
  readonly wire: Wire;
  readonly shm: ShmInfo;
  readonly name: string;
  readonly root: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  /** Pixel format of the root window (and of captures of it). */
  readonly format: PixelFormat;
  readonly segments = new Set<SegmentHandle>();
  /** Windows, change watches: closed before the connection. */
  readonly resources = new Set<Closable>();
  readonly #transport: Transport;
  /**
   * Live images, held weakly: dispose() and close() are the plan; an image dropped without dispose() is
   * detached and released by the registry when it is collected (the safety net).
   */
  readonly #imageRefs = new Set<WeakRef<ShmImage>>();
  readonly #refOf = new WeakMap<ShmImage, WeakRef<ShmImage>>();
  readonly #lostImages = new FinalizationRegistry<{ ref: WeakRef<ShmImage>; backing: Backing }>(
    ({ ref, backing }) => {
      this.#imageRefs.delete(ref);
      backing.release();
    },
  );
  readonly #captureSlots: CaptureSlot[] = [];
  readonly #gcs = new Map<number, number>();
  #sysvProof: Promise<void> | null = null;

  constructor(wire: Wire, transport: Transport, shm: ShmInfo) {
    this.wire = wire;
    this.#transport = transport;
    this.shm = shm;
    this.name = wire.displayName;
    const screen = wire.screen;
    this.root = screen.root;
    this.width = screen.pixel_width;
    this.height = screen.pixel_height;
    this.depth = screen.root_depth;
    this.format = this.formatFor(this.depth);
  }

  get transportName(): TransportName {
    return this.#transport.name;
  }

  /** How the server lays out images of `depth` (masks from a TrueColor visual of that depth). */
  formatFor(depth: number): PixelFormat {
    const screen = this.wire.screen;
    const visuals = screen.depths[depth];
    const visual =
      (depth === screen.root_depth ? visuals?.[screen.root_visual] : undefined) ??
      Object.values(visuals ?? {}).find((v) => v.class === 4 || v.class === 5);
    return pixelFormat(
      {
        format: this.wire.setup.format,
        image_byte_order: this.wire.setup.image_byte_order,
        ...(visual ? { visualMasks: visual } : {}),
      },
      depth,
    );
  }

  allocate(size: number): Backing {
    return this.#transport.allocate(pageRound(Math.max(1, size)));
  }

  get(
    backing: Backing,
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    offset: number,
    depth: number,
  ): Promise<void> {
    const transfer = { drawable, x, y, width, height, offset, depth };
    if (backing.attached) return this.#transport.get(backing, transfer);
    // Sent now, behind the attach: the server runs requests in order, so it copies the pixels while the
    // attach is confirmed. Waiting for that round trip first cost more than the round trip: in `xshot shot`
    // a 5-9 ms mark-compact GC often fell in it, and the server sat idle until it ended. A failed attach is
    // reported as itself, not as the BadShmSeg the request then gets.
    const got = this.#transport.get(backing, transfer);
    got.catch(() => {});
    return backing.ready.then(() => got);
  }

  async put(
    backing: Backing,
    layout: ImageLayout,
    offset: number,
    drawable: number,
    target: PutTarget,
  ): Promise<void> {
    if (!backing.attached) await backing.ready;
    const gc = this.#gcs.get(layout.format.depth) ?? (await this.gcFor(layout.format.depth));
    return this.#transport.put(backing, {
      drawable,
      gc,
      x: target.x,
      y: target.y,
      width: target.width,
      height: target.height,
      offset,
      depth: layout.format.depth,
      totalWidth: layout.width,
      totalHeight: layout.height,
      srcX: target.srcX,
      srcY: target.srcY,
      stride: layout.stride,
      bitsPerPixel: layout.format.bitsPerPixel,
    });
  }

  async createSharedPixmap(backing: Backing, layout: ImageLayout, offset: number): Promise<number> {
    if (this.#transport.name === 'socket' || !this.shm.sharedPixmaps)
      throw new Error(
        `createPixmap: ${this.name} ${this.#transport.name === 'socket' ? 'uses the socket transport (no shared memory)' : 'offers no shared pixmaps'}; put the image into a pixmap with image.put(pixmap) instead`,
      );
    await backing.ready;
    const pixmap = this.wire.allocId();
    await this.wire.shmCreatePixmap(
      pixmap,
      this.root,
      layout.width,
      layout.height,
      layout.format.depth,
      backing.shmseg,
      offset,
    );
    return pixmap;
  }

  freePixmap(pixmap: number): void {
    if (!this.wire.closed) this.wire.client.FreePixmap(pixmap);
  }

  /**
   * Settles once the server is known to see this process's SysV segments (the sysv transport proved it at
   * connect; otherwise one pattern round trip, ~2 ms, remembered). On another IPC namespace an id names
   * somebody else's segment, and the server would read or write that one.
   */
  sysvVisible(where: string): Promise<void> {
    if (this.#transport.name === 'sysv') return Promise.resolve();
    this.#sysvProof ??= prove(this.wire, new SysvTransport(this.wire)).catch((err: unknown) => {
      throw new Error(
        `${where}: the X server does not see this process's SysV segments (${(err as Error).message}); attach from a process in the server's IPC namespace`,
      );
    });
    return this.#sysvProof;
  }

  /** Follow `image` until it is disposed (or collected, the safety net). */
  track(image: ShmImage, backing: Backing): void {
    const ref = new WeakRef(image);
    this.#imageRefs.add(ref);
    this.#refOf.set(image, ref);
    this.#lostImages.register(image, { ref, backing }, image);
  }

  forget(image: ShmImage): void {
    this.#lostImages.unregister(image);
    const ref = this.#refOf.get(image);
    if (ref) this.#imageRefs.delete(ref);
  }

  /** A GC usable on drawables of `depth` (GCs are bound to a depth). */
  async gcFor(depth: number): Promise<number> {
    let gc = this.#gcs.get(depth);
    if (gc !== undefined) return gc;
    gc = this.wire.allocId();
    this.#gcs.set(depth, gc);
    const client = this.wire.client;
    if (depth === this.depth) {
      client.CreateGC(gc, this.root, { graphicsExposures: 0 });
    } else {
      const pixmap = this.wire.allocId();
      client.CreatePixmap(pixmap, this.root, depth, 1, 1);
      client.CreateGC(gc, pixmap, { graphicsExposures: 0 });
      client.FreePixmap(pixmap);
    }
    return gc;
  }

  /**
   * A capture buffer of at least `size` bytes, not in use by a request in flight. Reusing one invalidates
   * the frame it held: that is the documented lifetime of frame.data.
   */
  takeCaptureSlot(size: number): CaptureSlot {
    let slot = this.#captureSlots.find((s) => !s.busy && s.size >= size);
    if (!slot) {
      const small = this.#captureSlots.findIndex((s) => !s.busy);
      if (small >= 0) this.#captureSlots.splice(small, 1)[0]!.release();
      slot = new CaptureSlot(this.allocate(size));
      this.#captureSlots.push(slot);
    }
    slot.generation++;
    return slot;
  }

  /** Detach and free every image, segment, window, watch and GC, then close the connection. */
  async close(): Promise<void> {
    for (const ref of [...this.#imageRefs]) ref.deref()?.dispose();
    for (const slot of this.#captureSlots) slot.release();
    this.#captureSlots.length = 0;
    for (const handle of [...this.segments]) handle.detach();
    for (const resource of [...this.resources]) resource.close();
    if (!this.wire.closed) for (const gc of this.#gcs.values()) this.wire.client.FreeGC(gc);
    this.#gcs.clear();
    await this.wire.close();
  }
}

const sessions = new WeakMap<object, Session>();

/** Ties a public Display to its session (display.ts calls this once, in its constructor). */
export function bindSession(display: object, session: Session): void {
  sessions.set(display, session);
}

/**
 * The session behind a Display: for this package's own modules, tests and benchmarks, which reach the raw
 * connection through `sessionOf(display).wire`. Not exported from the package.
 */
export function sessionOf(display: object): Session {
  const session = sessions.get(display);
  if (!session) throw new TypeError('not a Display made by connect()');
  return session;
}
