// Benchmark helper for bench/desktop.mjs: moves an X window back and forth along a horizontal path, STEP
// pixels FPS times a second (ConfigureWindow through the x11 client, a request per move, no window
// manager in between), from X0 to X1 at height Y, until stdin closes or SIGTERM.
// Usage: node bench/window-mover.mjs DISPLAY WINDOW FPS X0 X1 Y STEP
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const x11 = require('x11');

const [displayName, windowText, ...numbers] = process.argv.slice(2);
const [fps, x0, x1, y, step] = numbers.map(Number);
const window = Number(windowText);
if (!displayName || !window || ![fps, x0, x1, y, step].every(Number.isFinite)) {
  console.error('usage: node bench/window-mover.mjs DISPLAY WINDOW FPS X0 X1 Y STEP');
  process.exit(2);
}

const client = await new Promise((resolve, reject) => {
  const connection = x11.createClient({ display: displayName }, (error) =>
    error ? reject(error) : resolve(connection),
  );
  connection.on('error', reject);
});

let running = true;
const stop = () => {
  running = false;
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();

let x = x0;
let direction = 1;
client.MoveWindow(window, x, y);
process.stdout.write('ready\n');

const interval = 1000 / fps;
let next = performance.now();
while (running) {
  next += interval;
  const wait = next - performance.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  else next = performance.now();
  if (x + direction * step > x1 || x + direction * step < x0) direction = -direction;
  x += direction * step;
  client.MoveWindow(window, x, y);
}
// Back to the start: the next client's run sees the same screen.
client.MoveWindow(window, x0, y);
await new Promise((resolve) => client.GetGeometry(window, resolve)); // a round trip: the moves were sent
client.terminate();
process.exit(0);
