// Stopping cleanly: SIGINT, SIGTERM, SIGHUP (the terminal closed) and SIGQUIT become an AbortSignal, and so
// does a closed stdout (the reader of `| head` went away), so every command releases its segments, rings,
// windows and servers on its normal exit path instead of dying with them attached.
import { constants } from 'node:os';

/** The signals a command stops cleanly on. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/** A scope that turns the first stop signal (or a stdout error) into an abort; call release() when done. */
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
      // A second Ctrl-C means "now": leave with the conventional code; the kernel drops attachments, and
      // exit handlers stop a private Xvfb.
      process.exit(128 + (constants.signals[name] ?? 0));
    }
    received = name;
    controller.abort(new Error(`interrupted by ${name}`));
  };
  // EPIPE (the reader left) or ENOSPC (a full disk): writing more is pointless. The program's runner
  // reports the error; this only stops the work.
  const onStdoutError = (error: Error): void => {
    if (!controller.signal.aborted) controller.abort(error);
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  process.stdout.on('error', onStdoutError);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    release() {
      for (const name of STOP_SIGNALS) process.off(name, onSignal);
      process.stdout.off('error', onStdoutError);
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
