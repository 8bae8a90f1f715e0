// Connecting to an X display, choosing how pixels travel (sysv, memfd or socket, each proven by a real
// attach and round trip), and the Display every other call goes through.

/// <reference path="./x11.d.ts" preserve="true" />
import { createClient, type X11Client, type X11Display } from 'x11';
import {
  type CaptureOptions,
  captureFrame,
  captureIntoSegment,
  type FramesOptions,
  framesOf,
  type StripsOptions,
  stripsOf,
} from './capture';
import { XConnectionError } from './errors';
import { type ImageLayout, type PixelFormat, pixelFormat, strideOf } from './format';
import { CaptureSlot, checkInt, type Frame, type PutTarget, ShmImage, type Strip } from './image';
import { listWindows, type WindowInfo } from './toplevel';
import { MemfdTransport } from './transport/memfd';
import { SocketTransport } from './transport/socket';
import { SysvTransport } from './transport/sysv';
import {
  type Backing,
  type ForeignMemory,
  pageRound,
  TRANSPORTS,
  type Transport,
  type TransportName,
} from './transport/transport';
import { createWindow, type WindowOptions, type XWindow } from './window';
import { Wire } from './wire';

export type TransportChoice = 'auto' | TransportName;

export interface ConnectOptions {
  /** The display, e.g. ':0' or 'host:1'. Default: $DISPLAY. */
  display?: string;
  /** Force a transport. Default: $XSHM_TRANSPORT, else 'auto' (sysv, then memfd, then socket). */
  transport?: TransportChoice;
  /** Give up connecting after this many milliseconds. Default 5000. */
  timeout?: number;
}

/** What MIT-SHM can do on this display, and what this connection uses. */
export interface ShmInfo {
  /** True when pixels travel through shared memory (transport 'sysv' or 'memfd'). */
  available: boolean;
  /** The server's MIT-SHM version, e.g. '1.2'; null without the extension. */
  version: string | null;
  transport: TransportName;
  /** The server offers pixmaps over shared memory (image.createPixmap()). */
  sharedPixmaps: boolean;
  /** Why a faster transport was not used (absent when sysv works). */
  reason?: string;
}

export interface Monitor {
  index: number;
  name: string;
  x: number;
  y: number;
  width: number;
  height: number;
  primary: boolean;
}

/** A handle on a shared segment attached to the display with `attachSegment()`. */
export interface SegmentHandle {
  readonly shmseg: number;
  readonly size: number;
  /** Detach it from the display (the segment itself is the caller's). */
  detach(): void;
}

const CONNECT_TIMEOUT_MS = 5000;

/** An open connection to one X display, on the screen its name selects (":1.1" is screen 1; default 0). */
export class Display {
  /** The display name as connected, e.g. ':1'. */
  readonly name: string;
  readonly shm: ShmInfo;
  /** The root window id. */
  readonly root: number;
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  /** Pixel format of the root window (and of captures of it). */
  readonly format: PixelFormat;
  /** @internal */
  readonly wire: Wire;
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
  readonly #segments = new Set<SegmentHandle>();
  readonly #windows = new Set<XWindow>();
  #closing: Promise<void> | null = null;

  /** @internal use connect() */
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

  /** The underlying `x11` client, typed (see src/x11.d.ts), for requests this package does not wrap. */
  get client(): X11Client {
    return this.wire.client;
  }

  /** @internal */
  get transportName(): TransportName {
    return this.#transport.name;
  }

  get closed(): boolean {
    return this.wire.closed;
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

  /** The monitors: RandR 1.5 GetMonitors, else Xinerama, else the whole screen (one round trip or two). */
  monitors(): Promise<Monitor[]> {
    this.wire.ensureOpen('monitors');
    return this.#queryMonitors();
  }

  /** The top-level windows as a user sees them: _NET_CLIENT_LIST with a window manager, else the root's mapped children. */
  windows(): Promise<WindowInfo[]> {
    return listWindows(this);
  }

  /**
   * Capture the root (default), a region of it, a monitor, or a window's own contents (coordinates
   * relative to it). The frame's data aliases shared memory until the next capture or `frame.release()`.
   */
  capture(options: CaptureOptions = {}): Promise<Frame> {
    return captureFrame(this, options);
  }

  /**
   * Frames as fast as the server delivers them (or at `fps`), with the next capture in flight while you
   * work on the current one. Each frame is valid until you ask for the next. `break` or `signal` stops
   * and releases everything.
   */
  frames(options: FramesOptions = {}): AsyncIterableIterator<Frame> {
    return framesOf(this, options);
  }

  /**
   * One capture, delivered in horizontal strips of rows from the top, each valid until you ask for the
   * next: the server fills the next strip while you read this one, through two small buffers instead of one
   * the size of the picture. For readers that go row by row (encoders): the first rows arrive sooner and
   * little fresh shared memory is mapped. The server is held (`grab`, default true) until the iteration
   * ends, so the strips are one moment's picture; `break` ends it early and releases everything.
   */
  strips(options: StripsOptions = {}): AsyncIterableIterator<Strip> {
    return stripsOf(this, options);
  }

  /** An image of width x height (at `depth`, default the root's) in memory shared with the server. */
  createImage(width: number, height: number, options: { depth?: number } = {}): ShmImage {
    this.wire.ensureOpen('createImage');
    checkInt('createImage', 'width', width, 1, 32767);
    checkInt('createImage', 'height', height, 1, 32767);
    const format = this.formatFor(options.depth ?? this.depth);
    const backing = this.allocate(strideOf(format, width) * height);
    const image = new ShmImage(this, backing, width, height, format);
    this.#track(image, backing);
    return image;
  }

  /**
   * The same memory as `image` (created on another display) attached on this display too: put it here
   * without copying (mirroring between displays). Disposing the returned image detaches it from this
   * display only; dispose the original to free the memory.
   */
  async attachImage(image: ShmImage): Promise<ShmImage> {
    this.wire.ensureOpen('attachImage');
    const foreign = image.backing as Backing & Partial<ForeignMemory>;
    const format = this.formatFor(image.depth);
    if (format.bitsPerPixel !== image.format.bitsPerPixel || format.scanlinePad !== image.format.scanlinePad)
      throw new Error(
        `attachImage: depth ${image.depth} is laid out differently on ${this.name} (${format.bitsPerPixel} bpp) than on the image's display (${image.format.bitsPerPixel} bpp)`,
      );
    if (!foreign.share)
      throw new Error(
        `attachImage: the image uses the ${image.transport} transport, which has no shared memory to attach; connect its display with transport "sysv" or "memfd"`,
      );
    const backing = await foreign.share(this.wire);
    const attached = new ShmImage(this, backing, image.width, image.height, format, image.offset);
    this.#track(attached, backing);
    return attached;
  }

  /**
   * Attach an existing SysV segment (e.g. a framebus ring) so captures can land in it and puts read from it
   * at any offset: see captureInto / putFrom. `readOnly`: the server may only read it (putFrom; enough when
   * we may only read the segment ourselves).
   */
  async attachSegment(
    segment: { id: number; size: number },
    options: { readOnly?: boolean } = {},
  ): Promise<SegmentHandle> {
    this.wire.ensureOpen('attachSegment');
    checkInt('attachSegment', 'segment.id', segment.id, 0, 0x7fffffff);
    const shmseg = this.wire.allocId();
    try {
      await this.wire.shmAttach(shmseg, segment.id, !!options.readOnly);
    } catch (err) {
      this.wire.releaseId(shmseg);
      throw err;
    }
    const segments = this.#segments;
    const wire = this.wire;
    const handle: SegmentHandle = {
      shmseg,
      size: segment.size,
      detach() {
        if (!segments.delete(handle)) return;
        wire.shmDetach(shmseg);
      },
    };
    segments.add(handle);
    return handle;
  }

  /** Capture a region (as in capture()) into an attached segment at `offset`; returns the layout written. */
  captureInto(handle: SegmentHandle, offset: number, options: CaptureOptions = {}): Promise<ImageLayout> {
    return captureIntoSegment(this, handle, offset, options);
  }

  /** Put an image of width x height (at `depth`, rows at the server's stride) from an attached segment. */
  async putFrom(
    handle: SegmentHandle,
    offset: number,
    options: { width: number; height: number; depth?: number; drawable?: number; x?: number; y?: number },
  ): Promise<void> {
    if (!this.#segments.has(handle))
      throw new Error('putFrom: the segment handle was detached or belongs to another display');
    const format = this.formatFor(options.depth ?? this.depth);
    checkInt('putFrom', 'width', options.width, 1, 32767);
    checkInt('putFrom', 'height', options.height, 1, 32767);
    const stride = strideOf(format, options.width);
    checkInt('putFrom', 'offset', offset, 0, handle.size - stride * options.height);
    const gc = await this.gcFor(format.depth);
    await this.wire.shmPutImage(options.drawable ?? this.root, gc, {
      totalWidth: options.width,
      totalHeight: options.height,
      srcX: 0,
      srcY: 0,
      srcWidth: options.width,
      srcHeight: options.height,
      dstX: options.x ?? 0,
      dstY: options.y ?? 0,
      depth: format.depth,
      shmseg: handle.shmseg,
      offset,
    });
  }

  /** A top-level window with a title, mapped; emits 'expose', 'keypress', 'resize' and 'close'. */
  async createWindow(options: WindowOptions): Promise<XWindow> {
    this.wire.ensureOpen('createWindow');
    const window = await createWindow(this, options);
    this.#windows.add(window);
    window.once('destroyed', () => this.#windows.delete(window));
    return window;
  }

  /** Detach and free every image, segment, window and GC, then close the connection. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const ref of [...this.#imageRefs]) ref.deref()?.dispose();
    for (const slot of this.#captureSlots) slot.release();
    this.#captureSlots.length = 0;
    for (const handle of [...this.#segments]) handle.detach();
    for (const window of [...this.#windows]) window.destroy();
    if (!this.wire.closed) for (const gc of this.#gcs.values()) this.wire.client.FreeGC(gc);
    this.#gcs.clear();
    await this.wire.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- internal: used by images, capture and windows ----

  /** @internal */
  allocate(size: number): Backing {
    return this.#transport.allocate(pageRound(Math.max(1, size)));
  }

  /** @internal */
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

  /** @internal */
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

  /** @internal */
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

  /** @internal */
  freePixmap(pixmap: number): void {
    if (!this.wire.closed) this.wire.client.FreePixmap(pixmap);
  }

  /** @internal */
  forget(image: ShmImage): void {
    this.#lostImages.unregister(image);
    const ref = this.#refOf.get(image);
    if (ref) this.#imageRefs.delete(ref);
  }

  #track(image: ShmImage, backing: Backing): void {
    const ref = new WeakRef(image);
    this.#imageRefs.add(ref);
    this.#refOf.set(image, ref);
    this.#lostImages.register(image, { ref, backing }, image);
  }

  /** @internal a GC usable on drawables of `depth` (GCs are bound to a depth). */
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
   * @internal A capture buffer of at least `size` bytes, not in use by a request in flight. Reusing one
   * invalidates the frame it held: that is the documented lifetime of frame.data.
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

  async #queryMonitors(): Promise<Monitor[]> {
    const client = this.wire.client;
    const randr = await requireExtension(client, 'randr');
    if (randr && (randr.major_version > 1 || (randr.major_version === 1 && randr.minor_version >= 5))) {
      const raw = await this.wire.getMonitors(randr.majorOpcode, this.root);
      if (raw.length > 0) {
        const names = await Promise.all(
          raw.map((m) => (m.name ? this.wire.atomName(m.name).catch(() => '') : '')),
        );
        return raw.map((m, index) => ({
          index,
          name: names[index] || `monitor-${index}`,
          x: m.x,
          y: m.y,
          width: m.width,
          height: m.height,
          primary: m.primary,
        }));
      }
    }
    const xinerama = await requireExtension(client, 'xinerama');
    if (xinerama) {
      const active = await this.wire.call<number>('XineramaIsActive', (cb) => xinerama.IsActive(cb));
      if (active) {
        const screens = await this.wire.call<{ x: number; y: number; width: number; height: number }[]>(
          'XineramaQueryScreens',
          (cb) => xinerama.QueryScreens(cb),
        );
        if (screens.length > 0)
          return screens.map((s, index) => ({
            index,
            name: `xinerama-${index}`,
            ...s,
            primary: index === 0,
          }));
      }
    }
    return [{ index: 0, name: 'screen', x: 0, y: 0, width: this.width, height: this.height, primary: true }];
  }
}

/** An extension, or null when the server lacks it. */
export function requireExtension<K extends 'randr' | 'xinerama' | 'fixes' | 'shm' | 'big-requests'>(
  client: X11Client,
  name: K,
): Promise<import('x11').ExtensionMap[K] | null> {
  return new Promise((resolve) => {
    try {
      client.require(name, (err, ext) => resolve(err || !ext ? null : ext));
    } catch {
      // x11 dereferences a missing extension's reply before reporting it
      resolve(null);
    }
  });
}

/** Open a connection to an X display and choose how pixels travel. */
export async function connect(options: ConnectOptions = {}): Promise<Display> {
  const name = options.display ?? process.env.DISPLAY;
  if (!name)
    throw new XConnectionError(
      '',
      'connect: no display given and DISPLAY is not set — pass { display: ":0" } or set DISPLAY (start a virtual one with startXvfb())',
    );
  const requested = chosenTransport(options.transport);
  const timeout = options.timeout ?? CONNECT_TIMEOUT_MS;
  const { client, setup } = await openClient(name, timeout);
  const wire = new Wire(client, setup, name);
  try {
    const { transport, info } = await chooseTransport(wire, requested);
    return new Display(wire, transport, info);
  } catch (err) {
    await wire.close();
    throw err;
  }
}

function chosenTransport(option: TransportChoice | undefined): TransportChoice {
  const fromEnv = process.env.XSHM_TRANSPORT;
  const value = option ?? (fromEnv ? fromEnv : 'auto');
  if (value !== 'auto' && !TRANSPORTS.includes(value as TransportName))
    throw new RangeError(
      `connect: transport ${JSON.stringify(value)}${option === undefined ? ' (from XSHM_TRANSPORT)' : ''} must be one of auto, ${TRANSPORTS.join(', ')}`,
    );
  return value as TransportChoice;
}

function openClient(name: string, timeout: number): Promise<{ client: X11Client; setup: X11Display }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let client: X11Client | undefined;
    const finish = (err: Error | null, setup?: X11Display): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err || !client || !setup) {
        client?.stream?.destroy();
        reject(err ?? new XConnectionError(name, `connect: X display ${name} gave no setup data`));
      } else resolve({ client, setup });
    };
    const timer = setTimeout(
      () =>
        finish(
          new XConnectionError(
            name,
            `connect: X display ${name} did not answer within ${timeout / 1000} s — is the server hung, or DISPLAY a stale forwarding? Check it with: xdpyinfo -display ${name}`,
          ),
        ),
      timeout,
    );
    try {
      // BIG-REQUESTS costs two round trips and a module load at every connect (~4 ms of a one-shot
      // capture), and only the socket transport sends requests that large: chooseTransport enables it there.
      client = createClient({ display: name, disableBigRequests: true }, (err, setup) =>
        finish(err ? describeConnectError(name, err) : null, setup),
      );
      // Errors after setup are routed by Wire; until then a socket error must not be an unhandled 'error'.
      client.on('error', (err: Error) => finish(describeConnectError(name, err)));
    } catch (err) {
      finish(describeConnectError(name, err instanceof Error ? err : new Error(String(err))));
    }
  });
}

function describeConnectError(name: string, err: Error): XConnectionError {
  const code = (err as NodeJS.ErrnoException).code;
  let hint: string;
  if (code === 'ECONNREFUSED' || code === 'ENOENT')
    hint = `no X server is listening there — start one (e.g. Xvfb ${name}, or startXvfb()) or set DISPLAY to a running display`;
  else if (/authori[sz]|protocol specified|cookie|access control|refused/i.test(err.message))
    hint =
      'the server refused us — check XAUTHORITY and `xauth list`, or allow this user with `xhost +si:localuser:$USER`';
  else if (/parse display/i.test(err.message)) hint = 'a display looks like ":0", ":1.0" or "host:0"';
  else hint = `check that the display is running and reachable (xdpyinfo -display ${name})`;
  return new XConnectionError(name, `connect: cannot open X display ${name}: ${err.message} — ${hint}`, {
    cause: err,
  });
}

async function chooseTransport(
  wire: Wire,
  requested: TransportChoice,
): Promise<{ transport: Transport; info: ShmInfo }> {
  const shm = await requireExtension(wire.client, 'shm');
  wire.shm = shm;
  if (shm) wire.registerExtensionErrors(shm.firstError, ['BadShmSeg']);
  const version = shm ? `${shm.major}.${shm.minor}` : null;
  const sharedPixmaps = !!shm?.sharedPixmaps;
  const info = (transport: TransportName, reason?: string): ShmInfo => ({
    available: transport !== 'socket',
    version,
    transport,
    sharedPixmaps: transport !== 'socket' && sharedPixmaps,
    ...(reason ? { reason } : {}),
  });
  const socket = async (reason: string) => {
    await enableBigRequests(wire);
    return { transport: new SocketTransport(wire), info: info('socket', reason) };
  };
  if (requested === 'socket') return socket('transport "socket" was requested');

  const reasons: string[] = [];
  const candidates: TransportName[] = requested === 'auto' ? ['sysv', 'memfd'] : [requested];
  for (const name of candidates) {
    const why = unusable(wire, name);
    if (why) {
      reasons.push(`${name}: ${why}`);
      continue;
    }
    const transport = name === 'sysv' ? new SysvTransport(wire) : new MemfdTransport(wire);
    try {
      await prove(wire, transport);
      return { transport, info: info(name, reasons.length ? reasons.join('; ') : undefined) };
    } catch (err) {
      reasons.push(`${name}: ${(err as Error).message}`);
    }
  }
  if (requested !== 'auto')
    throw new Error(
      `connect: transport "${requested}" was requested (connect({ transport }) or XSHM_TRANSPORT) but does not work on ${wire.displayName}: ${reasons.join('; ')}`,
    );
  return socket(reasons.join('; '));
}

/**
 * Lifts the request size limit from 256 KiB to the server's BIG-REQUESTS maximum (16 MiB on Xorg and
 * Xvfb), so the socket transport moves an image in a few requests instead of dozens. Without the
 * extension the limit stays, and the transport cuts smaller strips.
 */
async function enableBigRequests(wire: Wire): Promise<void> {
  const ext = await requireExtension(wire.client, 'big-requests');
  if (!ext) return;
  const words = await wire.call<number>('BigReqEnable', (cb) => ext.Enable(cb));
  if (words > wire.setup.max_request_length) wire.setup.max_request_length = words;
}

function unusable(wire: Wire, name: TransportName): string | null {
  if (!wire.shm) return 'the server has no MIT-SHM extension';
  if (!wire.setup.isLocalSocket) return 'the connection is not a local unix socket (remote or TCP display)';
  if (name === 'memfd') {
    const { major, minor, fdCapable } = wire.shm;
    if (major < 1 || (major === 1 && minor < 2))
      return `the server speaks MIT-SHM ${major}.${minor}; AttachFd needs 1.2`;
    if (!fdCapable) return 'this runtime cannot pass file descriptors over the X socket';
  }
  return null;
}

/**
 * A transport works when the server writes into our memory what we know is there: put a pattern into a
 * 2x1 pixmap with core PutImage, ShmGetImage it into a fresh segment, compare. An advertised extension, or
 * an attach that "succeeds" on another IPC namespace's segment with the same id, proves nothing.
 */
async function prove(wire: Wire, transport: Transport): Promise<void> {
  const screen = wire.screen;
  const depth = screen.root_depth;
  const format = pixelFormat(
    { format: wire.setup.format, image_byte_order: wire.setup.image_byte_order },
    depth,
  );
  const stride = strideOf(format, 2);
  const backing = transport.allocate(4096);
  const pixmap = wire.allocId();
  const gc = wire.allocId();
  try {
    await backing.ready;
    const pattern = Buffer.alloc(stride);
    const bytes = format.bitsPerPixel / 8;
    const nonce = (Math.random() * 0xffffffff) >>> 0;
    const mask = (format.redMask | format.greenMask | format.blueMask) >>> 0;
    const pixels = [(nonce & mask) >>> 0, (~nonce & mask) >>> 0];
    pixels.forEach((p, i) => {
      pattern.writeUIntLE(p, i * bytes, bytes);
    });
    backing.buffer.fill(0, 0, stride);
    wire.client.CreatePixmap(pixmap, screen.root, depth, 2, 1);
    wire.client.CreateGC(gc, pixmap, {});
    wire.putImage(pixmap, gc, 2, 1, 0, 0, depth, pattern, () => {});
    await wire.shmGetImage(pixmap, 0, 0, 2, 1, backing.shmseg, 0);
    const seen = [0, 1].map((i) => (backing.buffer.readUIntLE(i * bytes, bytes) & mask) >>> 0);
    if (seen[0] !== pixels[0] || seen[1] !== pixels[1])
      throw new Error(
        'the server attached a segment but wrote its pixels elsewhere (another IPC namespace?)',
      );
  } finally {
    if (!wire.closed) {
      wire.client.FreeGC(gc);
      wire.client.FreePixmap(pixmap);
    }
    backing.release();
  }
}
