// Connects to an X display with @xshm/mit-shm and wraps it as the stream's FrameSource.
import { connect } from '@xshm/mit-shm';
import { type CaptureArea, XSource } from './x-source';

export interface OpenDisplayOptions {
  /** Default: $DISPLAY. */
  display?: string;
  area?: CaptureArea;
}

export async function openDisplaySource(options: OpenDisplayOptions = {}): Promise<XSource> {
  const display = await connect(options.display !== undefined ? { display: options.display } : {});
  try {
    return await XSource.open({ display, area: options.area ?? {} });
  } catch (error) {
    await display.close().catch(() => {});
    throw error;
  }
}
