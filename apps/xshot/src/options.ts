// Option parsing shared by every xshot command: --display, --region, --window, --monitor, --fps.
// Parsers throw commander's InvalidArgumentError (exit 2); commands import the helpers instead of re-parsing.
// commander is required on first use, not at load: `xshot shot FILE` takes a path that never parses flags
// with it (see cli.ts), and loading commander costs ~7 ms of a ~75 ms shot.
import type * as Commander from 'commander';
import type { Command } from 'commander';

/** The commander module, loaded on first use. */
export function loadCommander(): typeof Commander {
  return require('commander') as typeof Commander;
}

/** A bad option value, as commander reports it (`option '--region <X,Y,W,H>' argument '…' is invalid. …`). */
function invalidArgument(message: string): Error {
  return new (loadCommander().InvalidArgumentError)(message);
}

/** Exit codes of every xshot command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A bad flag value or argument: the command exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

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

/** A non-negative integer (monitor index). */
export function parseIndex(text: string): number {
  if (!/^\d+$/.test(text)) throw invalidArgument(`'${text}' is not a non-negative integer`);
  return +text;
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
export function addDisplayOption(
  command: Command,
  description = 'X display to use (default: $DISPLAY)',
): Command {
  return command.option('-d, --display <name>', description);
}

/** `--region`, `--window`, `--monitor`: which part of a display to take. */
export function addSelectionOptions(command: Command): Command {
  const { Option } = loadCommander();
  return command
    .addOption(
      new Option('-r, --region <X,Y,W,H>', 'a rectangle of the screen (or of --window)').argParser(
        parseRegion,
      ),
    )
    .addOption(new Option('-w, --window <id>', 'a window id (decimal or 0x hex)').argParser(parseWindowId))
    .addOption(
      new Option('-m, --monitor <n>', 'a monitor, by index (see xrandr --listmonitors)').argParser(
        parseIndex,
      ),
    );
}

/** `--fps N`. */
export function addFpsOption(command: Command, defaultFps: number): Command {
  const { Option } = loadCommander();
  return command.addOption(
    new Option('--fps <n>', 'frames per second').argParser(parseFps).default(defaultFps),
  );
}

/** The selection options once parsed. */
export interface SelectionOptions {
  display?: string;
  region?: Region;
  window?: number;
  monitor?: number;
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

let actionExitCode: number = EXIT_OK;

/**
 * Turns a command function (parsed arguments in, exit code out) into a commander action.
 * main() returns the code it gave; commands never call process.exit themselves.
 */
export function action<Args extends unknown[]>(
  run: (...args: Args) => Promise<number>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      actionExitCode = await run(...args);
    } catch (error) {
      actionExitCode = error instanceof UsageError ? fail(error.message, EXIT_USAGE) : fail(messageOf(error));
    }
  };
}

/** Used by main(): resets and reads the code the last action gave. */
export function takeActionExitCode(): number {
  const code = actionExitCode;
  actionExitCode = EXIT_OK;
  return code;
}
