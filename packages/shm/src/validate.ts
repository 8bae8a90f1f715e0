// Argument checks that run before any system call: a bad value is a RangeError that names the
// argument, the range it must be in and what it was given.

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string '${value}'`;
  if (typeof value === 'bigint') return `the bigint ${value}n`;
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : typeof value;
}

/**
 * `value` as an integer from `min` to `max`, else a RangeError.
 * @param why what the bounds are, when they need saying ("SHMMAX, /proc/sys/kernel/shmmax")
 */
export function checkInteger(value: unknown, name: string, min: number, max: number, why?: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const bounds = why ? ` (${why})` : '';
    throw new RangeError(`${name} must be an integer from ${min} to ${max}${bounds}; got ${describe(value)}`);
  }
  return value;
}

/** The bytes of any ArrayBufferView, viewed (not copied) as a Uint8Array. */
export function bytesOf(view: unknown, name: string): Uint8Array {
  if (view instanceof Uint8Array) return view;
  if (ArrayBuffer.isView(view)) return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  throw new TypeError(`${name} must be a Buffer, a TypedArray or a DataView; got ${describe(view)}`);
}
