// xshot's command line: the table of commands, read by the parser both xshm CLIs share (@xshm/shm/cli-args).
// main() returns the exit code (0 ok, 1 failure, 2 usage) so tests can call it without spawning.
import { type CommandEntry, type Io, type Program, processIo, runProgram } from '@xshm/shm/cli-args';

/**
 * Every command, its module loaded on demand: `xshot shot` loads shot's module only, so its start-up does
 * not pay for the stream server or sharp (measured: loading every module costs ~70 ms, a third of a whole
 * shot), and `xshot --help` loads none.
 */
const COMMANDS: Record<string, CommandEntry> = {
  shot: {
    summary: 'take a screenshot (PNG by default) of the screen, a region, a monitor or a window',
    load: () => require('./commands/shot').command,
  },
  view: {
    summary: 'show images 1:1 in an X window (arrows: next/previous, q or Escape: close)',
    load: () => require('./commands/view').command,
  },
  mirror: {
    summary: 'show display A live in a window on display B (zero-copy when both are local)',
    load: () => require('./commands/mirror').command,
  },
  stream: {
    summary: 'serve the display live to a browser: viewer page, MJPEG, single frames and stats',
    load: () => require('./commands/stream').command,
  },
  share: {
    summary: 'publish a display into a shared-memory frame ring that other processes read',
    load: () => require('./commands/share').command,
  },
  show: {
    summary: "show a frame ring's newest frames in a window (zero-copy, ShmPutImage from the ring)",
    load: () => require('./commands/show').command,
  },
  demo: {
    summary: 'show, capture and time a picture on $DISPLAY or a private Xvfb; writes xshot-demo.png',
    load: () => require('./commands/demo').command,
  },
  windows: {
    summary: 'list the top-level windows (id, geometry, depth, pid, class, title)',
    load: () => require('./commands/windows').command,
  },
};

/**
 * The libraries' advice names their API (`startXvfb()`, `{ display: ':0' }`, `list()`); on the command line
 * the same advice names flags and commands. The library messages stay as they are for library users.
 */
const CLI_WORDING: [RegExp, string][] = [
  [/pass \{ display: "([^"]*)" \} or set DISPLAY/, 'give --display $1 or set DISPLAY'],
  [/ \(start a virtual one with startXvfb\(\)\)/, ' (xshot demo starts a private Xvfb by itself)'],
  [/, or startXvfb\(\)\)/, ')'],
  [/or set DISPLAY to a running display/, 'or give --display a running one'],
  [/list segments with list\(\) or shmtool ls/, 'list segments with shmtool ls'],
];

export function translate(message: string): string {
  return CLI_WORDING.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}

export const program: Program = {
  name: 'xshot',
  summary: 'Screenshots, images in X windows, display mirroring and streaming over MIT-SHM.',
  version: () => (require('../package.json') as { version?: string }).version ?? '0.0.0',
  hint: 'try `xshot demo` or `xshot shot`',
  commands: COMMANDS,
  translate,
};

/** Runs xshot with process-style argv (node, script, ...args); resolves to the exit code. */
export function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runProgram(program, argv.slice(2), io);
}
