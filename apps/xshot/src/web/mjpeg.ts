// multipart/x-mixed-replace fan-out: every viewer gets the newest encoded frame. A viewer whose
// socket has not taken the previous frame yet is skipped, and gets the newest frame when it
// drains, so nothing queues per viewer: at most one frame sits in each response's buffer.
//
// Each JPEG is followed at once by the next part's boundary *and headers*: Chromium shows a part
// only once it has parsed the header block of the part after it (tested: the boundary alone is not
// enough, and Content-Length is ignored). Closing a part with the next frame would show every
// frame one frame late, and the last frame of a still screen never. So parts carry no per-frame
// header (no Content-Length): clients split on the boundary, as browsers do.
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { EncodedFrame, StreamPipeline } from './pipeline';

export const MJPEG_BOUNDARY = 'xshotframe';

const PART_START = `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\n`;
const PART_END = Buffer.from(`\r\n${PART_START}`);
/** Mean of the last this-many capture-to-socket latencies in stats. */
const LATENCY_SAMPLES = 30;

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
  /**
   * Mean ms from the start of a frame's capture to its bytes being handed to the first viewer's
   * socket (capture, conversion, encode and fan-out), over the last frames.
   */
  latencyMs: number;
}

export class MjpegFanOut {
  private readonly viewers = new Set<Viewer>();
  private skipped = 0;
  private readonly latencies: number[] = [];
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
    response.write(PART_START);
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
    const latencyMs = this.latencies.length
      ? this.latencies.reduce((sum, v) => sum + v, 0) / this.latencies.length
      : 0;
    return {
      clients: this.viewers.size,
      skipped: this.skipped,
      bufferedBytes,
      latencyMs: Math.round(latencyMs * 100) / 100,
    };
  }

  /** Ends every stream (the viewers see the end of the response) and stops listening. */
  close(): void {
    this.unsubscribe();
    for (const viewer of [...this.viewers]) {
      this.viewers.delete(viewer);
      this.stopCatchUp(viewer);
      viewer.release();
      viewer.response.end();
    }
  }

  private publish(frame: EncodedFrame): void {
    let first = true;
    for (const viewer of this.viewers) {
      // Still flushing an older frame: skip this one; 'drain' sends whatever is newest then.
      if (viewer.response.writableLength > 0) {
        this.skipped++;
        viewer.catchUp ??= setInterval(() => this.catchUp(viewer), CATCH_UP_CHECK_MS);
        continue;
      }
      this.send(viewer, frame);
      if (first) {
        first = false;
        this.latencies.push(performance.timeOrigin + performance.now() - frame.capturedAt);
        if (this.latencies.length > LATENCY_SAMPLES) this.latencies.shift();
      }
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
    // One writev: the frame and the next part's header, handed to the socket now.
    response.cork();
    response.write(frame.jpeg);
    response.write(PART_END);
    response.uncork();
  }
}
