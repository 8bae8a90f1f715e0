// The FrameSource of a live X display: MIT-SHM captures through @xshm/mit-shm, change detection
// through XDAMAGE on the root (falling back to polling where damage is missing or silent), and a
// `lost` promise that settles the moment the X connection closes.
import type { Frame } from '@xshm/mit-shm';
import type { DamageCapableClient } from './damage';
import { DamageWatch } from './damage';
import type { ChangeDetection, FrameSource, Picture } from './source';

/** Which part of the display to stream (at most one of them; none: the whole screen). */
export interface CaptureArea {
  region?: { x: number; y: number; width: number; height: number };
  window?: number;
  monitor?: number;
  cursor?: boolean;
}

/** The part of an @xshm/mit-shm Frame the stream uses. */
export type CapturedFrame = Pick<Frame, 'width' | 'height' | 'toRGB' | 'release'>;

/** The part of an @xshm/mit-shm Display the stream uses. */
export interface CaptureDisplay {
  readonly root: number;
  readonly shm: { readonly transport: string };
  capture(options: {
    window?: number;
    x?: number;
    y?: number;
    width?: number;
    height?: number;
    monitor?: number;
    cursor?: boolean;
  }): Promise<CapturedFrame>;
  close(): Promise<void>;
}

export interface XSourceParts {
  display: CaptureDisplay;
  /** The display's name, for messages. */
  displayName: string;
  /** The raw `x11` client under `display`, for DAMAGE; null: poll instead. */
  client: DamageCapableClient | null;
  /** Settles when the X connection is gone. */
  connectionLost: Promise<Error>;
  area: CaptureArea;
}

export class XSource implements FrameSource {
  readonly transport: string;
  private detectionMode: ChangeDetection;
  private current: CapturedFrame | null = null;
  private closed = false;
  private connectionAlive = true;
  readonly lost: Promise<Error>;
  /** Why the source polls instead of waiting for damage, when it does. */
  pollingReason: string | null = null;

  private constructor(
    private readonly parts: XSourceParts,
    private readonly damage: DamageWatch | null,
    readonly width: number,
    readonly height: number,
  ) {
    this.transport = parts.display.shm.transport;
    this.detectionMode = damage ? 'damage' : 'polling';
    if (!damage) this.pollingReason = 'the X server has no DAMAGE extension';
    this.lost = parts.connectionLost.then((error) => {
      this.connectionAlive = false;
      return error;
    });
  }

  /**
   * Subscribes to DAMAGE and takes one capture to learn the streamed area's size (a window or
   * monitor has no other cheap way to tell); that first capture is released at once.
   */
  static async open(parts: XSourceParts): Promise<XSource> {
    // On a window, its own damage: drawing in a covered or off-screen part changes nothing on the root.
    const damage = parts.client
      ? await DamageWatch.open(parts.client, parts.area.window ?? parts.display.root)
      : null;
    try {
      const first = await parts.display.capture(captureOptions(parts.area));
      const { width, height } = first;
      first.release();
      return new XSource(parts, damage, width, height);
    } catch (error) {
      damage?.close(true);
      throw error;
    }
  }

  /** The X display's name, e.g. `:1`. */
  get displayName(): string {
    return this.parts.displayName;
  }

  get detection(): ChangeDetection {
    return this.detectionMode;
  }

  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.damage && this.detectionMode === 'damage') return this.damage.waitForDamage(timeoutMs, signal);
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        resolve(false);
      };
      const timer = setTimeout(finish, timeoutMs);
      signal.addEventListener('abort', finish);
    });
  }

  fallBackToPolling(reason: string): void {
    if (this.detectionMode === 'polling') return;
    this.detectionMode = 'polling';
    this.pollingReason = reason;
  }

  async capture(): Promise<Picture> {
    if (this.closed) throw new Error(`capture of ${this.parts.displayName} after the stream was closed`);
    // Subtract first, on the same connection: a change drawn after it is both in this capture or
    // the next, and reported again, so no change is ever lost between the two requests.
    this.damage?.subtract();
    this.current?.release();
    this.current = null;
    const frame = await this.parts.display.capture(captureOptions(this.parts.area));
    this.current = frame;
    return { width: frame.width, height: frame.height, writeRGB: (target) => frame.toRGB(target) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.current?.release();
    this.current = null;
    this.damage?.close(this.connectionAlive);
    await this.parts.display.close().catch(() => {});
  }
}

function captureOptions(area: CaptureArea): Parameters<CaptureDisplay['capture']>[0] {
  return {
    ...(area.region ?? {}),
    ...(area.window !== undefined ? { window: area.window } : {}),
    ...(area.monitor !== undefined ? { monitor: area.monitor } : {}),
    ...(area.cursor ? { cursor: true } : {}),
  };
}
