// Ring names to SysV keys: the documented hash every language computes the same way
// (README "Names and keys", include/framebus.h framebus_key()).
import { FrameBusError } from './errors';

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Hashed before the name so a ring's key differs from other tools' FNV hashes of the same word. */
const KEY_NAMESPACE = 'framebus:';
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The SysV key of the ring named `name`: FNV-1a (32-bit) over the UTF-8 bytes of
 * "framebus:" + name, with the top bit cleared (so the key prints the same signed or
 * unsigned, as ipcs and /proc/sysvipc/shm print it), and 0 (IPC_PRIVATE) mapped to 1.
 */
export function ringKey(name: string): number {
  checkName(name);
  let hash = FNV_OFFSET_BASIS;
  for (const byte of Buffer.from(KEY_NAMESPACE + name, 'utf8')) {
    hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  }
  return hash & 0x7fffffff || 1;
}

export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new FrameBusError(
      'EINVAL',
      `ring name ${JSON.stringify(name)} is not valid: use 1 to 64 characters from A-Z a-z 0-9 . _ - (e.g. "desktop")`,
    );
  }
}

/** A raw key given instead of a name: a positive 32-bit integer (0 is IPC_PRIVATE, which no other process can find). */
export function checkKey(key: unknown): asserts key is number {
  if (typeof key !== 'number' || !Number.isInteger(key) || key <= 0 || key > 0xffffffff) {
    throw new FrameBusError(
      'EINVAL',
      `ring key ${String(key)} is not valid: give an integer from 1 to 0xffffffff, or a name instead`,
    );
  }
}
