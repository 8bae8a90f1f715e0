// `xshot view`: work in progress.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function view(_options: Record<string, unknown>): Promise<number> {
  return fail('view is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('view').description('view');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => view(options)));
}
