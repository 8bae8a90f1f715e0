// `xshot show`: placeholder until its owner lands it; keeps the register(program) convention.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function show(_options: Record<string, unknown>): Promise<number> {
  return fail('show is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program
    .command('show')
    .description('show frames from a shared-memory frame ring in a window');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => show(options)));
}
