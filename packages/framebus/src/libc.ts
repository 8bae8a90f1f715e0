// framebus's own small koffi.load of libc: the futex (wake, and wait in the waiter's worker)
// Segments themselves come from @xshm/shm; nothing here touches SysV.
import koffi from 'koffi';

/** futex(2) has no libc wrapper: it goes through syscall(2) with the architecture's number. */
const SYS_FUTEX: Readonly<Partial<Record<NodeJS.Architecture, number>>> = { x64: 202, arm64: 98 };
export const FUTEX_WAIT = 0;
export const FUTEX_WAKE = 1;
export const EAGAIN = 11;
export const ETIMEDOUT = 110;
const INT_MAX = 0x7fffffff;

/** The C prototype of syscall(2) as the futex calls use it (the same text loads in the worker). */
export const FUTEX_PROTOTYPE =
  'long syscall(long number, intptr_t word, int op, int value, void *timeout, intptr_t word2, int value3)';

export function futexSyscallNumber(): number {
  const number = SYS_FUTEX[process.arch];
  if (number === undefined) {
    throw new Error(
      `@xshm/framebus: no futex syscall number known for ${process.arch}; it runs on x64 and arm64 Linux`,
    );
  }
  return number;
}

const libc = koffi.load('libc.so.6');
const futex: (
  number: number,
  word: bigint,
  op: number,
  value: number,
  timeout: Buffer | null,
  word2: bigint,
  value3: number,
) => number = libc.func(FUTEX_PROTOTYPE);

/** Wakes every process waiting on the u32 at `address` (a shared futex: any process, any mapping). */
export function futexWakeAll(address: bigint): void {
  futex(futexSyscallNumber(), address, FUTEX_WAKE, INT_MAX, null, 0n, 0);
}

/** Whether a process exists (kill(pid, 0)); EPERM, another user's process, counts as alive. */
export function processExists(pid: number): boolean {
  // 0 and negative pids name process groups, and kill() throws on values past int: none is a producer.
  if (!Number.isInteger(pid) || pid <= 0 || pid > 0x7fffffff) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The address of a Buffer's first byte, for the futex calls. */
export function addressOf(buffer: Buffer): bigint {
  return koffi.address(buffer);
}
