/** The registered subcommands, in the order `lmforge --help` lists them. */
import type { Command } from 'commander';
import { tokenizeCommand } from './tokenize.js';
import { tokenizerCommand } from './tokenizer.js';
import { trainCommand } from './train.js';
import { generateCommand } from './generate.js';
import { evalCommand } from './eval.js';
import { demoCommand } from './demo.js';
import { benchCommand } from './bench.js';
import { infoCommand } from './info.js';

export const commands: ReadonlyArray<() => Command> = [
  tokenizeCommand,
  tokenizerCommand,
  trainCommand,
  generateCommand,
  evalCommand,
  demoCommand,
  benchCommand,
  infoCommand,
];
