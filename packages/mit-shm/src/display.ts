// The public face of one X connection. Every method checks its arguments and hands the work to the module
// that owns it (capture.ts, image.ts, window.ts, changes.ts, queries.ts) together with the Session, which
// holds the connection's internals; nothing calls back into Display.

import {
  type CaptureOptions,
  captureFrame,
  captureIntoSegment,
  type FramesOptions,
  framesOf,
  type StripsOptions,
  stripsOf,
} from './capture';
import { type ChangeWatch, type WatchOptions, watchChanges } from './changes';
import type { XConnectionError } from './errors';
import { type ImageLayout, type PixelFormat, strideOf } from './format';
import { backingOf, checkInt, type Frame, ShmImage, type Strip } from './image';
import { queryMonitors } from './monitors';
import {
  getProperty,
  type PropertyValue,
  queryTree,
  type WindowGeometry,
  type WindowTree,
  windowGeometry,
  windowTitle,
} from './queries';
import { bindSession, type Session } from './session';
import { listWindows, type WindowInfo } from './toplevel';
import type { Backing, ForeignMemory, TransportName } from './transport/transport';
import { createWindow, type WindowOptions, type XWindow } from './window';

/** What MIT-SHM can do on this display, and what this connection uses. */
export interface ShmInfo {
  /** True when pixels travel through shared memory (transport 'sysv' or 'memfd'). */
  available: boolean;
  /** The server's MIT-SHM version, e.g. '1.2'; null without the extension. */
  version: string | null;
  transport: TransportName;
  /** The server offers pixmaps over shared memory (image.createPixmap()). */
  sharedPixmaps: boolean;
  /** Why a preferred transport was not used (absent when memfd, the first choice, works). */
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
  /**
   * Resolves (never rejects) when the connection ends other than by `close()`: the server died, was
   * killed, or dropped us. Pending and later requests fail with the same XConnectionError.
   */
  readonly lost: Promise<XConnectionError>;
  readonly #session: Session;
  #closing: Promise<void> | null = null;

  /** @internal use connect() */
  constructor(session: Session) {
    this.#session = session;
    bindSession(this, session);
    this.shm = session.shm;
    this.name = session.name;
    this.root = session.root;
    this.width = session.width;
    this.height = session.height;
    this.depth = session.depth;
    this.format = session.format;
    this.lost = session.wire.lost;
  }

  /** True once the connection is gone (closed by us, or lost). */
  get closed(): boolean {
    return this.#session.wire.closed;
  }

  /** How the server lays out images of `depth` (masks from a TrueColor visual of that depth). */
  formatFor(depth: number): PixelFormat {
    return this.#session.formatFor(depth);
  }

  /** The monitors: RandR 1.5 GetMonitors, else Xinerama, else the whole screen (one round trip or two). */
  monitors(): Promise<Monitor[]> {
    this.#session.wire.ensureOpen('monitors');
    return queryMonitors(this.#session);
  }

  /**
   * The top-level windows as a user sees them: _NET_CLIENT_LIST with a window manager, else the root's
   * mapped children (not menus or tooltips).
   */
  windows(): Promise<WindowInfo[]> {
    return listWindows(this.#session);
  }

  /**
   * Capture the root (default), a region of it, a monitor, or a window's own contents (coordinates
   * relative to it). The frame's data aliases shared memory until the next capture or `frame.release()`.
   */
  capture(options: CaptureOptions = {}): Promise<Frame> {
    return captureFrame(this.#session, options);
  }

  /**
   * Frames as fast as the server delivers them (or at `fps`), with the next capture in flight while you
   * work on the current one. Each frame is valid until you ask for the next. `break` or `signal` stops
   * and releases everything.
   */
  frames(options: FramesOptions = {}): AsyncIterableIterator<Frame> {
    return framesOf(this.#session, options);
  }

  /**
   * One capture, delivered in horizontal strips of rows from the top, each valid until you ask for the
   * next: the server fills the next strip while you read this one, through two small buffers instead of one
   * the size of the picture. For readers that go row by row (encoders): the first rows arrive sooner and
   * little fresh shared memory is mapped. The server is held (`grab`, default true) until the iteration
   * ends, so the strips are one moment's picture; `break` ends it early and releases everything.
   */
  strips(options: StripsOptions = {}): AsyncIterableIterator<Strip> {
    return stripsOf(this.#session, options);
  }

  /** An image of width x height (at `depth`, default the root's) in memory shared with the server. */
  createImage(width: number, height: number, options: { depth?: number } = {}): ShmImage {
    const session = this.#session;
    session.wire.ensureOpen('createImage');
    checkInt('createImage', 'width', width, 1, 32767);
    checkInt('createImage', 'height', height, 1, 32767);
    const format = session.formatFor(options.depth ?? this.depth);
    const backing = session.allocate(strideOf(format, width) * height);
    const image = new ShmImage(session, backing, width, height, format);
    session.track(image, backing);
    return image;
  }

  /**
   * The same memory as `image` (created on another display) attached on this display too: put it here
   * without copying (mirroring between displays). Disposing the returned image detaches it from this
   * display only; dispose the original to free the memory.
   */
  async attachImage(image: ShmImage): Promise<ShmImage> {
    const session = this.#session;
    session.wire.ensureOpen('attachImage');
    const foreign = backingOf(image) as Backing & Partial<ForeignMemory>;
    const format = session.formatFor(image.depth);
    if (format.bitsPerPixel !== image.format.bitsPerPixel || format.scanlinePad !== image.format.scanlinePad)
      throw new Error(
        `attachImage: depth ${image.depth} is laid out differently on ${this.name} (${format.bitsPerPixel} bpp) than on the image's display (${image.format.bitsPerPixel} bpp)`,
      );
    if (!foreign.share)
      throw new Error(
        `attachImage: the image uses the ${image.transport} transport, which has no shared memory to attach; connect its display with transport "sysv" or "memfd"`,
      );
    const backing = await foreign.share(session.wire);
    const attached = new ShmImage(session, backing, image.width, image.height, format, image.offset);
    session.track(attached, backing);
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
    const { wire, segments } = this.#session;
    wire.ensureOpen('attachSegment');
    checkInt('attachSegment', 'segment.id', segment.id, 0, 0x7fffffff);
    await this.#session.sysvVisible('attachSegment');
    const shmseg = wire.allocId();
    try {
      await wire.shmAttach(shmseg, segment.id, !!options.readOnly);
    } catch (err) {
      wire.releaseId(shmseg);
      throw err;
    }
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
    return captureIntoSegment(this.#session, handle, offset, options);
  }

  /** Put an image of width x height (at `depth`, rows at the server's stride) from an attached segment. */
  async putFrom(
    handle: SegmentHandle,
    offset: number,
    options: { width: number; height: number; depth?: number; drawable?: number; x?: number; y?: number },
  ): Promise<void> {
    const session = this.#session;
    if (!session.segments.has(handle))
      throw new Error('putFrom: the segment handle was detached or belongs to another display');
    const format = session.formatFor(options.depth ?? this.depth);
    checkInt('putFrom', 'width', options.width, 1, 32767);
    checkInt('putFrom', 'height', options.height, 1, 32767);
    const stride = strideOf(format, options.width);
    checkInt('putFrom', 'offset', offset, 0, handle.size - stride * options.height);
    const gc = await session.gcFor(format.depth);
    await session.wire.shmPutImage(options.drawable ?? this.root, gc, {
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

  /**
   * A top-level window with a title, mapped; emits 'expose', 'keypress', 'keyrelease', 'buttonpress',
   * 'buttonrelease', 'motion', 'resize' and 'close'.
   */
  createWindow(options: WindowOptions): Promise<XWindow> {
    return createWindow(this.#session, options);
  }

  /**
   * Notice when pixels change on `drawable` (default the root): XDAMAGE when the server has it, else a
   * polling watch that says "anything may have changed". See ChangeWatch.
   */
  watchChanges(options: WatchOptions = {}): Promise<ChangeWatch> {
    return watchChanges(this.#session, options);
  }

  /** The atom named `name` (InternAtom); with `onlyIfExists`, 0 when no such atom exists yet. */
  internAtom(name: string, onlyIfExists = false): Promise<number> {
    this.#session.wire.ensureOpen('internAtom');
    if (typeof name !== 'string' || name.length === 0 || name.length > 65535)
      throw new RangeError(`internAtom: name=${JSON.stringify(name)} must be a non-empty string`);
    return this.#session.wire.internAtom(name, onlyIfExists);
  }

  /** A window property (GetProperty); `data` is empty when the window has no such property. */
  getProperty(
    window: number,
    property: number | string,
    options: { type?: number; longLength?: number } = {},
  ): Promise<PropertyValue> {
    return getProperty(this.#session, window, property, options);
  }

  /** A window's root, parent and children (bottom to top in stacking order). */
  queryTree(window: number): Promise<WindowTree> {
    return queryTree(this.#session, window);
  }

  /**
   * A window's title: _NET_WM_NAME (UTF-8), else WM_NAME (Latin-1, or UTF-8 when its bytes are valid
   * UTF-8, as many clients write it); '' when it has neither.
   */
  windowTitle(window: number): Promise<string> {
    return windowTitle(this.#session, window);
  }

  /** A window's position in ROOT coordinates, size, depth and border width. */
  windowGeometry(window: number): Promise<WindowGeometry> {
    return windowGeometry(this.#session, window);
  }

  /** Detach and free every image, segment, window, watch and GC, then close the connection. */
  close(): Promise<void> {
    this.#closing ??= this.#session.close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
