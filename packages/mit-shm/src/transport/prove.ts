// Proving a shared-memory transport with a real round trip, at connect and before attaching a caller's
// SysV segment on a connection that uses memfd.

import { pixelFormat, strideOf } from '../format';
import type { Wire } from '../wire';
import type { Transport } from './transport';

/**
 * A transport works when the server writes into our memory what we know is there: put a pattern into a
 * 2x1 pixmap with core PutImage, ShmGetImage it into a fresh segment, compare. An advertised extension, or
 * an attach that "succeeds" on another IPC namespace's segment with the same id, proves nothing.
 */
export async function prove(wire: Wire, transport: Transport): Promise<void> {
  const screen = wire.screen;
  const depth = screen.root_depth;
  const format = pixelFormat(
    { format: wire.setup.format, image_byte_order: wire.setup.image_byte_order },
    depth,
  );
  const stride = strideOf(format, 2);
  const backing = transport.allocate(4096);
  const pixmap = wire.allocId();
  const gc = wire.allocId();
  try {
    await backing.ready;
    const pattern = Buffer.alloc(stride);
    const bytes = format.bitsPerPixel / 8;
    const nonce = (Math.random() * 0xffffffff) >>> 0;
    const mask = (format.redMask | format.greenMask | format.blueMask) >>> 0;
    const pixels = [(nonce & mask) >>> 0, (~nonce & mask) >>> 0];
    pixels.forEach((p, i) => {
      pattern.writeUIntLE(p, i * bytes, bytes);
    });
    backing.buffer.fill(0, 0, stride);
    wire.client.CreatePixmap(pixmap, screen.root, depth, 2, 1);
    wire.client.CreateGC(gc, pixmap, {});
    wire.putImage(pixmap, gc, 2, 1, 0, 0, depth, pattern, () => {});
    await wire.shmGetImage(pixmap, 0, 0, 2, 1, backing.shmseg, 0);
    const seen = [0, 1].map((i) => (backing.buffer.readUIntLE(i * bytes, bytes) & mask) >>> 0);
    if (seen[0] !== pixels[0] || seen[1] !== pixels[1])
      throw new Error(
        'the server attached a segment but wrote its pixels elsewhere (another IPC namespace?)',
      );
  } finally {
    if (!wire.closed) {
      wire.client.FreeGC(gc);
      wire.client.FreePixmap(pixmap);
    }
    backing.release();
  }
}
