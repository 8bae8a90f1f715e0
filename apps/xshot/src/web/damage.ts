// XDAMAGE on the root window: tells the stream when something on screen changed, so an unchanging
// screen costs no capture. Uses the `x11` client's own DAMAGE requests (lib/ext/damage.js); this
// file only types the part we call and turns events into a "dirty" flag one can wait on.

/** The subset of the `x11` client DAMAGE needs (the `x11` package ships no types). */
export interface DamageCapableClient {
  AllocID(): number;
  ReleaseID?(id: number): void;
  require(
    name: 'damage',
    callback: (error: Error | null | undefined, extension: DamageExtension) => void,
  ): void;
  on(event: 'event', listener: (event: { name?: string; damage?: number }) => void): unknown;
  removeListener(event: 'event', listener: (event: { name?: string; damage?: number }) => void): unknown;
}

export interface DamageExtension {
  ReportLevel: { RawRectangles: 0; DeltaRectangles: 1; BoundingBox: 2; NonEmpty: 3 };
  Create(damage: number, drawable: number, reportLevel: number): void;
  Subtract(damage: number, repair: number, parts: number): void;
  Destroy(damage: number): void;
}

/** No region: DamageSubtract with repair = None empties the whole damage. */
const NONE = 0;

export class DamageWatch {
  /** Until the first capture, the picture counts as changed. */
  private dirty = true;
  private wake: (() => void) | null = null;
  private closed = false;
  private readonly onEvent: (event: { name?: string; damage?: number }) => void;

  private constructor(
    private readonly client: DamageCapableClient,
    private readonly extension: DamageExtension,
    private readonly damage: number,
  ) {
    this.onEvent = (event) => {
      if (event.name !== 'DamageNotify' || event.damage !== damage) return;
      this.dirty = true;
      this.wake?.();
    };
    client.on('event', this.onEvent);
  }

  /**
   * Subscribes to damage on `drawable` (and, for the root, every window drawn on it). NonEmpty:
   * one event when the damage goes from empty to non-empty, re-armed by each subtract(); the
   * cheapest level, since the stream recaptures its whole area anyway.
   * Resolves null when the server has no DAMAGE extension.
   */
  static open(client: DamageCapableClient, drawable: number): Promise<DamageWatch | null> {
    return new Promise((resolve) => {
      client.require('damage', (error, extension) => {
        if (error || !extension) {
          resolve(null);
          return;
        }
        const damage = client.AllocID();
        extension.Create(damage, drawable, extension.ReportLevel.NonEmpty);
        resolve(new DamageWatch(client, extension, damage));
      });
    });
  }

  /** Forgets the damage so far; call just before capturing (same connection, so in order). */
  subtract(): void {
    if (this.closed) return;
    this.dirty = false;
    this.extension.Subtract(this.damage, NONE, NONE);
  }

  /** True as soon as damage is reported, false after `timeoutMs` or when `signal` aborts. */
  waitForDamage(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.dirty) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (damaged: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (this.wake === onDamage) this.wake = null;
        resolve(damaged);
      };
      const onDamage = (): void => finish(true);
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort);
      this.wake = onDamage;
    });
  }

  /** Stops listening; destroys the server-side Damage unless the connection is already gone. */
  close(connectionAlive: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.client.removeListener('event', this.onEvent);
    this.wake?.();
    if (connectionAlive) {
      this.extension.Destroy(this.damage);
      this.client.ReleaseID?.(this.damage);
    }
  }
}
