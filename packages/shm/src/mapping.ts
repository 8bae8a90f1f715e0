// Buffers over memory that a system call mapped (shmat, mmap of a memfd), and the one rule that makes
// them safe to hand out: a range is never left unmapped while JavaScript may still reach a Buffer over
// it. Unmapping (detach, close) puts private zero pages in its place instead: a single
// mmap(MAP_FIXED | MAP_ANONYMOUS), which for a SysV attachment also detaches it, atomically, as shmdt
// would (nattch drops). The range goes back to the kernel with munmap only once the Buffer's
// ArrayBuffer has been garbage-collected. A stale Buffer therefore reads zeros, and what is written
// through it stays in its own private pages, seen by no one.
import { constants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { ShmError } from './errors';
import {
  type Address,
  errno,
  FAILED_ADDRESS,
  MADV_POPULATE_READ,
  MADV_POPULATE_WRITE,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  madvise,
  mmap,
  munmap,
  PAGE_SIZE,
  PROC,
  PROT_READ,
  PROT_WRITE,
  view,
} from './libc';

const EINVAL = 22;

/**
 * The most bytes one Buffer over mapped memory may hold, so the largest segment or memfd this package
 * maps. Node caps a Buffer at buffer.constants.MAX_LENGTH (2^32 on Node 20), and koffi.view past that
 * does not throw: it aborts the process (koffi 3.3.4 on Node 20, measured: 2^32 bytes map, 2^32 + 1
 * is "FATAL ERROR: Error::New napi_get_last_error_info"). Capped at 2^32 where Node allows more, since
 * no larger view has been tried. Callers check sizes against it before any system call.
 */
export const MAX_MAPPED_SIZE = Math.min(constants.MAX_LENGTH, 2 ** 32);
export const MAX_MAPPED_SIZE_WHY = `the largest Buffer Node maps here, ${MAX_MAPPED_SIZE} bytes`;

/** Where the page-reading fallback of populate() leaves what it read, so that the reads are not dropped. */
let _populated = 0;

const roundUp = (size: number, unit: number): number => Math.ceil(size / unit) * unit;

let hugePageSizeCache: number | undefined;
/** Hugepagesize from /proc/meminfo: a SHM_HUGETLB mapping can only be split on its boundaries. */
function hugePageSize(): number {
  if (hugePageSizeCache === undefined) {
    const match = /^Hugepagesize:\s+(\d+) kB$/m.exec(readFileSync(PROC.meminfo, 'latin1'));
    hugePageSizeCache = match ? Number(match[1]) * 1024 : 2 * 1024 * 1024;
  }
  return hugePageSizeCache;
}

type State = 'mapped' | 'replaced' | 'released';

/** One mapped range and where it is in its life: mapped, replaced by zero pages, released. */
export class Mapping {
  readonly address: Address;
  #size: number;
  #length: number;
  #state: State = 'mapped';
  /** Called once, when the mapping stops being the real thing (replaced or released). */
  onUnmapped: (() => void) | undefined;

  private constructor(address: Address, size: number) {
    this.address = address;
    this.#size = size;
    this.#length = roundUp(size, PAGE_SIZE);
  }

  /**
   * Take over `size` bytes mapped at `address` and expose them as one Buffer of exactly that size.
   * The range is released when that Buffer (its ArrayBuffer) is collected: so there is only ever one.
   */
  static expose(address: Address, size: number): { mapping: Mapping; buffer: Buffer } {
    // Callers refuse larger sizes before mapping; this guards the abort itself should one forget.
    if (size > MAX_MAPPED_SIZE)
      throw new RangeError(`cannot expose ${size} bytes: over ${MAX_MAPPED_SIZE_WHY}`);
    const mapping = new Mapping(address, size);
    const arrayBuffer = view(address, size);
    collected.register(arrayBuffer, mapping);
    return { mapping, buffer: Buffer.from(arrayBuffer, 0, size) };
  }

  get mapped(): boolean {
    return this.#state === 'mapped';
  }

  /** Put anonymous zero pages where the mapping was (idempotent). Throws ShmError if mmap fails. */
  replaceWithZeroPages(): void {
    if (this.#state !== 'mapped') return;
    this.#length = this.#retryOnHugePages((length) => {
      const flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
      return mmap(this.address, length, PROT_READ | PROT_WRITE, flags, -1, 0n) === FAILED_ADDRESS;
    }, 'mmap');
    this.#settle('replaced');
  }

  /**
   * Map the first `length` bytes' pages into the process now, in one system call, instead of one page
   * fault each when they are first touched (8 MB of fresh shared memory: 4.3-4.8 ms against 6.7-6.9 ms of
   * faults, measured). Kernels before 5.14 lack MADV_POPULATE_*: there each page is read once instead.
   * Does nothing once the mapping was replaced.
   */
  populate(buffer: Buffer, length: number, write: boolean): void {
    if (this.#state !== 'mapped' || length <= 0) return;
    const bytes = roundUp(Math.min(length, this.#size), PAGE_SIZE);
    if (madvise(this.address, bytes, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) === 0) return;
    let seen = 0;
    for (let i = 0; i < Math.min(length, buffer.length); i += PAGE_SIZE) seen |= buffer[i]!;
    _populated = seen;
  }

  /** munmap the range: only once nothing can reach a Buffer over it. */
  release(): void {
    if (this.#state === 'released') return;
    this.#retryOnHugePages((length) => munmap(this.address, length) !== 0, 'munmap');
    this.#settle('released');
  }

  // A SHM_HUGETLB segment is mapped in huge pages, and the kernel refuses (EINVAL) to unmap or
  // replace part of one: when that happens, the mapping is that segment's, rounded to huge pages.
  #retryOnHugePages(call: (length: number) => boolean, syscall: string): number {
    let length = this.#length;
    let failed = call(length);
    if (failed && errno() === EINVAL) {
      length = roundUp(this.#size, hugePageSize());
      failed = call(length);
    }
    if (failed) {
      const code = errno();
      throw new ShmError(syscall, `0x${this.address.toString(16)}, ${length}`, code);
    }
    return length;
  }

  #settle(state: State): void {
    const wasMapped = this.#state === 'mapped';
    this.#state = state;
    if (wasMapped) this.onUnmapped?.();
  }
}

const collected = new FinalizationRegistry<Mapping>((mapping) => {
  try {
    mapping.release();
  } catch {
    // A finalizer has no one to report to; the range stays mapped, which is safe.
  }
});
