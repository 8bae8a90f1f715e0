// The monitors (RandR 1.5, else Xinerama, else the whole screen) and choosing one for a capture by index
// or by name (RandR's monitor name, 'xinerama-N', or 'screen' when the server reports none).

import type { Monitor } from './display';
import type { Session } from './session';

/** The monitors: RandR 1.5 GetMonitors, else Xinerama, else the whole screen (one round trip or two). */
export async function queryMonitors(session: Session): Promise<Monitor[]> {
  const wire = session.wire;
  const randr = await wire.extension('randr');
  if (randr && (randr.major_version > 1 || (randr.major_version === 1 && randr.minor_version >= 5))) {
    const raw = await wire.getMonitors(randr.majorOpcode, session.root);
    if (raw.length > 0) {
      const names = await Promise.all(raw.map((m) => (m.name ? wire.atomName(m.name).catch(() => '') : '')));
      return raw.map((m, index) => ({
        index,
        name: names[index] || `monitor-${index}`,
        x: m.x,
        y: m.y,
        width: m.width,
        height: m.height,
        primary: m.primary,
      }));
    }
  }
  const xinerama = await wire.extension('xinerama');
  if (xinerama) {
    const active = await wire.call<number>('XineramaIsActive', (cb) => xinerama.IsActive(cb));
    if (active) {
      const screens = await wire.call<{ x: number; y: number; width: number; height: number }[]>(
        'XineramaQueryScreens',
        (cb) => xinerama.QueryScreens(cb),
      );
      if (screens.length > 0)
        return screens.map((s, index) => ({
          index,
          name: `xinerama-${index}`,
          ...s,
          primary: index === 0,
        }));
    }
  }
  return [
    { index: 0, name: 'screen', x: 0, y: 0, width: session.width, height: session.height, primary: true },
  ];
}

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
