// Stopping cleanly: SIGINT/SIGTERM become an AbortSignal, so every command releases its segments,
// windows and servers on its normal exit path instead of dying with them attached.

/** A scope that turns the first SIGINT or SIGTERM into an abort; call release() when the work is done. */
export interface InterruptScope {
  signal: AbortSignal;
  /** The signal that arrived, if any. */
  readonly received: NodeJS.Signals | undefined;
  release(): void;
}

export function interruptScope(): InterruptScope {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const onSignal = (name: NodeJS.Signals): void => {
    if (received) {
      // A second Ctrl-C means "now": leave with the conventional code; the kernel drops attachments.
      process.exit(130);
    }
    received = name;
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    release() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Resolves when `signal` aborts (never rejects). */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Waits `ms`, or less when `signal` aborts; resolves either way and leaves no listener behind. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
