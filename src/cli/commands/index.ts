/** The registered subcommands, in the order `lmforge --help` lists them. */
import type { Command } from 'commander';

export const commands: ReadonlyArray<() => Command> = [];
