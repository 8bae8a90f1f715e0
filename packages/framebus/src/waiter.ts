// SequenceWaiter: waits for a ring's sequence word to change without spinning and without
// blocking the event loop. A worker_threads worker sits in futex(FUTEX_WAIT) on the word in
// the shared segment; the producer's FUTEX_WAKE after each commit wakes it within microseconds,
// and it tells the main thread with one message. The worker only passes the address to the
// kernel and never dereferences it, so the main thread may detach the segment at any time
// (the kernel answers EFAULT instead of the process crashing).
import { Worker } from 'node:worker_threads';
import { FUTEX_PROTOTYPE, FUTEX_WAIT, futexSyscallNumber } from './libc';

/**
 * Longest single wait: a reader looks at its producer's health at least this often, which is
 * what bounds "a reader notices a dead producer within a second". Idle cost: 5 wake-ups a second.
 */
export const POLL_INTERVAL_MS = 200;

/** The worker's whole program (CommonJS, run with eval so it needs no file next to the build). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const koffi = require(workerData.koffiPath);
const futex = koffi.load('libc.so.6').func(workerData.prototype);
const timeout = Buffer.alloc(16);
timeout.writeBigInt64LE(BigInt(Math.floor(workerData.timeoutMs / 1000)), 0);
timeout.writeBigInt64LE(BigInt((workerData.timeoutMs % 1000) * 1e6), 8);
parentPort.on('message', (expected) => {
  futex(workerData.syscall, workerData.address, workerData.op, expected | 0, timeout, 0n, 0);
  parentPort.postMessage(0);
});
`;

export class SequenceWaiter {
  readonly #worker: Worker;
  #resolve: (() => void) | null = null;
  #failure: Error | null = null;
  #closed = false;

  /** @param address the u32 futex word (the ring's sequence) in this process's mapping */
  constructor(address: bigint) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        koffiPath: require.resolve('koffi'),
        prototype: FUTEX_PROTOTYPE,
        syscall: futexSyscallNumber(),
        op: FUTEX_WAIT,
        address,
        timeoutMs: POLL_INTERVAL_MS,
      },
    });
    this.#worker.unref();
    this.#worker.on('message', () => this.#settle());
    this.#worker.on('error', (error) => {
      this.#failure = new Error(`@xshm/framebus: the futex waiter thread failed: ${error.message}`, {
        cause: error,
      });
      this.#settle();
    });
  }

  /**
   * Resolves once the word may no longer equal `expected`: after a wake-up, at once when it
   * already differs, after POLL_INTERVAL_MS at most, or when `signal` aborts. Callers re-read
   * the ring: a spurious resolve costs one look.
   */
  wait(expected: number, signal?: AbortSignal): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = (): void => this.#settle();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#resolve = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      // Referenced only while someone waits: an idle reader does not keep the process alive.
      this.#worker.ref();
      this.#worker.postMessage(expected);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#settle();
    // A wait in progress returns within POLL_INTERVAL_MS; terminate() takes effect then.
    void this.#worker.terminate();
  }

  #settle(): void {
    const resolve = this.#resolve;
    this.#resolve = null;
    if (!this.#closed) this.#worker.unref();
    resolve?.();
  }
}
