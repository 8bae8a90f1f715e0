// The contract every transport (sysv, memfd, socket) fulfils: memory the server and we both see,
// and how pixels move between it and a drawable.

import type { Wire } from '../wire';

export type TransportName = 'sysv' | 'memfd' | 'socket';
export const TRANSPORTS: readonly TransportName[] = ['sysv', 'memfd', 'socket'];

/** Memory an image lives in, attached on one display. */
export interface Backing {
  readonly transport: TransportName;
  /** Aliases the shared memory (sysv, memfd); plain process memory for socket. */
  readonly buffer: Buffer;
  readonly size: number;
  /** The MIT-SHM segment id on the display (0 for socket). */
  readonly shmseg: number;
  /**
   * Settles once the server has attached the memory (one round trip after allocate); requests may be
   * queued before that, since the server processes them in order. Rejects when the attach failed.
   */
  readonly ready: Promise<void>;
  /** True once `ready` resolved: the hot path then skips waiting on it. */
  attached: boolean;
  /** Detach from the server and release the memory if this backing owns it. */
  release(): void;
}

/** A region to copy between a drawable and a backing; rows in the backing are `stride` bytes apart. */
export interface Transfer {
  drawable: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** Byte offset of the first row in the backing. */
  offset: number;
  depth: number;
}

export interface PutTransfer extends Transfer {
  gc: number;
  /** Size of the whole image in the backing, and the source rectangle inside it. */
  totalWidth: number;
  totalHeight: number;
  srcX: number;
  srcY: number;
  stride: number;
  bitsPerPixel: number;
}

export interface Transport {
  readonly name: TransportName;
  /** Memory of at least `size` bytes, attached (or being attached) on the display. */
  allocate(size: number): Backing;
  get(backing: Backing, t: Transfer): Promise<void>;
  /** Resolves when the server is done reading, so the memory may be reused. */
  put(backing: Backing, t: PutTransfer): Promise<void>;
}

/** ShmGetImage / ShmPutImage, shared by the two transports that hand the server real shared memory. */
export function shmGet(wire: Wire, backing: Backing, t: Transfer): Promise<void> {
  return wire.shmGetImage(t.drawable, t.x, t.y, t.width, t.height, backing.shmseg, t.offset);
}

export function shmPut(wire: Wire, backing: Backing, t: PutTransfer): Promise<void> {
  return wire.shmPutImage(t.drawable, t.gc, {
    totalWidth: t.totalWidth,
    totalHeight: t.totalHeight,
    srcX: t.srcX,
    srcY: t.srcY,
    srcWidth: t.width,
    srcHeight: t.height,
    dstX: t.x,
    dstY: t.y,
    depth: t.depth,
    shmseg: backing.shmseg,
    offset: t.offset,
  });
}

/** Round up to whole pages: what the kernel maps anyway. */
export function pageRound(size: number): number {
  return Math.ceil(size / 4096) * 4096;
}
