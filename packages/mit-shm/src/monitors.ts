// Choosing a monitor for a capture by index or by name (RandR's monitor name, 'xinerama-N', or 'screen'
// when the server reports none).

import type { Monitor } from './connect';

/** The monitor `wanted` names (an index into display.monitors(), or a monitor's name). */
export function findMonitor(monitors: Monitor[], wanted: number | string, where: string): Monitor {
  const found =
    typeof wanted === 'number' ? monitors[wanted] : monitors.find((monitor) => monitor.name === wanted);
  if (found) return found;
  const list = monitors.map((m) => `${m.index} '${m.name}' ${m.width}x${m.height}+${m.x}+${m.y}`).join(', ');
  throw new RangeError(
    `${where}: monitor ${typeof wanted === 'number' ? wanted : `'${wanted}'`} does not exist; the display has ${monitors.length}: ${list}`,
  );
}

/** Checks a monitor option before any request: an index 0-255 or a non-empty name. */
export function checkMonitor(where: string, wanted: unknown): asserts wanted is number | string {
  if (typeof wanted === 'string' && wanted.length > 0) return;
  if (typeof wanted === 'number' && Number.isInteger(wanted) && wanted >= 0 && wanted <= 255) return;
  throw new RangeError(
    `${where}: monitor=${JSON.stringify(wanted)} must be an index (an integer 0-255) or a monitor's name (see display.monitors())`,
  );
}
