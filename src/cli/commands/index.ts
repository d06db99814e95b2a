/** The registered subcommands, in the order `lmforge --help` lists them. */
import type { Command } from 'commander';
import { tokenizeCommand } from './tokenize.js';
import { tokenizerCommand } from './tokenizer.js';

export const commands: ReadonlyArray<() => Command> = [tokenizeCommand, tokenizerCommand];
