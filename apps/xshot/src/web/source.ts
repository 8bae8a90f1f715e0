// What the stream needs from whatever produces pictures: capture on demand, and a way to wait
// until the picture may have changed. The X implementation is x-source.ts; tests plug in fakes.

/** One captured picture. Valid until the source's next capture() reuses its memory. */
export interface Picture {
  readonly width: number;
  readonly height: number;
  /** Writes the pixels as packed 8-bit RGB (width * height * 3 bytes) into `target`. */
  writeRGB(target: Buffer): void;
}

/**
 * How a source learns that the picture changed:
 * - `damage`: the X server tells us (XDAMAGE); nothing is captured while nothing changes;
 * - `polling`: we capture at the frame rate and compare (DAMAGE missing or found silent).
 */
export type ChangeDetection = 'damage' | 'polling';

export interface FrameSource {
  readonly width: number;
  readonly height: number;
  /** How pixels travel from the server: `sysv`, `memfd`, `socket` (or `test` for fakes). */
  readonly transport: string;
  readonly detection: ChangeDetection;
  /**
   * Resolves `true` as soon as the picture may have changed since the last capture(), `false`
   * when `timeoutMs` passes first or `signal` aborts. In `polling` mode only the timeout ends it.
   */
  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  /** Stops trusting change notifications: from now on waitForChange only waits out its timeout. */
  fallBackToPolling(reason: string): void;
  /** Captures the picture now. Rejects with the source's error when capture is impossible. */
  capture(): Promise<Picture>;
  /** Resolves (never rejects) with the reason when the source is gone for good (X server died). */
  readonly lost: Promise<Error>;
  /** Releases every segment and X resource. Safe to call twice. */
  close(): Promise<void>;
}
