// The contract every transport (sysv, memfd, socket) fulfils: memory the server and we both see,
// and how pixels move between it and a drawable.

import { pageSize } from '@xshm/shm';
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
  /** Map the first `length` bytes' pages into this process now (shared memory; a no-op for socket). */
  populate(length: number): void;
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

/** Memory that another display can attach as well (mirroring without a copy). */
export interface ForeignMemory {
  share(other: Wire): Promise<Backing>;
}

/** What sysv and memfd differ in: how the memory is made, handed to a server, and freed. */
export interface SharedMemory {
  readonly buffer: Buffer;
  /** Sends the attach request for this memory under `shmseg`; settles when the server has answered. */
  attach(wire: Wire, shmseg: number): Promise<void>;
  /** Maps the first `length` bytes' pages now (@xshm/shm populate, as reads). */
  populate(length: number): void;
  free(): void;
}

/**
 * The two transports that hand the server real shared memory (sysv, memfd): ShmGetImage and ShmPutImage
 * on a segment attached once per display. Subclasses only say how the memory is made.
 */
export abstract class SharedMemoryTransport implements Transport {
  abstract readonly name: TransportName;

  constructor(protected readonly wire: Wire) {}

  protected abstract createMemory(size: number): SharedMemory;

  allocate(size: number): Backing & ForeignMemory {
    const { wire, name: transport } = this;
    const memory = this.createMemory(size);
    const shmseg = wire.allocId();
    const ready = memory.attach(wire, shmseg);
    ready.catch(() => {});
    let released = false;
    const backing: Backing & ForeignMemory = {
      transport,
      buffer: memory.buffer,
      size,
      shmseg,
      ready,
      attached: false,
      populate: (length) => memory.populate(length),
      release() {
        if (released) return;
        released = true;
        wire.shmDetach(shmseg);
        memory.free();
      },
      async share(other: Wire): Promise<Backing> {
        if (released) throw new Error('attachImage: the image was disposed');
        const otherSeg = other.allocId();
        await memory.attach(other, otherSeg);
        let gone = false;
        return {
          transport,
          buffer: memory.buffer,
          size,
          shmseg: otherSeg,
          ready: Promise.resolve(),
          attached: true,
          populate: (length) => memory.populate(length),
          release() {
            if (gone) return;
            gone = true;
            other.shmDetach(otherSeg);
          },
        };
      },
    };
    ready.then(
      () => {
        backing.attached = true;
      },
      () => {},
    );
    return backing;
  }

  get(backing: Backing, t: Transfer): Promise<void> {
    return this.wire.shmGetImage(t.drawable, t.x, t.y, t.width, t.height, backing.shmseg, t.offset);
  }

  put(backing: Backing, t: PutTransfer): Promise<void> {
    return this.wire.shmPutImage(t.drawable, t.gc, {
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
}

/** Round up to whole pages: what the kernel maps anyway. */
export function pageRound(size: number): number {
  return Math.ceil(size / pageSize) * pageSize;
}
