// The options several xshot commands share (--display, --region, --window, --monitor, --fps), declared once
// for the parser in @xshm/shm/cli-args, and their value parsers (each throws UsageError: exit 2).
import { EXIT_FAILURE, type OptionSpec, UsageError } from '@xshm/shm/cli-args';

export { defineCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from '@xshm/shm/cli-args';

const invalidArgument = (message: string): Error => new UsageError(message);

/** A rectangle in the coordinates of the drawable it is taken from. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `X,Y,W,H` (also `WxH+X+Y`, the X geometry syntax) to a Region; width and height must be positive. */
export function parseRegion(text: string): Region {
  const geometry = /^(\d+)x(\d+)\+(\d+)\+(\d+)$/.exec(text.trim());
  const list = /^(\d+),(\d+),(\d+),(\d+)$/.exec(text.trim().replace(/\s+/g, ''));
  let region: Region | undefined;
  if (geometry) {
    region = { width: +geometry[1]!, height: +geometry[2]!, x: +geometry[3]!, y: +geometry[4]! };
  } else if (list) {
    region = { x: +list[1]!, y: +list[2]!, width: +list[3]!, height: +list[4]! };
  }
  if (!region) {
    throw invalidArgument(
      `--region '${text}' is not X,Y,W,H (four non-negative integers, e.g. --region 0,0,800,600)`,
    );
  }
  if (region.width === 0 || region.height === 0) {
    throw invalidArgument(`--region '${text}' has zero width or height; give a positive W and H`);
  }
  return region;
}

/** A window id: decimal or 0x-prefixed hexadecimal, as xwininfo and xdotool print it. */
export function parseWindowId(text: string): number {
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? +text : NaN;
  if (!Number.isSafeInteger(value) || value <= 0 || value > 0xffffffff) {
    throw invalidArgument(`--window '${text}' is not a window id (decimal or 0x hex, e.g. 0x1e00007)`);
  }
  return value;
}

/** A monitor: an index (digits) or its name as `xrandr --listmonitors` shows it (e.g. DP-1, 'screen'). */
export function parseMonitor(text: string): number | string {
  if (/^\d+$/.test(text)) return +text;
  if (text.length === 0 || text.startsWith('-'))
    throw invalidArgument(`--monitor '${text}' is neither an index nor a monitor's name (e.g. 0 or DP-1)`);
  return text;
}

/** Frames per second: a positive number up to 1000. */
export function parseFps(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > 1000) {
    throw invalidArgument(`--fps '${text}' is not a number between 0 and 1000 (e.g. --fps 30)`);
  }
  return value;
}

/** An integer in [min, max]. */
export function parseIntegerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw invalidArgument(`'${text}' is not an integer between ${min} and ${max}`);
    }
    return value;
  };
}

/** `--display NAME`: the X display to use (default: $DISPLAY). */
export function displayOption(help = 'X display to use (default: $DISPLAY)') {
  return { type: 'string', short: 'd', value: 'NAME', help } as const satisfies OptionSpec;
}

/** `--region`, `--window`, `--monitor`: which part of a display to take. */
export const selectionOptions = {
  region: {
    type: 'string',
    short: 'r',
    value: 'X,Y,W,H',
    help: 'a rectangle of the screen (or of --window)',
    parse: parseRegion,
  },
  window: {
    type: 'string',
    short: 'w',
    value: 'ID',
    help: 'a window id (decimal or 0x hex)',
    parse: parseWindowId,
  },
  monitor: {
    type: 'string',
    short: 'm',
    value: 'N|NAME',
    help: 'a monitor, by index or name (see xrandr --listmonitors)',
    parse: parseMonitor,
  },
} as const satisfies Record<string, OptionSpec>;

/** `--fps N`. */
export function fpsOption(defaultFps: number) {
  return {
    type: 'string',
    value: 'N',
    help: 'frames per second',
    parse: parseFps,
    default: defaultFps,
  } as const;
}

/** The selection options once parsed. */
export interface SelectionOptions {
  display?: string;
  region?: Region;
  window?: number;
  monitor?: number | string;
}

/** Writes `xshot: MESSAGE` on stderr and returns the exit code to use. */
export function fail(message: string, code: number = EXIT_FAILURE): number {
  process.stderr.write(`xshot: ${message}\n`);
  return code;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
