// The fallback transport: core GetImage/PutImage over the X connection, for remote displays, `ssh -X`,
// containers without a shared IPC namespace or memfd, and servers without MIT-SHM. One copy each way.

import type { Wire } from '../wire';
import type { Backing, PutTransfer, Transfer, Transport } from './transport';

/** PutImage's fixed part with the BIG-REQUESTS length word. */
const PUT_IMAGE_HEADER = 28;

export class SocketTransport implements Transport {
  readonly name = 'socket' as const;
  private scratch = Buffer.alloc(0);

  constructor(private readonly wire: Wire) {}

  allocate(size: number): Backing {
    const buffer = Buffer.alloc(size);
    return {
      transport: 'socket',
      buffer,
      size,
      shmseg: 0,
      ready: Promise.resolve(),
      attached: true,
      populate() {},
      release() {},
    };
  }

  async get(backing: Backing, t: Transfer): Promise<void> {
    const data = await this.wire.getImage(t.drawable, t.x, t.y, t.width, t.height);
    // The reply's rows are padded exactly as ours (the server's scanline pad), so it is one copy.
    data.copy(backing.buffer, t.offset, 0, Math.min(data.length, backing.size - t.offset));
  }

  async put(backing: Backing, t: PutTransfer): Promise<void> {
    const pixelBytes = t.bitsPerPixel / 8;
    const rowBytes = Math.ceil((t.width * t.bitsPerPixel) / 8);
    const requestStride = paddedRow(rowBytes, this.wire.setup.format[t.depth]?.scanline_pad ?? 32);
    const rowsPerStrip = Math.max(
      1,
      Math.floor((this.wire.maxRequestBytes - PUT_IMAGE_HEADER) / requestStride),
    );
    const contiguous = t.srcX === 0 && requestStride === t.stride;
    let failure: Error | null = null;
    const onError = (err: Error): void => {
      failure ??= err;
    };
    for (let row = 0; row < t.height; row += rowsPerStrip) {
      const rows = Math.min(rowsPerStrip, t.height - row);
      const first = t.offset + (t.srcY + row) * t.stride + t.srcX * pixelBytes;
      let strip: Buffer;
      if (contiguous) {
        strip = backing.buffer.subarray(first, first + rows * requestStride);
      } else {
        // Sub-rectangle: rows are not adjacent in the image, repack them at the request's stride.
        strip = this.scratchOf(rows * requestStride);
        for (let r = 0; r < rows; r++) {
          const from = first + r * t.stride;
          backing.buffer.copy(strip, r * requestStride, from, from + rowBytes);
        }
      }
      this.wire.putImage(t.drawable, t.gc, t.width, rows, t.x, t.y + row, t.depth, strip, onError);
    }
    // PutImage has no reply: a round trip confirms the server has read everything (errors arrive before it).
    await this.wire.sync();
    if (failure) throw failure;
  }

  private scratchOf(size: number): Buffer {
    if (this.scratch.length < size) this.scratch = Buffer.alloc(size);
    return this.scratch.subarray(0, size);
  }
}

function paddedRow(bytes: number, padBits: number): number {
  const pad = padBits / 8;
  return Math.ceil(bytes / pad) * pad;
}
