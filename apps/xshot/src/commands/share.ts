// `xshot share`: placeholder until its owner lands it; keeps the register(program) convention.
import type { Command } from 'commander';
import { action, addDisplayOption, EXIT_FAILURE, fail } from '../options';

export async function share(_options: Record<string, unknown>): Promise<number> {
  return fail('share is not available yet', EXIT_FAILURE);
}

export function register(program: Command): void {
  const command = program.command('share').description('publish a display into a shared-memory frame ring');
  addDisplayOption(command);
  command.action(action((options: Record<string, unknown>) => share(options)));
}
