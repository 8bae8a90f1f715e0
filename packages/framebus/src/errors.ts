// FrameBusError: every failure of a ring, with a code a program can branch on.

/** Why a ring call failed. */
export type FrameBusErrorCode =
  | 'EINVAL' // an argument is out of range; nothing was created or opened
  | 'ENOENT' // no ring under that name or key
  | 'EBUSY' // a live producer already owns that name or key
  | 'EFORMAT' // the segment under that key is not a ring this version can read
  | 'ECLOSED' // the ring or reader was closed
  | 'ECLAIM'; // claim/commit misuse (a claim still open, a claim already committed)

export class FrameBusError extends Error {
  override name = 'FrameBusError';
  readonly code: FrameBusErrorCode;

  constructor(code: FrameBusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
