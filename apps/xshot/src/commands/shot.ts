// `xshot shot`: work in progress.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function shot(_options: Record<string, unknown>): Promise<number> {
  return fail('shot is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('shot').description('shot');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => shot(options)));
}
