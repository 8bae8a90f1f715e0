// Memfd: anonymous shared memory behind a file descriptor (memfd_create + ftruncate + mmap
// MAP_SHARED), for peers that take an fd rather than a SysV id: MIT-SHM 1.2's ShmAttachFd sends it
// to the X server over the socket (SCM_RIGHTS), which works even across IPC namespaces.
import { ShmError } from './errors';
import {
  close,
  errno,
  FAILED_ADDRESS,
  ftruncate,
  MAP_SHARED,
  MFD_CLOEXEC,
  memfd_create,
  mmap,
  PROT_READ,
  PROT_WRITE,
} from './libc';
import { MAX_MAPPED_SIZE, MAX_MAPPED_SIZE_WHY, Mapping } from './mapping';
import { checkInteger } from './validate';

export interface MemfdOptions {
  /** Shown in /proc/PID/fd and /proc/PID/maps as "memfd:NAME"; 'xshm' by default. */
  name?: string;
}

export class Memfd {
  /** The file descriptor, or -1 once closed (closeFd() or close()). */
  #fd: number;
  readonly size: number;
  /** Aliases the shared mapping (no copy), exactly `size` bytes; safe to touch after close(). */
  readonly buffer: Buffer;
  readonly #mapping: Mapping;

  private constructor(fd: number, size: number, mapping: Mapping, buffer: Buffer) {
    this.#fd = fd;
    this.size = size;
    this.#mapping = mapping;
    this.buffer = buffer;
  }

  static create(size: number, options: MemfdOptions = {}): Memfd {
    checkInteger(size, 'size', 1, MAX_MAPPED_SIZE, MAX_MAPPED_SIZE_WHY);
    const name = options.name ?? 'xshm';
    if (typeof name !== 'string') throw new TypeError(`name must be a string; got ${typeof name}`);

    const fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) throw new ShmError('memfd_create', `name='${name}', MFD_CLOEXEC`, errno());
    const giveUp = (syscall: string, args: string): ShmError => {
      const error = new ShmError(syscall, args, errno());
      close(fd);
      return error;
    };
    if (ftruncate(fd, BigInt(size)) !== 0) throw giveUp('ftruncate', `fd=${fd}, length=${size}`);
    const address = mmap(null, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    if (address === FAILED_ADDRESS) throw giveUp('mmap', `length=${size}, MAP_SHARED, fd=${fd}`);
    const { mapping, buffer } = Mapping.expose(address, size);
    return new Memfd(fd, size, mapping, buffer);
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return !this.#mapping.mapped;
  }

  /**
   * Close only the descriptor (idempotent): the mapping, and `buffer`, stay. For when the fd has
   * been handed over (sent to the X server) and this process only needs the memory.
   */
  closeFd(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    if (close(fd) !== 0) throw new ShmError('close', `fd=${fd}`, errno());
  }

  /** Map the pages now, in one system call; see Attachment.populate(). A no-op once closed. */
  populate(options: { length?: number; write?: boolean } = {}): void {
    this.#mapping.populate(this.buffer, options.length ?? this.buffer.length, !!options.write);
  }

  /** Unmap the memory (the buffer then reads zeros, see README) and close the fd. Idempotent. */
  close(): void {
    this.#mapping.replaceWithZeroPages();
    this.closeFd();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
