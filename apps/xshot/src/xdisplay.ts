// @xshm/mit-shm as xshot uses it, loaded on first use: it pulls in x11 and koffi (~30 ms of start-up
// that `xshot --help` and usage errors should not pay). Type imports are erased at build time.
import type * as MitShm from '@xshm/mit-shm';

export type { Display, Frame, PixelFormat, ShmImage, Xvfb, XWindow } from '@xshm/mit-shm';

/** The fields of a pixel format xshot reads. */
export type PixelLayout = Pick<MitShm.PixelFormat, 'depth' | 'bitsPerPixel' | 'channels'>;

export function loadMitShm(): typeof MitShm {
  return require('@xshm/mit-shm') as typeof MitShm;
}

/** Connects to `display` (default $DISPLAY); mit-shm gives up within 5 s with a message naming it. */
export async function connectDisplay(display: string | undefined): Promise<MitShm.Display> {
  const name = display ?? process.env.DISPLAY;
  if (!name) {
    throw new Error('no X display: DISPLAY is not set and --display was not given (e.g. --display :0)');
  }
  return loadMitShm().connect({ display: name });
}
