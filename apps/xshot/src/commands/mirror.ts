// `xshot mirror`: work in progress.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function mirror(_options: Record<string, unknown>): Promise<number> {
  return fail('mirror is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('mirror').description('mirror');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => mirror(options)));
}
