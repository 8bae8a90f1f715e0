// System V shared memory segments as values with a lifetime: Segment (shmget, shmctl), Attachment
// (shmat, and a safe detach), and list() of what /proc/sysvipc/shm shows.
import { readFileSync } from 'node:fs';
import { errnoName, ShmError } from './errors';
import {
  errno,
  FAILED_ADDRESS,
  IPC_CREAT,
  IPC_EXCL,
  IPC_PRIVATE,
  IPC_RMID,
  IPC_SET,
  IPC_STAT,
  PERMISSION_BITS,
  PROC,
  SHM_DEST,
  SHM_HUGETLB,
  SHM_LOCK,
  SHM_LOCKED,
  SHM_NORESERVE,
  SHM_RDONLY,
  SHM_UNLOCK,
  SHMID_DS,
  shmat,
  shmctl,
  shmget,
} from './libc';
import { MAX_MAPPED_SIZE, MAX_MAPPED_SIZE_WHY, Mapping } from './mapping';
import {
  type ReadStreamOptions,
  SegmentReadStream,
  SegmentWriteStream,
  type WriteStreamOptions,
} from './streams';
import { bytesOf, checkInteger } from './validate';

/** What the kernel knows about a segment: struct shmid_ds, or a row of /proc/sysvipc/shm. */
export interface SegmentInfo {
  id: number;
  /** The IPC key as the kernel stores it (a signed 32-bit int, as /proc shows it); 0 is IPC_PRIVATE. */
  key: number;
  size: number;
  /** Permission bits only (0o600); the kernel's status bits are `removed` and `locked`. */
  mode: number;
  uid: number;
  gid: number;
  cuid: number;
  cgid: number;
  /** Creator's pid, and the pid of the last shmat/shmdt. */
  cpid: number;
  lpid: number;
  nattch: number;
  /** Last attach, last detach (null when never), last change. */
  atime: Date | null;
  dtime: Date | null;
  ctime: Date;
  /** Marked for removal (SHM_DEST): it goes when its last attachment does. */
  removed: boolean;
  /** Locked in memory (SHM_LOCKED). */
  locked: boolean;
}

export interface CreateOptions {
  /** An IPC key other processes find the segment by; IPC_PRIVATE (0) when omitted. */
  key?: number;
  /** Permission bits; 0o600 by default. */
  mode?: number;
  /** With a key: fail with EEXIST if a segment has it (default), or open that one when false. */
  exclusive?: boolean;
  /** Back the segment with huge pages (SHM_HUGETLB): needs vm.nr_hugepages and CAP_IPC_LOCK. */
  hugePages?: boolean;
  /** Reserve no swap for the segment (SHM_NORESERVE). */
  noReserve?: boolean;
}

export interface AttachOptions {
  /** Map the segment read-only (SHM_RDONLY): only read permission is needed. */
  readOnly?: boolean;
}

const MAX_ID = 2 ** 31 - 1;
const MAX_UID = 2 ** 32 - 2; // (uid_t) -1 means "unchanged" to the kernel

const SAFE_LIMIT = BigInt(Number.MAX_SAFE_INTEGER);

function readShmmax(): bigint {
  return BigInt(readFileSync(PROC.shmmax, 'latin1').trim());
}

const toSafeNumber = (limit: bigint): number =>
  limit > SAFE_LIMIT ? Number.MAX_SAFE_INTEGER : Number(limit);

/** SHMMAX, the largest segment this kernel creates, capped at Number.MAX_SAFE_INTEGER. */
export function shmmax(): number {
  return toSafeNumber(readShmmax());
}

// Creating must not read /proc every time (it would double the cost of a create+destroy cycle):
// sizes within the last limit read pass, and only a larger one reads it again, in case it was raised.
// Had it been lowered since, shmget itself says EINVAL, and its message gives the new limit.
let lastShmmax: number | undefined;

function checkSize(size: unknown): number {
  if (typeof size === 'number' && Number.isInteger(size) && size >= 1 && size <= (lastShmmax ?? 0))
    return size;
  const limit = readShmmax();
  lastShmmax = Math.min(toSafeNumber(limit), MAX_MAPPED_SIZE);
  // A segment this process could not attach is refused before shmget: none is left behind.
  const why =
    lastShmmax === MAX_MAPPED_SIZE
      ? `${MAX_MAPPED_SIZE_WHY}; SHMMAX, /proc/sys/kernel/shmmax, is ${limit}`
      : 'SHMMAX, from /proc/sys/kernel/shmmax';
  return checkInteger(size, 'size', 1, lastShmmax, why);
}

/** Keys are C ints: 0xdeadbeef and -559038737 name the same segment; the kernel's form is signed. */
function checkKey(key: unknown): number {
  return checkInteger(key, 'key', -(2 ** 31), 2 ** 32 - 1, 'a 32-bit IPC key') | 0;
}

function checkMode(mode: unknown): number {
  return checkInteger(mode, 'mode', 0, PERMISSION_BITS, 'permission bits, 0o000 to 0o777');
}

export const formatKey = (key: number): string => `0x${(key >>> 0).toString(16).padStart(8, '0')}`;
export const formatMode = (mode: number): string => `0${mode.toString(8).padStart(3, '0')}`;

type Advice = Partial<Record<string, () => string>>;

/** A ShmError for the call that just failed: errno is read first, before anything can change it. */
function failure(syscall: string, args: string, advice: Advice): ShmError {
  const code = errno();
  return new ShmError(syscall, args, code, advice[errnoName(code)]?.());
}

function whoCannotAccess(id: number): string {
  const self = `this process runs as uid ${process.getuid?.()} (gid ${process.getgid?.()})`;
  const info = list().find((segment) => segment.id === id);
  if (!info) return `${self}, which the segment's owner and mode do not grant access`;
  return (
    `segment ${id} belongs to uid ${info.uid} (gid ${info.gid}) with mode ${formatMode(info.mode)}, and ${self}; ` +
    'run as a user its mode grants access to, or have its owner widen the mode (seg.setMode, seg.setOwner)'
  );
}

const gone = (id: number) => (): string =>
  `there is no segment with id ${id} (it was removed, or never existed); list segments with list() or shmtool ls`;

function readInfo(id: number, ds: Buffer): SegmentInfo {
  const number = (offset: number) => Number(ds.readBigInt64LE(offset));
  return infoOf({
    id,
    key: ds.readInt32LE(SHMID_DS.key),
    size: Number(ds.readBigUInt64LE(SHMID_DS.segsz)),
    perms: ds.readUInt16LE(SHMID_DS.mode),
    uid: ds.readUInt32LE(SHMID_DS.uid),
    gid: ds.readUInt32LE(SHMID_DS.gid),
    cuid: ds.readUInt32LE(SHMID_DS.cuid),
    cgid: ds.readUInt32LE(SHMID_DS.cgid),
    cpid: ds.readInt32LE(SHMID_DS.cpid),
    lpid: ds.readInt32LE(SHMID_DS.lpid),
    nattch: Number(ds.readBigUInt64LE(SHMID_DS.nattch)),
    atime: number(SHMID_DS.atime),
    dtime: number(SHMID_DS.dtime),
    ctime: number(SHMID_DS.ctime),
  });
}

type RawInfo = Omit<SegmentInfo, 'mode' | 'atime' | 'dtime' | 'ctime' | 'removed' | 'locked'> & {
  perms: number;
  atime: number;
  dtime: number;
  ctime: number;
};

function infoOf({ perms, atime, dtime, ctime, ...rest }: RawInfo): SegmentInfo {
  const date = (seconds: number) => (seconds === 0 ? null : new Date(seconds * 1000));
  const { id, key, size, uid, gid, cuid, cgid, cpid, lpid, nattch } = rest;
  return {
    id,
    key,
    size,
    mode: perms & PERMISSION_BITS,
    uid,
    gid,
    cuid,
    cgid,
    cpid,
    lpid,
    nattch,
    atime: date(atime),
    dtime: date(dtime),
    ctime: new Date(ctime * 1000),
    removed: (perms & SHM_DEST) !== 0,
    locked: (perms & SHM_LOCKED) !== 0,
  };
}

/**
 * Every segment in this IPC namespace, from /proc/sysvipc/shm (which lists them whatever their
 * mode: attaching is what permissions decide).
 */
export function list(): SegmentInfo[] {
  const [header = '', ...rows] = readFileSync(PROC.segments, 'latin1').split('\n');
  const columns = header.trim().split(/\s+/);
  const at = (name: string) => columns.indexOf(name);
  const index = {
    key: at('key'),
    id: at('shmid'),
    perms: at('perms'),
    size: at('size'),
    cpid: at('cpid'),
    lpid: at('lpid'),
    nattch: at('nattch'),
    uid: at('uid'),
    gid: at('gid'),
    cuid: at('cuid'),
    cgid: at('cgid'),
    atime: at('atime'),
    dtime: at('dtime'),
    ctime: at('ctime'),
  };
  return rows
    .filter((row) => row.trim() !== '')
    .map((row) => {
      const fields = row.trim().split(/\s+/);
      const field = (i: number) => Number(fields[i]);
      return infoOf({
        id: field(index.id),
        key: field(index.key),
        size: field(index.size),
        perms: Number.parseInt(fields[index.perms] ?? '0', 8),
        uid: field(index.uid),
        gid: field(index.gid),
        cuid: field(index.cuid),
        cgid: field(index.cgid),
        cpid: field(index.cpid),
        lpid: field(index.lpid),
        nattch: field(index.nattch),
        atime: field(index.atime),
        dtime: field(index.dtime),
        ctime: field(index.ctime),
      });
    });
}

/**
 * A segment mapped into this process. `buffer` aliases the shared memory (no copy), exactly the
 * segment's size. After detach() the buffer stays safe to touch: it reads zeros, and writes to it
 * reach no one (see README, "After detach").
 */
export class Attachment {
  readonly buffer: Buffer;
  readonly readOnly: boolean;
  readonly #mapping: Mapping;

  /** Made by seg.attach(). */
  constructor(mapping: Mapping, buffer: Buffer, readOnly: boolean) {
    this.#mapping = mapping;
    this.buffer = buffer;
    this.readOnly = readOnly;
  }

  get attached(): boolean {
    return this.#mapping.mapped;
  }

  /**
   * Map the pages of the first `length` bytes (default all) into this process now, in one system call,
   * rather than one page fault each on first touch: for memory about to be read or written whole, such as
   * a capture buffer. `write: true` (not for a read-only attachment) maps them as written to. A no-op once
   * detached.
   */
  populate(options: { length?: number; write?: boolean } = {}): void {
    if (options.write && this.readOnly)
      throw new TypeError('populate: write is not possible on a read-only attachment');
    this.#mapping.populate(this.buffer, options.length ?? this.buffer.length, !!options.write);
  }

  /** Detach from the segment (idempotent). */
  detach(): void {
    this.#mapping.replaceWithZeroPages();
  }

  [Symbol.dispose](): void {
    this.detach();
  }
}

export class Segment {
  readonly id: number;
  /** The IPC key, signed as the kernel stores it; 0 (IPC_PRIVATE) when the segment has none. */
  readonly key: number;
  /** Size in bytes, as created (the kernel maps whole pages, but a buffer never exceeds this). */
  readonly size: number;
  /** What this object attached and has not detached yet: released by dispose. */
  readonly #attached = new Set<Mapping>();
  /** The attachment read() and write() copy through, made on first use. */
  #io: Attachment | undefined;
  #destroyed = false;

  private constructor(info: Pick<SegmentInfo, 'id' | 'key' | 'size'>) {
    this.id = info.id;
    this.key = info.key;
    this.size = info.size;
  }

  /** Create a segment (shmget with IPC_CREAT). Every argument is checked before the call. */
  static create(size: number, options: CreateOptions = {}): Segment {
    checkSize(size);
    const key = checkKey(options.key ?? IPC_PRIVATE);
    const mode = checkMode(options.mode ?? 0o600);
    const exclusive = options.exclusive ?? true;
    let flags = IPC_CREAT | mode;
    if (exclusive) flags |= IPC_EXCL;
    if (options.hugePages) flags |= SHM_HUGETLB;
    if (options.noReserve) flags |= SHM_NORESERVE;

    const id = shmget(key, size, flags);
    if (id < 0) {
      const flagNames = [
        'IPC_CREAT',
        exclusive && 'IPC_EXCL',
        options.hugePages && 'SHM_HUGETLB',
        options.noReserve && 'SHM_NORESERVE',
        formatMode(mode),
      ].filter(Boolean);
      const existing = () => list().find((segment) => key !== IPC_PRIVATE && segment.key === key);
      throw failure('shmget', `key=${formatKey(key)}, size=${size}, ${flagNames.join('|')}`, {
        EINVAL: () => {
          const other = existing();
          return other
            ? `a segment with key ${formatKey(key)} exists (id ${other.id}) with only ${other.size} bytes; ` +
                'remove it, or ask for no more than that'
            : `size must be between 1 and SHMMAX (${shmmax()} bytes, /proc/sys/kernel/shmmax)`;
        },
        EEXIST: () =>
          `a segment with key ${formatKey(key)} already exists (id ${existing()?.id ?? '?'}); open it with ` +
          'Segment.open({ key }), pass { exclusive: false }, or remove it (shmtool rm ID, ipcrm -M KEY)',
        ENOSPC: () =>
          'the system-wide limit on segments (kernel.shmmni) or on shared memory (kernel.shmall) is ' +
          'reached; remove segments no one uses (shmtool ls, shmtool rm ID)',
        ENOMEM: () =>
          `the kernel could not reserve ${size} bytes` +
          (options.hugePages
            ? ' of huge pages (see vm.nr_hugepages)'
            : '; { noReserve: true } reserves no swap for it'),
        EPERM: () => 'SHM_HUGETLB needs CAP_IPC_LOCK or membership of the group vm.hugetlb_shm_group',
        EACCES: () => whoCannotAccess(existing()?.id ?? -1),
      });
    }
    // A segment this call made is the size and key it asked for; one found by key (exclusive:
    // false) may be larger, and only the kernel knows.
    if (exclusive || key === IPC_PRIVATE) return new Segment({ id, key, size });
    return Segment.#open(id);
  }

  /** Open a segment by id (checked with IPC_STAT), or by key (shmget without IPC_CREAT). */
  static open(target: number | { key: number }): Segment {
    if (typeof target === 'object' && target !== null) {
      const key = checkKey(target.key);
      if (key === IPC_PRIVATE) {
        throw new RangeError('key 0 is IPC_PRIVATE: a private segment has no key; open it by id');
      }
      const id = shmget(key, 0, 0);
      if (id < 0) {
        throw failure('shmget', `key=${formatKey(key)}, size=0`, {
          ENOENT: () =>
            `there is no segment with key ${formatKey(key)}; create one with Segment.create(size, { key })`,
          EACCES: () => whoCannotAccess(list().find((segment) => segment.key === key)?.id ?? -1),
        });
      }
      return Segment.#open(id);
    }
    return Segment.#open(checkInteger(target, 'id', 0, MAX_ID));
  }

  static #open(id: number): Segment {
    return new Segment(Segment.#stat(id));
  }

  static #stat(id: number): SegmentInfo {
    const ds = Buffer.alloc(SHMID_DS.size);
    if (shmctl(id, IPC_STAT, ds) !== 0) {
      throw failure('shmctl', `id=${id}, IPC_STAT`, {
        EINVAL: gone(id),
        EIDRM: gone(id),
        EACCES: () => whoCannotAccess(id),
      });
    }
    return readInfo(id, ds);
  }

  /** Map the segment into this process. May be called several times: each is its own mapping. */
  attach(options: AttachOptions = {}): Attachment {
    const readOnly = options.readOnly ?? false;
    if (this.size > MAX_MAPPED_SIZE) {
      throw new RangeError(
        `cannot attach segment ${this.id}: it is ${this.size} bytes, over ${MAX_MAPPED_SIZE_WHY}; ` +
          'a C, Go or Python process can still use it, and stat() and destroy() work',
      );
    }
    const address = shmat(this.id, null, readOnly ? SHM_RDONLY : 0);
    if (address === FAILED_ADDRESS) {
      throw failure('shmat', `id=${this.id}, ${readOnly ? 'SHM_RDONLY' : 'read-write'}`, {
        EACCES: () =>
          whoCannotAccess(this.id) +
          (readOnly ? '' : '; attach with { readOnly: true } if reading is enough'),
        EINVAL: gone(this.id),
        EIDRM: gone(this.id),
        ENOMEM: () => `there is no room in this process's address space for ${this.size} more bytes`,
      });
    }
    const { mapping, buffer } = Mapping.expose(address, this.size);
    const attached = this.#attached;
    attached.add(mapping);
    mapping.onUnmapped = () => attached.delete(mapping);
    return new Attachment(mapping, buffer, readOnly);
  }

  stat(): SegmentInfo {
    return Segment.#stat(this.id);
  }

  /** Change the permission bits (IPC_SET): the owner, the creator or root may. */
  setMode(mode: number): void {
    checkMode(mode);
    this.#set(`mode=${formatMode(mode)}`, (ds) => {
      const status = ds.readUInt16LE(SHMID_DS.mode) & ~PERMISSION_BITS;
      ds.writeUInt16LE(status | mode, SHMID_DS.mode);
    });
  }

  /** Change the owner (IPC_SET): the owner, the creator or root may. */
  setOwner(uid: number, gid: number): void {
    checkInteger(uid, 'uid', 0, MAX_UID);
    checkInteger(gid, 'gid', 0, MAX_UID);
    this.#set(`uid=${uid}, gid=${gid}`, (ds) => {
      ds.writeUInt32LE(uid, SHMID_DS.uid);
      ds.writeUInt32LE(gid, SHMID_DS.gid);
    });
  }

  #set(change: string, edit: (ds: Buffer) => void): void {
    const ds = Buffer.alloc(SHMID_DS.size);
    const fail = () =>
      failure('shmctl', `id=${this.id}, IPC_SET, ${change}`, {
        EPERM: () =>
          `only the segment's owner or creator (or a process with CAP_SYS_ADMIN) may change it, ` +
          `and this process runs as uid ${process.getuid?.()}`,
        EACCES: () => whoCannotAccess(this.id),
        EINVAL: gone(this.id),
        EIDRM: gone(this.id),
      });
    if (shmctl(this.id, IPC_STAT, ds) !== 0) throw fail();
    edit(ds);
    if (shmctl(this.id, IPC_SET, ds) !== 0) throw fail();
  }

  /** Keep the segment's pages in memory (SHM_LOCK): needs CAP_IPC_LOCK or room in RLIMIT_MEMLOCK. */
  lock(): void {
    this.#control(SHM_LOCK, 'SHM_LOCK');
  }

  unlock(): void {
    this.#control(SHM_UNLOCK, 'SHM_UNLOCK');
  }

  #control(command: number, name: string): void {
    if (shmctl(this.id, command, null) !== 0) {
      throw failure('shmctl', `id=${this.id}, ${name}`, {
        EPERM: () =>
          'locking needs CAP_IPC_LOCK, or to be the owner with the size within RLIMIT_MEMLOCK (ulimit -l)',
        ENOMEM: () => `locking ${this.size} more bytes would exceed RLIMIT_MEMLOCK (ulimit -l)`,
        EINVAL: gone(this.id),
        EIDRM: gone(this.id),
      });
    }
  }

  /**
   * Copy from the segment, starting at `position`, into `target`. Returns the number of bytes
   * copied: fewer than target's length near the end, 0 at the end (like fs.readSync).
   */
  read(target: ArrayBufferView, position = 0): number {
    const bytes = bytesOf(target, 'target');
    checkInteger(position, 'position', 0, this.size, 'the segment size');
    const count = Math.min(bytes.byteLength, this.size - position);
    if (count > 0) this.#ioBuffer(false).copy(bytes, 0, position, position + count);
    return count;
  }

  /**
   * Copy all of `source` into the segment at `position`, or, when it does not fit, nothing at all
   * (RangeError). Returns the number of bytes written.
   */
  write(source: ArrayBufferView, position = 0): number {
    const bytes = bytesOf(source, 'source');
    checkInteger(position, 'position', 0, this.size, 'the segment size');
    if (position + bytes.byteLength > this.size) {
      throw new RangeError(
        `${bytes.byteLength} bytes do not fit at position ${position} of segment ${this.id}: ` +
          `it holds ${this.size} bytes, so ${this.size - position} fit there; nothing was written`,
      );
    }
    if (bytes.byteLength > 0) this.#ioBuffer(true).set(bytes, position);
    return bytes.byteLength;
  }

  // read() and write() keep one attachment between calls, counted in nattch like any other:
  // attaching per call would fault every page in again (a 256 MiB copy would cost twice as much).
  // destroy() and dispose release it.
  #ioBuffer(writable: boolean): Buffer {
    if (!this.#io?.attached || (writable && this.#io.readOnly)) {
      this.#io?.detach();
      this.#io = this.attach({ readOnly: !writable });
    }
    return this.#io.buffer;
  }

  /** A Readable of the bytes from `start` to `end` inclusive (like fs.createReadStream). */
  createReadStream(options: ReadStreamOptions = {}): SegmentReadStream {
    return new SegmentReadStream(this, options);
  }

  /** A Writable into the segment from `start`; it errors (RangeError) when the data does not fit. */
  createWriteStream(options: WriteStreamOptions = {}): SegmentWriteStream {
    return new SegmentWriteStream(this, options);
  }

  /**
   * Mark the segment for removal (IPC_RMID): it disappears once the last process detaches, and no
   * one can attach it by key from now on. Detaches what read() and write() attached. Calling it
   * again on this object does nothing.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#io?.detach();
    this.#io = undefined;
    if (shmctl(this.id, IPC_RMID, null) !== 0) {
      throw failure('shmctl', `id=${this.id}, IPC_RMID`, {
        EPERM: () =>
          `only the segment's owner or creator (or a process with CAP_SYS_ADMIN) may remove it, ` +
          `and this process runs as uid ${process.getuid?.()}`,
        EINVAL: gone(this.id),
        EIDRM: gone(this.id),
      });
    }
    this.#destroyed = true;
  }

  /** Detach everything this object attached. The segment itself stays: destroy() removes it. */
  [Symbol.dispose](): void {
    for (const mapping of [...this.#attached]) mapping.replaceWithZeroPages();
    this.#io = undefined;
  }
}
