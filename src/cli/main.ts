/**
 * The lmforge command line. This folder is the only place that reads argv/env, prints
 * and sets exit codes. Each subcommand lives in ./commands/<name>.ts and exports a
 * factory returning a commander Command.
 */
import { Command, CommanderError } from 'commander';
import { LmforgeError } from '../util/errors.js';
import { commands } from './commands/index.js';

export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('lmforge')
    .description('Train, run and inspect transformer language models')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  for (const make of commands) program.addCommand(make());
  try {
    await program.parseAsync([...argv]);
    // A command may set a non-zero status without throwing (train: 130 after Ctrl-C and a checkpoint).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof LmforgeError) {
      console.error(`lmforge: ${error.message}`);
      return 2;
    }
    throw error;
  }
}
