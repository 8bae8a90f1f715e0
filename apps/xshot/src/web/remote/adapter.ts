// ---- ADAPTER, to remove when @xshm/mit-shm has `display.watchChanges({ rectangles: true })` and
// `display.lost` (the `core` helper's additions). Until then this file speaks DAMAGE on the raw `x11` client
// under the Display, with the same names and shapes, so the switch is: delete this file and call
//   display.watchChanges({ rectangles: true })   and   display.lost
// from desktop.ts instead of watchChanges(display) and displayLost(display).
import type { Display } from '@xshm/mit-shm';
import type { Rect } from './tiles';

export interface ChangeWatch extends Disposable {
  readonly mode: 'damage' | 'polling';
  readonly reason?: string;
  /** True as soon as damage is pending, false after `timeoutMs` or when `signal` aborts. */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Rectangles damaged since the last take() (DamageSubtract re-arms). */
  take(): Rect[];
  close(): void;
}

interface DamageEvent {
  name?: string;
  damage?: number;
  area?: { x: number; y: number; w: number; h: number };
}
interface DamageExtension {
  ReportLevel: { DeltaRectangles: 1 };
  Create(damage: number, drawable: number, level: number): void;
  Subtract(damage: number, repair: number, parts: number): void;
  Destroy(damage: number): void;
}
interface DamageClient {
  AllocID(): number;
  require(name: 'damage', cb: (err: Error | null, ext: DamageExtension) => void): void;
  on(event: 'event', listener: (ev: DamageEvent) => void): unknown;
  removeListener(event: 'event', listener: (ev: DamageEvent) => void): unknown;
}

/** Pending rectangles beyond this are folded into their bounding box: nothing grows without bound. */
const MAX_PENDING = 256;

export async function watchChanges(display: Display): Promise<ChangeWatch> {
  const client = display.client as unknown as DamageClient;
  const ext = await new Promise<DamageExtension | null>((resolve) => {
    try {
      client.require('damage', (err, e) => resolve(err || !e ? null : e));
    } catch {
      resolve(null);
    }
  });
  const whole: Rect = { x: 0, y: 0, width: display.width, height: display.height };
  if (!ext) {
    return {
      mode: 'polling',
      reason: `${display.name} has no DAMAGE extension`,
      changed: (timeoutMs, signal) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => resolve(true), Math.min(timeoutMs, 33));
          signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve(false);
          });
        }),
      take: () => [whole],
      close() {},
      [Symbol.dispose]() {},
    };
  }
  const damage = client.AllocID();
  let pending: Rect[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  const onEvent = (ev: DamageEvent): void => {
    if (ev.name !== 'DamageNotify' || ev.damage !== damage || !ev.area) return;
    pending.push({ x: ev.area.x, y: ev.area.y, width: ev.area.w, height: ev.area.h });
    if (pending.length > MAX_PENDING) pending = [boundingBox(pending)];
    wake?.();
  };
  client.on('event', onEvent);
  ext.Create(damage, display.root, ext.ReportLevel.DeltaRectangles);
  const watch: ChangeWatch = {
    mode: 'damage',
    changed(timeoutMs, signal) {
      if (pending.length > 0) return Promise.resolve(true);
      if (signal?.aborted) return Promise.resolve(false);
      return new Promise((resolve) => {
        const finish = (value: boolean): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (wake === onDamage) wake = null;
          resolve(value);
        };
        const onDamage = (): void => finish(true);
        const onAbort = (): void => finish(false);
        const timer = setTimeout(() => finish(false), timeoutMs);
        signal?.addEventListener('abort', onAbort);
        wake = onDamage;
      });
    },
    take() {
      const taken = pending;
      pending = [];
      if (!closed && !display.closed) ext.Subtract(damage, 0, 0);
      return taken;
    },
    close() {
      if (closed) return;
      closed = true;
      client.removeListener('event', onEvent);
      wake?.();
      if (!display.closed) ext.Destroy(damage);
    },
    [Symbol.dispose]() {
      watch.close();
    },
  };
  return watch;
}

/** Resolves (never rejects) when the X connection ends. */
export function displayLost(display: Display): Promise<Error> {
  return new Promise((resolve) => {
    const gone = (): void => resolve(new Error(`the connection to X display ${display.name} closed`));
    display.client.once('end', gone);
    display.client.stream?.once('close', gone);
  });
}
// ---- end of ADAPTER ----

function boundingBox(rects: Rect[]): Rect {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
