// The FrameSource of a live X display: MIT-SHM captures through @xshm/mit-shm, change detection through
// its watchChanges() on the root or the streamed window (XDAMAGE; polling where damage is missing or found
// silent), and a `lost` promise that settles the moment the X connection closes.
import type { ChangeWatch, Frame, WatchOptions, XConnectionError } from '@xshm/mit-shm';
import type { ChangeDetection, FrameSource, Picture } from './source';

/** Which part of the display to stream (at most one of them; none: the whole screen). */
export interface CaptureArea {
  region?: { x: number; y: number; width: number; height: number };
  window?: number;
  monitor?: number | string;
  cursor?: boolean;
}

/** The part of an @xshm/mit-shm Frame the stream uses. */
export type CapturedFrame = Pick<Frame, 'width' | 'height' | 'toRGB' | 'release'>;

/** The part of an @xshm/mit-shm Display the stream uses. */
export interface CaptureDisplay {
  readonly name: string;
  readonly root: number;
  readonly shm: { readonly transport: string };
  readonly lost: Promise<XConnectionError>;
  watchChanges(options?: WatchOptions): Promise<ChangeWatch>;
  capture(options: {
    window?: number;
    x?: number;
    y?: number;
    width?: number;
    height?: number;
    monitor?: number | string;
    cursor?: boolean;
  }): Promise<CapturedFrame>;
  close(): Promise<void>;
}

export interface XSourceParts {
  display: CaptureDisplay;
  area: CaptureArea;
}

export class XSource implements FrameSource {
  readonly transport: string;
  private detectionMode: ChangeDetection;
  private current: CapturedFrame | null = null;
  private closed = false;
  readonly lost: Promise<Error>;
  /** Why the source polls instead of waiting for damage, when it does. */
  pollingReason: string | null = null;

  private constructor(
    private readonly parts: XSourceParts,
    private readonly changes: ChangeWatch,
    readonly width: number,
    readonly height: number,
  ) {
    this.transport = parts.display.shm.transport;
    this.detectionMode = changes.mode;
    if (changes.reason) this.pollingReason = changes.reason;
    this.lost = parts.display.lost;
  }

  /**
   * Subscribes to DAMAGE and takes one capture to learn the streamed area's size (a window or
   * monitor has no other cheap way to tell); that first capture is released at once.
   */
  static async open(parts: XSourceParts): Promise<XSource> {
    // On a window, its own damage: drawing in a covered or off-screen part changes nothing on the root.
    const window = parts.area.window;
    const changes = await parts.display.watchChanges(window === undefined ? {} : { drawable: window });
    try {
      const first = await parts.display.capture(captureOptions(parts.area));
      const { width, height } = first;
      first.release();
      return new XSource(parts, changes, width, height);
    } catch (error) {
      changes.close();
      throw error;
    }
  }

  /** The X display's name, e.g. `:1`. */
  get displayName(): string {
    return this.parts.display.name;
  }

  get detection(): ChangeDetection {
    return this.detectionMode;
  }

  waitForChange(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.detectionMode === 'damage') return this.changes.changed(timeoutMs, signal);
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
    if (this.closed) throw new Error(`capture of ${this.parts.display.name} after the stream was closed`);
    // Re-arm first, on the same connection: a change drawn after it is in this capture or reported
    // again, so no change is ever lost between the two requests.
    this.changes.take();
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
    this.changes.close();
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
