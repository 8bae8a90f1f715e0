// The part of @xshm/mit-shm xshot uses, loaded on first use (it pulls in x11 and koffi, ~30 ms of start-up
// that `xshot --help` should not pay).
// WORKAROUND until @xshm/mit-shm exports its types: the shapes below follow DESIGN.md; replace them with
// `import type { ... } from '@xshm/mit-shm'` once it lands.
import type { EncodableImage } from './encode';

export interface CaptureOptions {
  window?: number;
  x?: number;
  y?: number;
  width?: number;
  height?: number;
  monitor?: number;
  cursor?: boolean;
}

/** How a pixel sits in memory (mit-shm's PixelFormat, the fields xshot reads). */
export interface PixelLayout {
  depth: number;
  bitsPerPixel: number;
  channels: string;
}

export interface Frame extends EncodableImage {
  timestamp?: number;
}

export interface Monitor {
  name?: string;
  x: number;
  y: number;
  width: number;
  height: number;
  primary?: boolean;
}

export interface ShmImage {
  readonly width: number;
  readonly height: number;
  readonly stride: number;
  readonly format: PixelLayout;
  readonly data: Buffer;
  get(drawable: number, x: number, y: number): Promise<void>;
  put(
    drawable: number,
    options?: { x?: number; y?: number; srcX?: number; srcY?: number; width?: number; height?: number },
  ): Promise<void>;
  dispose(): void;
}

export interface ShmStatus {
  available: boolean;
  version?: string;
  transport: string;
  sharedPixmaps?: boolean;
  reason?: string;
}

export interface Display {
  shm: ShmStatus;
  root: number;
  width: number;
  height: number;
  depth: number;
  monitors(): Promise<Monitor[]>;
  capture(options?: CaptureOptions): Promise<Frame>;
  frames(options?: CaptureOptions & { fps?: number; signal?: AbortSignal }): AsyncIterable<Frame>;
  createImage(width: number, height: number, options?: { depth?: number }): ShmImage;
  close(): Promise<void>;
}

export interface Xvfb {
  display: string;
  pid: number;
  stop(): Promise<void>;
}

export interface MitShm {
  connect(options?: { display?: string; transport?: 'auto' | 'sysv' | 'memfd' | 'socket' }): Promise<Display>;
  startXvfb(options?: { width?: number; height?: number; depth?: number }): Promise<Xvfb>;
}

export function loadMitShm(): MitShm {
  return require('@xshm/mit-shm') as MitShm;
}

/** Connects to `display` (default $DISPLAY), naming the display in the error. */
export async function connectDisplay(display: string | undefined): Promise<Display> {
  const name = display ?? process.env.DISPLAY;
  if (!name) {
    throw new Error('no X display: DISPLAY is not set and --display was not given (e.g. --display :0)');
  }
  return loadMitShm().connect({ display: name });
}
