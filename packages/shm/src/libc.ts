// The one koffi.load of libc: every C function this package calls, every constant it passes and
// every struct offset it reads. Values are those of Linux on x86-64 and aarch64 (both use the
// generic layouts below); anywhere else this module stops at load with an error that says so.
import koffi from 'koffi';

const SUPPORTED = ['linux/x64', 'linux/arm64'];
const platform = `${process.platform}/${process.arch}`;
if (!SUPPORTED.includes(platform)) {
  throw new Error(
    `@xshm/shm supports ${SUPPORTED.join(' and ')} only, and this is ${platform}: its struct layouts and ` +
      'flag values are those of Linux on x86-64 and aarch64.',
  );
}

const libc = koffi.load('libc.so.6');

// Addresses are BigInt in koffi 3; a null pointer argument is passed as null.
export type Address = bigint;

export const shmget: (key: number, size: number, flags: number) => number = libc.func(
  'int shmget(int key, size_t size, int shmflg)',
);
export const shmat: (id: number, address: Address | null, flags: number) => Address = libc.func(
  'void *shmat(int shmid, void *shmaddr, int shmflg)',
);
export const shmctl: (id: number, command: number, buffer: Buffer | null) => number = libc.func(
  'int shmctl(int shmid, int cmd, void *buf)',
);
export const mmap: (
  address: Address | null,
  length: number,
  protection: number,
  flags: number,
  fd: number,
  offset: bigint,
) => Address = libc.func(
  'void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)',
);
export const munmap: (address: Address, length: number) => number = libc.func(
  'int munmap(void *addr, size_t length)',
);
export const madvise: (address: Address, length: number, advice: number) => number = libc.func(
  'int madvise(void *addr, size_t length, int advice)',
);
export const memfd_create: (name: string, flags: number) => number = libc.func(
  'int memfd_create(const char *name, unsigned int flags)',
);
export const ftruncate: (fd: number, length: bigint) => number = libc.func(
  'int ftruncate(int fd, int64_t length)',
);
export const close: (fd: number) => number = libc.func('int close(int fd)');
const getpagesize: () => number = libc.func('int getpagesize(void)');

/** errno as the last libc call through koffi left it. */
export const errno = (): number => koffi.errno();

/** A zero-copy ArrayBuffer over `length` bytes at `address` (no bounds check of its own). */
export const view = (address: Address, length: number): ArrayBuffer => koffi.view(address, length);

export const PAGE_SIZE = getpagesize();

// shmat and mmap report failure as (void *) -1.
export const FAILED_ADDRESS = 0xffffffffffffffffn;

// <sys/ipc.h>
export const IPC_PRIVATE = 0;
export const IPC_CREAT = 0o1000;
export const IPC_EXCL = 0o2000;
export const IPC_RMID = 0;
export const IPC_SET = 1;
export const IPC_STAT = 2;

// <sys/shm.h>
export const SHM_LOCK = 11;
export const SHM_UNLOCK = 12;
export const SHM_RDONLY = 0o10000;
export const SHM_HUGETLB = 0o4000;
export const SHM_NORESERVE = 0o10000;
/** shm_perm.mode bits the kernel sets: marked for removal, and locked in memory. */
export const SHM_DEST = 0o1000;
export const SHM_LOCKED = 0o2000;
/** The permission bits of shm_perm.mode; the rest are the kernel's status bits. */
export const PERMISSION_BITS = 0o777;

// <sys/mman.h>
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
// <sys/mman.h> madvise advice (Linux >= 5.14): fault the range in now, as reads or as writes.
export const MADV_POPULATE_READ = 22;
export const MADV_POPULATE_WRITE = 23;
export const MFD_CLOEXEC = 1;

/** struct shmid_ds (112 bytes on both architectures): byte offsets of the fields we read and set. */
export const SHMID_DS = {
  size: 112,
  key: 0, // shm_perm.__key, int
  uid: 4, // shm_perm.uid
  gid: 8,
  cuid: 12,
  cgid: 16,
  mode: 20, // shm_perm.mode, unsigned short
  segsz: 48, // size_t
  atime: 56, // time_t
  dtime: 64,
  ctime: 72,
  cpid: 80, // pid_t
  lpid: 84,
  nattch: 88, // shmatt_t (unsigned long)
} as const;

/** Where the kernel publishes its limits and its table of segments. */
export const PROC = {
  shmmax: '/proc/sys/kernel/shmmax',
  shmall: '/proc/sys/kernel/shmall',
  shmmni: '/proc/sys/kernel/shmmni',
  segments: '/proc/sysvipc/shm',
  meminfo: '/proc/meminfo',
} as const;
