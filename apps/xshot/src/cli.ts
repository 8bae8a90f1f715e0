// xshot's command line: builds the commander program from one module per command and runs it.
// main() returns the exit code (0 ok, 1 failure, 2 usage) so tests can call it without spawning.
import type { Command } from 'commander';
import { action, EXIT_OK, EXIT_USAGE, loadCommander, takeActionExitCode } from './options';

/** A command module: `register(program)` adds its command. */
interface CommandModule {
  register(program: Command): void;
}

/**
 * Every command, loaded on demand: `xshot shot` loads shot's module only, so its start-up does not pay for
 * the stream server or sharp (measured: loading every module costs ~70 ms, a third of a whole shot).
 */
const COMMANDS: Record<string, () => CommandModule> = {
  shot: () => require('./commands/shot'),
  view: () => require('./commands/view'),
  mirror: () => require('./commands/mirror'),
  stream: () => require('./commands/stream'),
  share: () => require('./commands/share'),
  show: () => require('./commands/show'),
  demo: () => require('./commands/demo'),
  windows: () => require('./commands/windows'),
};

/** The program with every command registered, or only `only` when given (a known command name). */
export function createProgram(only?: string): Command {
  const program = new (loadCommander().Command)('xshot')
    .description('Screenshots, images in X windows, display mirroring and streaming over MIT-SHM.')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`xshot: ${text.replace(/^error: /, '')}`),
    });
  const names = only !== undefined && only in COMMANDS ? [only] : Object.keys(COMMANDS);
  for (const name of names) COMMANDS[name]!().register(program);
  return program;
}

/** Runs xshot with process-style argv (node, script, ...args); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const plain = plainShot(argv);
  if (plain) {
    const { shot } = require('./commands/shot') as typeof import('./commands/shot');
    await action(shot)(plain.file, { display: plain.display });
    return takeActionExitCode();
  }
  const first = argv[2];
  // Only the named command is loaded when there is one; `xshot --help`, `xshot help` and typos load all.
  const program = createProgram(first !== undefined && !first.startsWith('-') ? first : undefined);
  takeActionExitCode();
  if (argv.length <= 2) {
    process.stderr.write(
      `xshot: no command given; try \`xshot demo\` or \`xshot shot\`\n${program.helpInformation()}`,
    );
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    if (error instanceof loadCommander().CommanderError) {
      // Help and --version end with exitCode 0; every other commander error is a usage error,
      // including help shown because no command was given.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw error;
  }
  return takeActionExitCode();
}

/**
 * `xshot shot [FILE|-] [--display NAME]` and nothing else, read without commander: the common screenshot
 * skips loading and building the program (~10 ms of a whole shot, measured with --cpu-prof). Any other
 * argument (a flag, a second file, `--`) returns undefined and takes commander's path, which gives the same
 * result for these arguments.
 */
export function plainShot(argv: readonly string[]): { file?: string; display?: string } | undefined {
  if (argv[2] !== 'shot') return undefined;
  const plain: { file?: string; display?: string } = {};
  for (let i = 3; i < argv.length; i++) {
    const arg = argv[i]!;
    if ((arg === '-d' || arg === '--display') && plain.display === undefined) {
      const value = argv[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
      plain.display = value;
    } else if (arg.startsWith('--display=') && plain.display === undefined && arg.length > 10) {
      plain.display = arg.slice(10);
    } else if ((arg === '-' || !arg.startsWith('-')) && plain.file === undefined) {
      plain.file = arg;
    } else {
      return undefined;
    }
  }
  return plain;
}

function readVersion(): string {
  const manifest: { version?: string } = require('../package.json');
  return manifest.version ?? '0.0.0';
}
