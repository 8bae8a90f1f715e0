// Typed failures: an X error names the request that caused it; a connection error names the display.

const CORE_ERROR_NAMES: Record<number, string> = {
  1: 'BadRequest',
  2: 'BadValue',
  3: 'BadWindow',
  4: 'BadPixmap',
  5: 'BadAtom',
  6: 'BadCursor',
  7: 'BadFont',
  8: 'BadMatch',
  9: 'BadDrawable',
  10: 'BadAccess',
  11: 'BadAlloc',
  12: 'BadColor',
  13: 'BadGC',
  14: 'BadIDChoice',
  15: 'BadName',
  16: 'BadLength',
  17: 'BadImplementation',
};

const HINTS: Record<string, string> = {
  BadWindow:
    'the window does not exist (any more); list windows with `xdotool search` or `xwininfo -root -tree`',
  BadDrawable: 'the window or pixmap does not exist (any more)',
  BadMatch:
    'the window must be mapped and entirely inside the screen, and the region inside the window; depths must match',
  BadAccess:
    'the X server refused the shared memory (another IPC namespace, another user, or a remote display); use transport "memfd" or "socket"',
  BadShmSeg: 'the shared segment is not attached on this display (disposed, or attached on another display)',
  BadLength: 'the request was longer than the server accepts',
  BadAlloc: 'the X server ran out of memory',
};

/** Where the X server's error code is an extension's, it is resolved through this table (code -> name). */
export type ExtensionErrorNames = ReadonlyMap<number, string>;

/** An error the X server answered to one request. The connection stays usable. */
export class XError extends Error {
  override readonly name = 'XError';
  /** The X error name, e.g. 'BadMatch', 'BadWindow', 'BadShmSeg'. */
  readonly error: string;
  /** The numeric X error code. */
  readonly code: number;
  /** The request that failed, e.g. 'ShmGetImage', 'GetGeometry'. */
  readonly request: string;
  /** The resource id or value the server complained about. */
  readonly badValue: number;

  constructor(code: number, error: string, request: string, badValue: number, detail?: string) {
    const hint = HINTS[error];
    super(
      `${request}${detail ? `(${detail})` : ''}: ${error} (bad value 0x${badValue.toString(16)})${hint ? ` — ${hint}` : ''}`,
    );
    this.code = code;
    this.error = error;
    this.request = request;
    this.badValue = badValue;
  }

  /** Turn an error packet from the `x11` client into an XError for `request`. */
  static from(
    packet: { error?: number; badParam?: number; message?: string },
    request: string,
    detail?: string,
    extensionErrors?: ExtensionErrorNames,
  ): XError {
    const code = packet.error ?? 0;
    const error = CORE_ERROR_NAMES[code] ?? extensionErrors?.get(code) ?? `XError${code}`;
    return new XError(code, error, request, packet.badParam ?? 0, detail);
  }
}

/** The display could not be reached, refused us, or was closed while a request was pending. */
export class XConnectionError extends Error {
  override readonly name = 'XConnectionError';
  readonly display: string;
  constructor(display: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.display = display;
  }
}

/** True for an error packet of the `x11` client (as opposed to a socket or programming error). */
export function isProtocolError(err: unknown): err is { error: number; badParam: number; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { error?: unknown }).error === 'number';
}
