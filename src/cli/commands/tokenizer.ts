/** `lmforge tokenizer train FILES... --vocab-size N --out DIR`: train byte-level BPE, write DIR/tokenizer.json. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { trainBpe } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';

function positiveInteger(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0)
    throw new ConfigError('not a non-negative integer', { where: name, actual: value });
  return number;
}

export function tokenizerCommand(): Command {
  const command = new Command('tokenizer').description('Tokenizer tools');
  command
    .command('train')
    .description('Train a byte-level BPE tokenizer and write OUT/tokenizer.json')
    .argument('<files...>', 'text files to train on')
    .requiredOption('--vocab-size <n>', 'target vocabulary size (special tokens and 256 bytes included)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--min-frequency <n>', 'never merge a pair seen fewer times', '0')
    .option('--special-tokens <tokens...>', 'special tokens, given ids 0..', [])
    .action(
      async (
        files: string[],
        options: { vocabSize: string; out: string; minFrequency: string; specialTokens: string[] },
      ) => {
        const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));
        const bar = new SingleBar({
          format: 'merges [{bar}] {percentage}% | ETA {eta}s | {value}/{total}',
          stream: process.stderr,
        });
        let started = false;
        const tokenizer = trainBpe(texts, {
          vocabSize: positiveInteger(options.vocabSize, '--vocab-size'),
          minFrequency: positiveInteger(options.minFrequency, '--min-frequency'),
          specialTokens: options.specialTokens,
          onProgress: ({ done, total }) => {
            if (!started) bar.start(total, 0);
            started = true;
            bar.update(Math.min(done, total));
          },
        });
        if (started) bar.stop();
        await mkdir(options.out, { recursive: true });
        const path = join(options.out, 'tokenizer.json');
        await writeFile(path, JSON.stringify(tokenizer.toJSON()));
        process.stderr.write(`wrote ${path} (${tokenizer.vocabSize} tokens)\n`);
      },
    );
  return command;
}
