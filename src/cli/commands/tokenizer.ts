/**
 * `lmforge tokenizer train FILES... --vocab-size N --out DIR [--model bpe|wordpiece]`: train a
 * byte-level BPE (default) or a BERT WordPiece tokenizer, write DIR/tokenizer.json.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import {
  checkSpecialTokens,
  resolveTrainWordPieceOptions,
  trainBpe,
  trainWordPiece,
  type PipelineTokenizer,
  type TrainProgress,
  type TrainWordPieceFieldNames,
  type TrainWordPieceOptions,
} from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { integer } from '../parse-number.js';

type Model = 'bpe' | 'wordpiece';

interface TrainFlags {
  model: Model;
  vocabSize: number;
  out: string;
  minFrequency: number;
  specialTokens?: string[];
  cased?: boolean;
  limitAlphabet?: number;
}

/** The trainer options of WordPiece under their flag names, for its errors. */
const WORDPIECE_FLAGS: TrainWordPieceFieldNames = {
  vocabSize: '--vocab-size',
  minFrequency: '--min-frequency',
  specialTokens: '--special-tokens',
  limitAlphabet: '--limit-alphabet',
};

/** Every byte is a token of a byte-level BPE, so the vocabulary holds them and the specials. */
function checkBpe(flags: TrainFlags): void {
  for (const flag of ['cased', 'limitAlphabet'] as const) {
    if (flags[flag] !== undefined)
      throw new ConfigError('only WordPiece training takes this flag', {
        where: flag === 'cased' ? '--cased' : '--limit-alphabet',
        expected: '--model wordpiece',
        actual: '--model bpe',
      });
  }
  const specialTokens = flags.specialTokens ?? [];
  checkSpecialTokens(specialTokens, '--special-tokens');
  const least = 256 + specialTokens.length;
  if (flags.vocabSize < least) {
    throw new ConfigError('too small for a byte-level BPE', {
      where: '--vocab-size',
      expected: `at least ${least} (256 bytes + ${specialTokens.length} special tokens)`,
      actual: flags.vocabSize,
    });
  }
}

function wordPieceOptions(flags: TrainFlags): TrainWordPieceOptions {
  return {
    vocabSize: flags.vocabSize,
    minFrequency: flags.minFrequency,
    lowercase: flags.cased !== true,
    ...(flags.specialTokens === undefined ? {} : { specialTokens: flags.specialTokens }),
    ...(flags.limitAlphabet === undefined ? {} : { limitAlphabet: flags.limitAlphabet }),
  };
}

/** A bar of merges on stderr, started at the first report (after the words are counted). */
function mergeProgress(): { onProgress: (progress: TrainProgress) => void; stop: () => void } {
  const bar = new SingleBar({
    format: 'merges [{bar}] {percentage}% | ETA {eta}s | {value}/{total}',
    stream: process.stderr,
  });
  let started = false;
  return {
    onProgress: ({ done, total }) => {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(Math.min(done, total));
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export function tokenizerCommand(): Command {
  const command = new Command('tokenizer');
  command
    .command('train')
    .description('Train a byte-level BPE or a BERT WordPiece tokenizer and write OUT/tokenizer.json')
    .argument('<files...>', 'text files to train on')
    .addOption(
      new Option('--model <model>', 'bpe (byte-level, GPT-2 style) or wordpiece (BERT)')
        .choices(['bpe', 'wordpiece'])
        .default('bpe'),
    )
    .requiredOption(
      '--vocab-size <n>',
      'target vocabulary size, special tokens included (a BPE also holds the 256 bytes)',
      // The trainers' own limit: ids must fit the 21 bits of their pair keys.
      integer({ min: 1, below: 2 ** 21 }),
    )
    .requiredOption('--out <dir>', 'output folder')
    .option('--min-frequency <n>', 'never merge a pair seen fewer times', integer({ min: 0 }), 0)
    .option(
      '--special-tokens <tokens...>',
      'special tokens, given ids 0.. (wordpiece default: [PAD] [UNK] [CLS] [SEP] [MASK])',
    )
    .option('--cased', 'wordpiece: keep case and accents (default: lowercase, as bert-base-uncased)')
    .option(
      '--limit-alphabet <n>',
      'wordpiece: keep only the n most frequent characters',
      integer({ min: 0 }),
    )
    .action(async (files: string[], flags: TrainFlags) => {
      // Every flag is checked before any file is read.
      if (flags.model === 'bpe') checkBpe(flags);
      else resolveTrainWordPieceOptions(wordPieceOptions(flags), WORDPIECE_FLAGS);
      const texts = await Promise.all(files.map((file) => readFile(file, 'utf8')));
      const progress = mergeProgress();
      let tokenizer: PipelineTokenizer;
      try {
        tokenizer =
          flags.model === 'bpe'
            ? trainBpe(texts, {
                vocabSize: flags.vocabSize,
                minFrequency: flags.minFrequency,
                specialTokens: flags.specialTokens ?? [],
                onProgress: progress.onProgress,
              })
            : trainWordPiece(
                texts,
                { ...wordPieceOptions(flags), onProgress: progress.onProgress },
                WORDPIECE_FLAGS,
              );
      } finally {
        progress.stop();
      }
      await mkdir(flags.out, { recursive: true });
      const path = join(flags.out, 'tokenizer.json');
      // All or nothing: a full disk leaves any earlier tokenizer.json as it was.
      await writeFileAtomic(path, JSON.stringify(tokenizer.toJSON()));
      const short =
        tokenizer.vocabSize < flags.vocabSize
          ? `; the text has no pair left to merge past that, ${flags.vocabSize} were asked`
          : '';
      process.stderr.write(`wrote ${path} (${tokenizer.vocabSize} tokens${short})\n`);
    });
  return command;
}
