// `xshot stream`: placeholder until its owner lands it; keeps the register(program) convention.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function stream(_options: Record<string, unknown>): Promise<number> {
  return fail('stream is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('stream').description('stream a display to a browser');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => stream(options)));
}
