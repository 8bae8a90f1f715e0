// memfd: anonymous memory from memfd_create, mapped MAP_SHARED by @xshm/shm and handed to the server with
// ShmAttachFd (MIT-SHM 1.2). Zero-copy like SysV, and it works where SysV cannot: a client in its own IPC
// namespace (a container without --ipc=host), where the server cannot see our segment ids.

import { Memfd } from '@xshm/shm';
import { type SharedMemory, SharedMemoryTransport } from './transport';

export class MemfdTransport extends SharedMemoryTransport {
  readonly name = 'memfd' as const;

  protected createMemory(size: number): SharedMemory {
    const memfd = Memfd.create(size);
    return {
      buffer: memfd.buffer,
      // x11 sends a duplicate of the descriptor; ours stays open so another display can attach it too.
      attach: (wire, shmseg) => wire.shmAttachFd(shmseg, memfd.fd),
      populate: (length) => memfd.populate({ length }),
      free: () => memfd.close(),
    };
  }
}
