// memfd: anonymous memory from memfd_create, mapped MAP_SHARED by @xshm/shm and handed to the server with
// ShmAttachFd (MIT-SHM 1.2). Zero-copy like SysV, and it works where SysV cannot: a client in its own IPC
// namespace (a container without --ipc=host), where the server cannot see our segment ids.

import { Memfd } from '@xshm/shm';
import type { Wire } from '../wire';
import type { ForeignMemory } from './sysv';
import type { Backing, PutTransfer, Transfer, Transport } from './transport';
import { shmGet, shmPut } from './transport';

export class MemfdTransport implements Transport {
  readonly name = 'memfd' as const;

  constructor(private readonly wire: Wire) {}

  allocate(size: number): Backing & ForeignMemory {
    const wire = this.wire;
    const memfd = Memfd.create(size);
    const shmseg = wire.allocId();
    // x11 sends a duplicate of the descriptor; ours stays open so another display can attach it too.
    const ready = wire.shmAttachFd(shmseg, memfd.fd);
    ready.catch(() => {});
    let released = false;
    const backing: Backing & ForeignMemory = {
      transport: 'memfd',
      buffer: memfd.buffer,
      size,
      shmseg,
      ready,
      attached: false,
      release() {
        if (released) return;
        released = true;
        wire.shmDetach(shmseg);
        memfd.close();
      },
      async share(other: Wire): Promise<Backing> {
        if (released) throw new Error('attachImage: the image was disposed');
        const otherSeg = other.allocId();
        await other.shmAttachFd(otherSeg, memfd.fd);
        let gone = false;
        return {
          transport: 'memfd',
          buffer: memfd.buffer,
          size,
          shmseg: otherSeg,
          ready: Promise.resolve(),
          attached: true,
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
    return shmGet(this.wire, backing, t);
  }

  put(backing: Backing, t: PutTransfer): Promise<void> {
    return shmPut(this.wire, backing, t);
  }
}
