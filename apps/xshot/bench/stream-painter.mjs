// Benchmark helper for bench/stream.mjs: keeps the whole X screen changing, putting full-screen
// pictures in turn with ShmPutImage at a fixed rate, until stdin closes or SIGTERM. Five of them,
// not two: a capture rate that divides the paint rate (30 vs 60) would see the same one each time.
// Usage: node bench/stream-painter.mjs DISPLAY FPS
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { connect } = require('@xshm/mit-shm');

const [displayName, fpsText = '60'] = process.argv.slice(2);
const fps = Number(fpsText);
const display = await connect({ display: displayName });
const { width, height } = display;

/** A desktop-like picture (gradients, fine texture and blocks) that differs from the others at every pixel. */
function picture(phase) {
  const image = display.createImage(width, height);
  const words = new Uint32Array(image.data.buffer, image.data.byteOffset, (image.stride / 4) * height);
  const rowWords = image.stride / 4;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = ((x * 255) / width + phase * 97) & 255;
      const g = ((y * 255) / height + phase * 51) & 255;
      const block = ((x >> 5) + (y >> 4) + phase) & 1 ? 40 : 0;
      const b = (((x ^ y) & 0x1f) * 4 + block + phase * 13) & 255;
      words[y * rowWords + x] = (r << 16) | (g << 8) | b;
    }
  }
  return image;
}

const PICTURES = 5;
const images = Array.from({ length: PICTURES }, (_, phase) => picture(phase));
let running = true;
const stop = () => {
  running = false;
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write('ready\n');

let n = 0;
const interval = 1000 / fps;
let next = performance.now();
while (running) {
  await images[n++ % PICTURES].put(display.root);
  next += interval;
  const wait = next - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  else next = performance.now();
}
for (const image of images) image.dispose();
await display.close();
process.exit(0);
