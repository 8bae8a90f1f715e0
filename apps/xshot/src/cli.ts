// xshot's command line: builds the commander program from one module per command and runs it.
// main() returns the exit code (0 ok, 1 failure, 2 usage) so tests can call it without spawning.
import { Command, CommanderError } from 'commander';
import * as demo from './commands/demo';
import * as mirror from './commands/mirror';
import * as share from './commands/share';
import * as shot from './commands/shot';
import * as show from './commands/show';
import * as stream from './commands/stream';
import * as view from './commands/view';
import { EXIT_OK, EXIT_USAGE, takeActionExitCode } from './options';

const COMMANDS = [shot, view, mirror, stream, share, show, demo];

/** The whole program, with every command registered. */
export function createProgram(): Command {
  const program = new Command('xshot')
    .description('Screenshots, images in X windows, display mirroring and streaming over MIT-SHM.')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(`xshot: ${text.replace(/^error: /, '')}`),
    });
  for (const command of COMMANDS) command.register(program);
  return program;
}

/** Runs xshot with process-style argv (node, script, ...args); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram();
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
    if (error instanceof CommanderError) {
      // Help and --version end with exitCode 0; every other commander error is a usage error,
      // including help shown because no command was given.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    throw error;
  }
  return takeActionExitCode();
}

function readVersion(): string {
  const manifest: { version?: string } = require('../package.json');
  return manifest.version ?? '0.0.0';
}
