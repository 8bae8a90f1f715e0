// `xshot demo`: work in progress.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function demo(_options: Record<string, unknown>): Promise<number> {
  return fail('demo is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('demo').description('demo');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => demo(options)));
}
