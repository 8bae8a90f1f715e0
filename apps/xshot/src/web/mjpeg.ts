// multipart/x-mixed-replace fan-out: every viewer gets the newest encoded frame. A viewer whose
// socket has not taken the previous frame yet is skipped, and gets the newest frame when it
// drains, so nothing queues per viewer: at most one frame sits in each response's buffer.
import type { ServerResponse } from 'node:http';
import type { EncodedFrame, StreamPipeline } from './pipeline';

export const MJPEG_BOUNDARY = 'xshotframe';
/** Part header carrying the epoch time (ms) the frame's capture started, for latency figures. */
export const CAPTURE_TIME_HEADER = 'X-Capture-Time';

const CRLF = Buffer.from('\r\n');

interface Viewer {
  readonly response: ServerResponse;
  /** seq of the last frame written to it. */
  sentSeq: number;
  /** Set while a skipped frame is owed: checked until the socket is free again. */
  catchUp: NodeJS.Timeout | null;
  release(): void;
}

/**
 * 'drain' only fires after a write that crossed the high-water mark; a small frame can leave a
 * few bytes pending without one. A skipped viewer is therefore also re-checked on this period.
 */
const CATCH_UP_CHECK_MS = 20;

export interface FanOutStats {
  clients: number;
  /** Frames not sent to some viewer because its socket was still busy with an older one. */
  skipped: number;
  /** Bytes written but not yet taken by the viewers' sockets: bounded by one frame per viewer. */
  bufferedBytes: number;
}

export class MjpegFanOut {
  private readonly viewers = new Set<Viewer>();
  private skipped = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly pipeline: StreamPipeline) {
    this.unsubscribe = pipeline.onFrame((frame) => this.publish(frame));
  }

  /** Turns `response` into an endless multipart stream until the client goes or close() is called. */
  add(response: ServerResponse): void {
    response.writeHead(200, {
      'Content-Type': `multipart/x-mixed-replace; boundary=${MJPEG_BOUNDARY}`,
      'Cache-Control': 'no-store, no-cache, must-revalidate',
      Pragma: 'no-cache',
      Connection: 'close',
    });
    response.socket?.setNoDelay(true);
    const viewer: Viewer = { response, sentSeq: 0, catchUp: null, release: this.pipeline.addViewer() };
    this.viewers.add(viewer);
    const remove = (): void => {
      if (!this.viewers.delete(viewer)) return;
      this.stopCatchUp(viewer);
      viewer.release();
    };
    response.on('close', remove);
    response.on('error', remove);
    response.on('drain', () => this.catchUp(viewer));
    const newest = this.pipeline.newest;
    if (newest) this.send(viewer, newest);
  }

  stats(): FanOutStats {
    let bufferedBytes = 0;
    for (const viewer of this.viewers) bufferedBytes += viewer.response.writableLength;
    return { clients: this.viewers.size, skipped: this.skipped, bufferedBytes };
  }

  /** Ends every stream (the viewers see the end of the response) and stops listening. */
  close(): void {
    this.unsubscribe();
    for (const viewer of [...this.viewers]) {
      this.viewers.delete(viewer);
      this.stopCatchUp(viewer);
      viewer.release();
      viewer.response.end(`--${MJPEG_BOUNDARY}--\r\n`);
    }
  }

  private publish(frame: EncodedFrame): void {
    for (const viewer of this.viewers) {
      // Still flushing an older frame: skip this one; 'drain' sends whatever is newest then.
      if (viewer.response.writableLength > 0) {
        this.skipped++;
        viewer.catchUp ??= setInterval(() => this.catchUp(viewer), CATCH_UP_CHECK_MS);
        continue;
      }
      this.send(viewer, frame);
    }
  }

  /** Sends the newest frame if the viewer has not got it and its socket is free. */
  private catchUp(viewer: Viewer): void {
    if (!this.viewers.has(viewer) || viewer.response.writableLength > 0) return;
    this.stopCatchUp(viewer);
    const newest = this.pipeline.newest;
    if (newest && newest.seq > viewer.sentSeq) this.send(viewer, newest);
  }

  private stopCatchUp(viewer: Viewer): void {
    if (viewer.catchUp) clearInterval(viewer.catchUp);
    viewer.catchUp = null;
  }

  private send(viewer: Viewer, frame: EncodedFrame): void {
    const { response } = viewer;
    if (response.destroyed || response.writableEnded) return;
    viewer.sentSeq = frame.seq;
    const head =
      `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.jpeg.length}\r\n` +
      `${CAPTURE_TIME_HEADER}: ${frame.capturedAt.toFixed(3)}\r\n\r\n`;
    response.cork();
    response.write(head);
    response.write(frame.jpeg);
    response.write(CRLF);
    process.nextTick(() => response.uncork());
  }
}
