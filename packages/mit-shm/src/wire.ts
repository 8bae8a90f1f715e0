// Promise-based calls on one `x11` client connection: the one place where callbacks become promises,
// error packets become XError (with the request's name), a closed connection fails every pending call,
// and the one place that writes into x11's private reply table (see expect()).

import { isProtocolError, XConnectionError, XError } from './errors';
import type {
  ExtensionMap,
  GetGeometryReply,
  ShmExtension,
  ShmPutImageArgs,
  X11Client,
  X11Display,
  X11Event,
  X11ProtocolError,
  X11Screen,
} from './x11-types';

/** ZPixmap, the only image format this package speaks (core protocol value). */
export const Z_PIXMAP = 2;
const ALL_PLANES = 0xffffffff;
/** Atoms 1..68 are predefined by the core protocol (XA_LAST_PREDEFINED). */
const LAST_PREDEFINED_ATOM = 68;
/** RandR GetMonitors (1.5) minor opcode; `x11` does not encode this request. */
const RANDR_GET_MONITORS = 42;

type Settle = { reject(err: Error): void };
/** Context for an error message, or a function making it (so the success path builds no string). */
type Detail = string | (() => string);

export interface RawMonitor {
  name: number;
  primary: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

export class Wire {
  readonly client: X11Client;
  readonly setup: X11Display;
  readonly displayName: string;
  shm: ShmExtension | null = null;
  private closedError: XConnectionError | null = null;
  /** Resolves when the connection ends other than by close(): the server died or dropped us. */
  readonly lost: Promise<XConnectionError>;
  private reportLost: (err: XConnectionError) => void = () => {};
  /** close() has begun. */
  private closing = false;
  private readonly pending = new Set<Settle>();
  private readonly completions = new Map<number, { resolve(): void; reject(err: Error): void }>();
  private readonly extensionErrors = new Map<number, string>();

  constructor(client: X11Client, setup: X11Display, displayName: string) {
    this.client = client;
    this.setup = setup;
    this.displayName = displayName;
    this.lost = new Promise((resolve) => {
      this.reportLost = resolve;
    });
    // x11 4.2.2 gives every client the same atom cache object (its table of predefined atoms), and caches
    // each interned atom in it: a second connection, to another server, then uses the first server's atom
    // numbers (BadAtom, or worse, the wrong property). Each connection gets its own table of the predefined
    // atoms, which are the same on every server.
    const predefined = Object.entries(client.atoms).filter(([, atom]) => atom <= LAST_PREDEFINED_ATOM);
    client.atoms = Object.fromEntries(predefined);
    client.atom_names = Object.fromEntries(predefined.map(([name, atom]) => [atom, name]));
    // Errors of requests sent without a callback land here; the request that wanted them has its own
    // handler, so an unrouted one is not worth crashing the process for.
    client.on('error', () => {});
    client.on('event', (ev: X11Event) => {
      if (ev.name !== 'ShmCompletion') return;
      const waiter = this.completions.get(ev.seq);
      if (!waiter) return;
      this.completions.delete(ev.seq);
      waiter.resolve();
    });
    // The end of a connection we are closing ourselves is not a loss.
    const onGone = (): void =>
      this.fail(
        new XConnectionError(displayName, `X display ${displayName} closed the connection`),
        this.closing,
      );
    client.on('end', onGone);
    client.stream?.on('close', onGone);
  }

  /** The screen named by the display string (':1.1' is screen 1), else screen 0. */
  get screen(): X11Screen {
    const index = Number(/\.(\d+)$/.exec(this.displayName)?.[1] ?? 0);
    const screen = this.setup.screen[index];
    if (!screen)
      throw new XConnectionError(
        this.displayName,
        `X display ${this.displayName} has no screen ${index} (it has ${this.setup.screen.length})`,
      );
    return screen;
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Mark the connection dead and fail everything still waiting on it; `lost` unless close() did it. */
  fail(err: XConnectionError, byClose = false): void {
    if (this.closedError) return;
    this.closedError = err;
    if (!byClose) this.reportLost(err);
    for (const p of this.pending) p.reject(err);
    this.pending.clear();
    for (const c of this.completions.values()) c.reject(err);
    this.completions.clear();
  }

  /** Throws if the connection is gone: every request path starts here. */
  ensureOpen(request: string): void {
    if (this.closedError)
      throw new XConnectionError(
        this.displayName,
        `${request}: X display ${this.displayName} is closed — connect() again`,
        { cause: this.closedError },
      );
  }

  registerExtensionErrors(firstError: number, names: string[]): void {
    names.forEach((name, i) => {
      this.extensionErrors.set(firstError + i, name);
    });
  }

  /** `detail` may be a function: hot paths build their message only when there is an error. */
  toXError(err: unknown, request: string, detail?: Detail): Error {
    if (isProtocolError(err))
      return XError.from(
        err,
        request,
        typeof detail === 'function' ? detail() : detail,
        this.extensionErrors,
      );
    if (err instanceof Error) return err;
    return new Error(`${request}: ${String(err)}`);
  }

  /**
   * Issue a request that takes a node-style callback and return its outcome as a promise.
   * The callback returns true on error so the client does not also emit it.
   */
  call<T>(
    request: string,
    issue: (cb: (err: unknown, reply?: T) => boolean) => void,
    detail?: Detail,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closedError) {
        reject(
          new XConnectionError(
            this.displayName,
            `${request}: X display ${this.displayName} is closed — connect() again`,
          ),
        );
        return;
      }
      const settle: Settle = { reject };
      this.pending.add(settle);
      try {
        issue((err, reply) => {
          this.pending.delete(settle);
          if (err) reject(this.toXError(err, request, detail));
          else resolve(reply as T);
          return true;
        });
      } catch (err) {
        this.pending.delete(settle);
        reject(this.toXError(err, request, detail));
      }
    });
  }

  /** A round trip: every request sent before it has been processed when this resolves. */
  sync(): Promise<void> {
    return this.call<void>('sync', (cb) => this.client.GetInputFocus((err) => cb(err)));
  }

  /** An extension, or null when the server lacks it (x11 caches the answer per connection). */
  extension<K extends keyof ExtensionMap>(name: K): Promise<ExtensionMap[K] | null> {
    return new Promise((resolve) => {
      try {
        this.client.require(name, (err, ext) => resolve(err || !ext ? null : ext));
      } catch {
        // x11 dereferences a missing extension's reply before reporting it
        resolve(null);
      }
    });
  }

  /**
   * The one way to send requests that have no reply and still learn whether they failed: `issue` sends
   * one or more of them (core or extension, without callbacks of their own); the promise resolves once the
   * server got past all of them, or rejects with the first one's XError.
   */
  checked(request: string, issue: () => void, detail?: Detail): Promise<void> {
    return this.call<void>(
      request,
      (cb) => {
        const first = this.client.seq_num + 1;
        issue();
        const last = this.client.seq_num;
        let failed = false;
        let left = last - first + 1;
        const settle = (err: unknown): boolean => {
          if (failed) return true;
          if (err) {
            failed = true;
            return cb(err);
          }
          if (--left === 0) cb(null);
          return true;
        };
        // A request sent with a callback of its own is x11's to report: count it as answered.
        for (let seq = first; seq <= last; seq++) if (!this.expect(seq, null, settle)) left--;
        if (left === 0) cb(null);
        // Nothing may follow these requests: a round trip makes the server's answer (or silence) arrive.
        else this.client.sync(() => {});
      },
      detail,
    );
  }

  /**
   * The one place that writes into x11's private `client.replies` (seq -> [unpack, callback]). x11 routes
   * an error packet for `seq` there, a reply through `unpack` (null: a request without a reply, whose
   * callback x11 calls with null once a later packet shows the server got past it). We need it for
   * extension requests x11 encodes without a callback slot (ShmPutImage, ShmCreatePixmap, DAMAGE) and for
   * RandR GetMonitors, which x11 does not encode. Existing entries (x11's own) are left alone.
   */
  private expect(
    seq: number,
    unpack: ((body: Buffer, option: number) => unknown) | null,
    callback: (err: unknown, reply?: unknown) => unknown,
  ): boolean {
    if (this.client.replies[seq]) return false;
    this.client.replies[seq] = [unpack, callback];
    return true;
  }

  allocId(): number {
    return this.client.AllocID();
  }

  releaseId(id: number): void {
    this.client.ReleaseID(id);
  }

  requireShm(): ShmExtension {
    if (!this.shm) throw new Error(`X display ${this.displayName} has no MIT-SHM extension`);
    return this.shm;
  }

  // ---- MIT-SHM (encoded by `x11`; we only call it) ----

  shmAttach(shmseg: number, shmid: number, readOnly = false): Promise<void> {
    const shm = this.requireShm();
    return this.call<void>(
      'ShmAttach',
      (cb) => shm.Attach(shmseg, shmid, readOnly, (err) => cb(err)),
      `shmid=${shmid}${readOnly ? ' read-only' : ''}`,
    );
  }

  shmAttachFd(shmseg: number, fd: number): Promise<void> {
    const shm = this.requireShm();
    return this.call<void>(
      'ShmAttachFd',
      (cb) => shm.AttachFd(shmseg, fd, false, (err) => cb(err)),
      `fd=${fd}`,
    );
  }

  /** Fire and forget: requests are processed in order, so nothing sent later can use the segment. */
  shmDetach(shmseg: number): void {
    if (this.closedError) return;
    this.requireShm().Detach(shmseg);
  }

  shmGetImage(
    drawable: number,
    x: number,
    y: number,
    width: number,
    height: number,
    shmseg: number,
    offset: number,
  ): Promise<void> {
    const shm = this.requireShm();
    return this.call<void>(
      'ShmGetImage',
      (cb) =>
        shm.GetImage(drawable, x, y, width, height, ALL_PLANES, Z_PIXMAP, shmseg, offset, (err) => cb(err)),
      `drawable=0x${drawable.toString(16)} ${width}x${height}+${x}+${y}`,
    );
  }

  /** ShmPutImage with send_event: resolves on the server's ShmCompletion, when the memory may be reused. */
  shmPutImage(
    drawable: number,
    gc: number,
    img: Omit<ShmPutImageArgs, 'sendEvent' | 'format'>,
  ): Promise<void> {
    const shm = this.requireShm();
    this.ensureOpen('ShmPutImage');
    return new Promise<void>((resolve, reject) => {
      shm.PutImage(drawable, gc, { ...img, format: Z_PIXMAP, sendEvent: true });
      // The completion event carries the sequence number of the PutImage that caused it; an error
      // for that request arrives on the void-callback slot instead (and then no completion comes).
      const seq = this.client.seq_num;
      this.completions.set(seq, { resolve, reject });
      this.expect(seq, null, (err: unknown) => {
        if (!err) return undefined;
        this.completions.delete(seq);
        reject(
          this.toXError(
            err,
            'ShmPutImage',
            `drawable=0x${drawable.toString(16)} ${img.srcWidth}x${img.srcHeight}+${img.dstX}+${img.dstY}`,
          ),
        );
        return true;
      });
    });
  }

  shmCreatePixmap(
    pixmap: number,
    drawable: number,
    width: number,
    height: number,
    depth: number,
    shmseg: number,
    offset: number,
  ): Promise<void> {
    const shm = this.requireShm();
    return this.checked('ShmCreatePixmap', () =>
      shm.CreatePixmap(pixmap, drawable, width, height, depth, shmseg, offset),
    );
  }

  // ---- core requests ----

  getImage(drawable: number, x: number, y: number, width: number, height: number): Promise<Buffer> {
    return this.call<Buffer>(
      'GetImage',
      (cb) =>
        this.client.GetImage(Z_PIXMAP, drawable, x, y, width, height, ALL_PLANES, (err, reply) =>
          cb(err, reply?.data),
        ),
      () => `drawable=0x${drawable.toString(16)} ${width}x${height}+${x}+${y}`,
    );
  }

  /** Core PutImage of rows already laid out for `width`; the caller keeps each call within the request limit. */
  putImage(
    drawable: number,
    gc: number,
    width: number,
    height: number,
    x: number,
    y: number,
    depth: number,
    data: Buffer,
    onError: (err: Error) => void,
  ): void {
    this.ensureOpen('PutImage');
    this.client.PutImage(Z_PIXMAP, drawable, gc, width, height, x, y, 0, depth, data);
    this.expect(this.client.seq_num, null, (err: unknown) => {
      if (!err) return undefined;
      onError(
        this.toXError(err, 'PutImage', `drawable=0x${drawable.toString(16)} ${width}x${height}+${x}+${y}`),
      );
      return true;
    });
  }

  /** The largest request the server accepts, in bytes (BIG-REQUESTS raises it at connect). */
  get maxRequestBytes(): number {
    return this.setup.max_request_length * 4;
  }

  geometry(drawable: number): Promise<GetGeometryReply> {
    return this.call<GetGeometryReply>(
      'GetGeometry',
      (cb) => this.client.GetGeometry(drawable, cb),
      `drawable=0x${drawable.toString(16)}`,
    );
  }

  atomName(atom: number): Promise<string> {
    return this.call<string>('GetAtomName', (cb) => this.client.GetAtomName(atom, cb), `atom=${atom}`);
  }

  internAtom(name: string, onlyIfExists = false): Promise<number> {
    return this.call<number>('InternAtom', (cb) => this.client.InternAtom(onlyIfExists, name, cb), name);
  }

  /** RandR 1.5 GetMonitors on `window`, issued by hand because `x11` lacks it. */
  getMonitors(majorOpcode: number, window: number): Promise<RawMonitor[]> {
    return this.call<RawMonitor[]>('RRGetMonitors', (cb) => {
      const client = this.client;
      client.seq_num++;
      const request = Buffer.alloc(12);
      request.writeUInt8(majorOpcode, 0);
      request.writeUInt8(RANDR_GET_MONITORS, 1);
      request.writeUInt16LE(3, 2);
      request.writeUInt32LE(window >>> 0, 4);
      request.writeUInt8(1, 8); // get_active
      this.expect(client.seq_num, parseMonitors, (err, reply) => cb(err, reply as RawMonitor[]));
      client.pack_stream.put(request);
      client.pack_stream.submit(true);
    });
  }

  close(): Promise<void> {
    if (this.closedError) return Promise.resolve();
    this.closing = true;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.fail(
          new XConnectionError(this.displayName, `X display ${this.displayName} was closed by close()`),
          true,
        );
        resolve();
      };
      // A dead server never answers the closing round trip; do not hang on it.
      const timer = setTimeout(() => {
        this.client.stream?.destroy();
        done();
      }, 2000);
      try {
        this.client.close(() => done());
      } catch {
        done();
      }
    });
  }
}

/** Body of a GetMonitors reply (after the 8-byte header): timestamp, nMonitors, nOutputs, 12 pad, MONITORINFO[]. */
function parseMonitors(buf: Buffer): RawMonitor[] {
  const count = buf.readUInt32LE(4);
  const monitors: RawMonitor[] = [];
  let o = 24;
  for (let i = 0; i < count; i++) {
    const outputs = buf.readUInt16LE(o + 6);
    monitors.push({
      name: buf.readUInt32LE(o),
      primary: buf.readUInt8(o + 4) !== 0,
      x: buf.readInt16LE(o + 8),
      y: buf.readInt16LE(o + 10),
      width: buf.readUInt16LE(o + 12),
      height: buf.readUInt16LE(o + 14),
    });
    o += 24 + outputs * 4;
  }
  return monitors;
}

export type { X11ProtocolError };
