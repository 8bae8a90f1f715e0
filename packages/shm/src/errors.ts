// ShmError: a failed system call, typed by its errno name, with a message that names the call,
// its arguments, what went wrong and what to do about it.
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

const names = new Map<number, string>();
for (const [name, number] of Object.entries(constants.errno)) {
  // EWOULDBLOCK and EDEADLOCK alias EAGAIN and EDEADLK: keep the first, canonical name.
  if (!names.has(number)) names.set(number, name);
}

/** The symbolic name of an errno value: 13 is 'EACCES'. */
export function errnoName(errno: number): string {
  return names.get(errno) ?? `E${errno}`;
}

/** The C library's description of an errno value ('permission denied'). */
export function errnoDescription(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? `error ${errno}`;
}

export type ShmErrorCode =
  | 'EACCES'
  | 'EEXIST'
  | 'EINVAL'
  | 'EIDRM'
  | 'ENOENT'
  | 'ENOMEM'
  | 'ENOSPC'
  | 'EPERM'
  | 'EFAULT'
  | 'EMFILE'
  | 'ENFILE'
  | (string & {});

export class ShmError extends Error {
  override readonly name = 'ShmError';
  /** errno's symbolic name, as Node's own system errors have it: 'EACCES', 'ENOENT', ... */
  readonly code: ShmErrorCode;
  readonly errno: number;
  /** The libc function that failed: 'shmget', 'shmat', 'shmctl(IPC_STAT)', 'mmap', ... */
  readonly syscall: string;

  /**
   * @param syscall the call that failed
   * @param args its arguments as the message shows them ("key=0x1234, size=4096")
   * @param errno errno after the call
   * @param advice what it means here and what to do; errno's description when omitted
   */
  constructor(syscall: string, args: string, errno: number, advice?: string) {
    const code = errnoName(errno);
    super(`${syscall}(${args}): ${code} — ${advice ?? errnoDescription(errno)}`);
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}
