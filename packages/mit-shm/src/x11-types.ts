// The typed subset of the `x11` npm package (4.2.x, which ships no types) that @xshm/mit-shm calls, as
// plain interfaces: internal to this package, so our declarations never declare (or replace a consumer's
// declaration of) the module 'x11'. Shapes follow node_modules/x11/lib/{xcore,corereqs,handshake}.js and
// lib/ext/{shm,big-requests,randr,xinerama,fixes,damage,composite,xtest}.js. Only what we use is declared.

import type { EventEmitter } from 'node:events';

/** An error packet from the server, as lib/xcore.js builds it. */
export interface X11ProtocolError extends Error {
  /** X error code (1 BadRequest … 17 BadImplementation, extension codes above). */
  error: number;
  seq: number;
  badParam: number;
  minorOpcode: number;
  majorOpcode: number;
}

/** Reply callbacks return true when they handled an error, so the client does not emit 'error'. */
export type ReplyCallback<T> = (err: X11ProtocolError | null | undefined, reply: T) => unknown;
export type VoidCallback = (err: X11ProtocolError | Error | null | undefined) => unknown;

export interface X11Visual {
  vid: number;
  class: number;
  bits_per_rgb: number;
  map_ent: number;
  red_mask: number;
  green_mask: number;
  blue_mask: number;
}

export interface X11Screen {
  root: number;
  default_colormap: number;
  white_pixel: number;
  black_pixel: number;
  pixel_width: number;
  pixel_height: number;
  mm_width: number;
  mm_height: number;
  root_visual: number;
  root_depth: number;
  /** depth -> visual id -> visual */
  depths: Record<number, Record<number, X11Visual>>;
}

export interface X11PixmapFormat {
  bits_per_pixel: number;
  scanline_pad: number;
}

/** The connection setup data (lib/handshake.js), passed to createClient's callback. */
export interface X11Display {
  client: X11Client;
  screen: X11Screen[];
  /** depth -> pixmap format */
  format: Record<number, X11PixmapFormat>;
  /** 0 = LSBFirst, 1 = MSBFirst */
  image_byte_order: number;
  bitmap_scanline_pad: number;
  /** In 4-byte units; raised by BIG-REQUESTS Enable when connect() settles on the socket transport. */
  max_request_length: number;
  vendor: string;
  release: number;
  isLocalSocket: boolean;
  min_keycode: number;
  max_keycode: number;
}

export interface X11Event {
  name?: string;
  type: number;
  seq: number;
  wid?: number;
  [field: string]: unknown;
}

export interface ShmCompletionEvent extends X11Event {
  name: 'ShmCompletion';
  drawable: number;
  shmseg: number;
  offset: number;
  minorEvent: number;
  majorEvent: number;
}

export interface GetGeometryReply {
  depth: number;
  windowid: number;
  xPos: number;
  yPos: number;
  width: number;
  height: number;
  borderWidth: number;
}

export interface GetImageReply {
  depth: number;
  visualId: number;
  data: Buffer;
}

export interface GetWindowAttributesReply {
  visual: number;
  klass: number;
  mapState: number;
  overrideRedirect: number;
  /** The events this connection selected on the window. */
  myEventMasks: number;
}

export interface TranslateCoordinatesReply {
  sameScreen: number;
  child: number;
  destX: number;
  destY: number;
}

export interface QueryExtensionReply {
  present: number;
  majorOpcode: number;
  firstEvent: number;
  firstError: number;
}

export interface ShmGetImageReply {
  depth: number;
  visual: number;
  size: number;
}

export interface ShmPutImageArgs {
  totalWidth: number;
  totalHeight: number;
  srcX: number;
  srcY: number;
  srcWidth: number;
  srcHeight: number;
  dstX: number;
  dstY: number;
  depth: number;
  format: number;
  sendEvent: boolean;
  shmseg: number;
  offset: number;
}

/** x11's own high-level segment (lib/ext/shm.js createSegment): copies through fs. Used by the benchmark. */
export interface X11ProviderSegment extends EventEmitter {
  shmseg: number;
  size: number;
  buffer: Buffer;
  zeroCopy: boolean;
  getImage(
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    planeMask: number,
    format: number,
    offset: number,
    cb: (err: Error | null, reply: ShmGetImageReply) => void,
  ): void;
  putImage(
    drawable: number,
    gc: number,
    opts: { width: number; height: number; depth: number; sendEvent?: boolean; offset?: number },
  ): void;
  detach(cb?: () => void): void;
}

export interface ShmExtension extends QueryExtensionReply {
  major: number;
  minor: number;
  sharedPixmaps: boolean;
  pixmapFormat: number;
  fdCapable: boolean;
  ImageFormat: { XYBitmap: 0; XYPixmap: 1; ZPixmap: 2 };
  Attach(shmseg: number, shmid: number, readOnly: boolean, cb?: VoidCallback): void;
  AttachFd(shmseg: number, fd: number, readOnly: boolean, cb?: VoidCallback): void;
  Detach(shmseg: number, cb?: VoidCallback): void;
  PutImage(drawable: number, gc: number, img: ShmPutImageArgs): void;
  GetImage(
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    planeMask: number,
    format: number,
    shmseg: number,
    offset: number,
    cb: ReplyCallback<ShmGetImageReply>,
  ): void;
  CreatePixmap(
    pid: number,
    drawable: number,
    width: number,
    height: number,
    depth: number,
    shmseg: number,
    offset: number,
  ): void;
  createSegment(size: number, cb: (err: Error | null, segment: X11ProviderSegment) => void): void;
}

export interface BigRequestsExtension extends QueryExtensionReply {
  Enable(cb: ReplyCallback<number>): void;
}

export interface XineramaScreenInfo {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface XineramaExtension extends QueryExtensionReply {
  major: number;
  minor: number;
  IsActive(cb: ReplyCallback<number>): void;
  QueryScreens(cb: ReplyCallback<XineramaScreenInfo[]>): void;
}

export interface RandrExtension extends QueryExtensionReply {
  major_version: number;
  minor_version: number;
}

export interface CursorImageReply {
  x: number;
  y: number;
  width: number;
  height: number;
  xhot: number;
  yhot: number;
  cursorSerial: number;
  /** width*height ARGB32 pixels (native 32-bit words), premultiplied alpha. */
  cursorImage: Buffer;
}

export interface XFixesExtension extends QueryExtensionReply {
  QueryVersion(major: number, minor: number, cb: ReplyCallback<number[]>): void;
  GetCursorImage(cb: ReplyCallback<CursorImageReply>): void;
  /** mask 1 (DisplayCursorNotifyMask): a CursorNotify event on every change of the cursor's shape. */
  SelectCursorInput(window: number, mask: number): void;
  /** mask 1 (SetSelectionOwnerNotifyMask): an event whenever `selection` gets a new owner. */
  SelectSelectionInput(window: number, selection: number, mask: number): void;
  FetchRegion(region: number, cb: ReplyCallback<{ rectangles: { width: number; height: number }[] }>): void;
  DestroyRegion(region: number): void;
}

/** Composite (lib/ext/composite.js): requests sent without a reply; major/minor from QueryVersion. */
export interface CompositeExtension extends QueryExtensionReply {
  major: number;
  minor: number;
  RedirectWindow(window: number, update: number): void;
  NameWindowPixmap(window: number, pixmap: number): void;
  /** Composite 0.3: an XFIXES region of the window's visible part, border included, in root coordinates. */
  CreateRegionFromBorderClip(region: number, window: number): void;
}

/** XTEST (lib/ext/xtest.js): synthetic input; the event type constants are the core event numbers. */
export interface XTestExtension extends QueryExtensionReply {
  KeyPress: number;
  KeyRelease: number;
  ButtonPress: number;
  ButtonRelease: number;
  MotionNotify: number;
  FakeInput(type: number, detail: number, time: number, window: number, x: number, y: number): void;
}

/** DAMAGE (lib/ext/damage.js): Create, Subtract and Destroy are sent without a reply. */
export interface DamageExtension extends QueryExtensionReply {
  major: number;
  minor: number;
  ReportLevel: { RawRectangles: 0; DeltaRectangles: 1; BoundingBox: 2; NonEmpty: 3 };
  Create(damage: number, drawable: number, reportLevel: number): void;
  Subtract(damage: number, repair: number, parts: number): void;
  Destroy(damage: number): void;
}

export interface DamageNotifyEvent extends X11Event {
  name: 'DamageNotify';
  damage: number;
  drawable: number;
  /** The damaged rectangle (DeltaRectangles: a part newly added to the damage). */
  area: { x: number; y: number; w: number; h: number };
}

export interface GetPropertyReply {
  type: number;
  /** 8, 16 or 32 bits per element, as the property was stored. */
  format: number;
  bytesAfter: number;
  data: Buffer;
}

export interface ExtensionMap {
  damage: DamageExtension;
  shm: ShmExtension;
  'big-requests': BigRequestsExtension;
  xinerama: XineramaExtension;
  randr: RandrExtension;
  fixes: XFixesExtension;
  composite: CompositeExtension;
  xtest: XTestExtension;
}

/** The output queue (lib/framebuffer.js); used only to issue RandR GetMonitors, which x11 lacks. */
export interface PackStream {
  put(b: Buffer): void;
  submit(expectsReply?: boolean): boolean;
  flush(cb?: () => void): void;
}

export interface X11Client extends EventEmitter {
  display: X11Display;
  seq_num: number;
  /** seq -> [unpack | null, callback]: how replies and void-request outcomes are routed. */
  replies: Record<
    number,
    [((buf: Buffer, opt: number) => unknown) | null, (err: unknown, reply?: unknown) => unknown]
  >;
  pack_stream: PackStream;
  stream:
    | (NodeJS.ReadWriteStream & { destroy(): void; destroyed?: boolean; _fdCapable?: boolean })
    | undefined;
  atoms: Record<string, number>;
  atom_names: Record<number, string>;
  eventMask: Record<string, number>;
  AllocID(): number;
  ReleaseID(id: number): void;
  require<K extends keyof ExtensionMap>(name: K, cb: (err: Error | null, ext: ExtensionMap[K]) => void): void;
  sync(cb: (err: Error | null) => void): void;
  close(cb?: (err?: Error) => void): void;
  terminate(): void;
  QueryExtension(name: string, cb: ReplyCallback<QueryExtensionReply>): void;
  GetGeometry(drawable: number, cb: ReplyCallback<GetGeometryReply>): void;
  GetWindowAttributes(wid: number, cb: ReplyCallback<GetWindowAttributesReply>): void;
  TranslateCoordinates(
    srcWid: number,
    dstWid: number,
    srcX: number,
    srcY: number,
    cb: ReplyCallback<TranslateCoordinatesReply>,
  ): void;
  GetInputFocus(cb: ReplyCallback<{ focus: number }>): void;
  /** Only this connection's requests run until UngrabServer (or until it closes). */
  GrabServer(): void;
  UngrabServer(): void;
  /** format: 0 XYBitmap, 1 XYPixmap, 2 ZPixmap */
  GetImage(
    format: number,
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    planeMask: number,
    cb: ReplyCallback<GetImageReply>,
  ): void;
  PutImage(
    format: number,
    drawable: number,
    gc: number,
    width: number,
    height: number,
    dstX: number,
    dstY: number,
    leftPad: number,
    depth: number,
    data: Buffer,
    cb?: VoidCallback,
  ): void;
  CreateGC(gc: number, drawable: number, values: Record<string, number>, cb?: VoidCallback): void;
  FreeGC(gc: number, cb?: VoidCallback): void;
  CreatePixmap(
    pid: number,
    drawable: number,
    depth: number,
    width: number,
    height: number,
    cb?: VoidCallback,
  ): void;
  FreePixmap(pixmap: number, cb?: VoidCallback): void;
  CreateWindow(
    wid: number,
    parent: number,
    x: number,
    y: number,
    width: number,
    height: number,
    borderWidth: number,
    depth: number,
    klass: number,
    visual: number,
    values: Record<string, number>,
    cb?: VoidCallback,
  ): void;
  DestroyWindow(wid: number, cb?: VoidCallback): void;
  ChangeWindowAttributes(wid: number, values: Record<string, number>, cb?: VoidCallback): void;
  MapWindow(wid: number, cb?: VoidCallback): void;
  ChangeProperty(
    mode: number,
    wid: number,
    property: number,
    type: number,
    format: number,
    data: string | Buffer | number[],
    cb?: VoidCallback,
  ): void;
  InternAtom(onlyIfExists: boolean, name: string, cb: ReplyCallback<number>): void;
  ResizeWindow(wid: number, width: number, height: number): void;
  QueryTree(wid: number, cb: ReplyCallback<{ root: number; parent: number; children: number[] }>): void;
  GetProperty(
    remove: number,
    wid: number,
    property: number,
    type: number,
    longOffset: number,
    longLength: number,
    cb: ReplyCallback<GetPropertyReply>,
  ): void;
  GetAtomName(atom: number, cb: ReplyCallback<string>): void;
  GetKeyboardMapping(first: number, count: number, cb: ReplyCallback<number[][]>): void;
  ChangeKeyboardMapping(firstKeycode: number, keysymsPerKeycode: number, keysyms: number[]): void;
  SetSelectionOwner(owner: number, selection: number, time: number): void;
  GetSelectionOwner(selection: number, cb: ReplyCallback<number>): void;
  ConvertSelection(
    requestor: number,
    selection: number,
    target: number,
    property: number,
    time: number,
  ): void;
  DeleteProperty(wid: number, property: number): void;
  SendEvent(destination: number, propagate: number, eventMask: number, event: Record<string, unknown>): void;
}

export interface CreateClientOptions {
  display?: string;
  /** false/'off': no fd-capable socket. Default: an fd-capable unix socket when local. */
  shm?: false | 'off';
  disableBigRequests?: boolean;
}

/** The part of the module itself we call: connect.ts, the one place that loads x11, casts it to this. */
export interface X11Module {
  createClient(
    options: CreateClientOptions,
    cb: (err: Error | null | undefined, display: X11Display) => void,
  ): X11Client;
}
