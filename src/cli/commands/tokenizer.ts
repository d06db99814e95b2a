/** `lmforge tokenizer train FILES... --vocab-size N --out DIR`: train byte-level BPE, write DIR/tokenizer.json. */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command } from 'commander';
import { trainBpe } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { integer } from '../parse-number.js';

/** Every byte is a token of a byte-level BPE, so the vocabulary holds them and the specials. */
function checkVocabulary(vocabSize: number, specialTokens: readonly string[]): void {
  const repeated = specialTokens.filter((token, i) => specialTokens.indexOf(token) !== i);
  if (repeated.length > 0) {
    throw new ConfigError('a special token is given more than once', {
      where: '--special-tokens',
      actual: [...new Set(repeated)].map((token) => JSON.stringify(token)).join(', '),
    });
  }
  const least = 256 + specialTokens.length;
  if (vocabSize < least) {
    throw new ConfigError('too small for a byte-level BPE', {
      where: '--vocab-size',
      expected: `at least ${least} (256 bytes + ${specialTokens.length} special tokens)`,
      actual: vocabSize,
    });
  }
}

export function tokenizerCommand(): Command {
  const command = new Command('tokenizer');
  command
    .command('train')
    .description('Train a byte-level BPE tokenizer and write OUT/tokenizer.json')
    .argument('<files...>', 'text files to train on')
    .requiredOption(
      '--vocab-size <n>',
      'target vocabulary size (special tokens and 256 bytes included)',
      // trainBpe's own limit: ids must fit the 21 bits of its pair keys.
      integer({ min: 256, below: 2 ** 21 }),
    )
    .requiredOption('--out <dir>', 'output folder')
    .option('--min-frequency <n>', 'never merge a pair seen fewer times', integer({ min: 0 }), 0)
    .option('--special-tokens <tokens...>', 'special tokens, given ids 0..', [])
    .action(
      async (
        files: string[],
        options: { vocabSize: number; out: string; minFrequency: number; specialTokens: string[] },
      ) => {
        checkVocabulary(options.vocabSize, options.specialTokens);
        const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));
        const bar = new SingleBar({
          format: 'merges [{bar}] {percentage}% | ETA {eta}s | {value}/{total}',
          stream: process.stderr,
        });
        let started = false;
        const tokenizer = trainBpe(texts, {
          vocabSize: options.vocabSize,
          minFrequency: options.minFrequency,
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
        // All or nothing: a full disk leaves any earlier tokenizer.json as it was.
        await writeFileAtomic(path, JSON.stringify(tokenizer.toJSON()));
        process.stderr.write(`wrote ${path} (${tokenizer.vocabSize} tokens)\n`);
      },
    );
  return command;
}
