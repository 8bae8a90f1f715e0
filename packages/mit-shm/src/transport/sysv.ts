// System V shared memory: a Segment from @xshm/shm, ShmAttach by id. Marked removed (IPC_RMID) as soon as
// the server has attached, one round trip later: from then on the kernel frees it when the last of us
// detaches, so a process killed with -9 leaks nothing.

import { Segment } from '@xshm/shm';
import type { Wire } from '../wire';
import type { Backing, PutTransfer, Transfer, Transport } from './transport';
import { shmGet, shmPut } from './transport';

/** Memory that another display can attach as well (mirroring without a copy). */
export interface ForeignMemory {
  share(other: Wire): Promise<Backing>;
}

export class SysvTransport implements Transport {
  readonly name = 'sysv' as const;

  constructor(private readonly wire: Wire) {}

  allocate(size: number): Backing & ForeignMemory {
    const wire = this.wire;
    const segment = Segment.create(size, { mode: 0o600 });
    let attachment: ReturnType<Segment['attach']>;
    try {
      attachment = segment.attach();
    } catch (err) {
      segment.destroy();
      throw err;
    }
    const shmid = segment.id;
    const shmseg = wire.allocId();
    // On Linux a removed segment stays attachable by id while anyone has it attached, so other displays
    // can still attach it later (share) and nothing outlives the processes.
    const ready = wire.shmAttach(shmseg, shmid).finally(() => segment.destroy());
    ready.catch(() => {});
    let released = false;
    const backing: Backing & ForeignMemory = {
      transport: 'sysv',
      buffer: attachment.buffer,
      size,
      shmseg,
      ready,
      attached: false,
      release() {
        if (released) return;
        released = true;
        wire.shmDetach(shmseg);
        attachment.detach();
      },
      async share(other: Wire): Promise<Backing> {
        if (released) throw new Error('attachImage: the image was disposed');
        const otherSeg = other.allocId();
        await other.shmAttach(otherSeg, shmid);
        let gone = false;
        return {
          transport: 'sysv',
          buffer: attachment.buffer,
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
