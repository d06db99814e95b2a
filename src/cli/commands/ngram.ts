/**
 * `lmforge ngram train|eval|generate`: n-gram language models in ARPA files (src/ngram).
 *   train --data FILE... --order N [--tokenizer word|char|PATH] [--smoothing S] --out FILE.arpa
 *   eval FILE.arpa --data FILE
 *   generate FILE.arpa --prompt P
 * Each line of a data file is a sentence. With --json each prints one JSON object.
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import {
  evaluateNgram,
  generateNgram,
  kenlmDiscountFallback,
  maxNgramOrder,
  trainNgram,
  writeArpa,
  type Smoothing,
} from '../../ngram/index.js';
import { readTextFile } from '../../train/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { ConfigError } from '../../util/errors.js';
import { loadNgramModel, ngramUnitsFor, warnAboutNgram } from '../ngram-model.js';
import { integer, real, type NumberRange } from '../parse-number.js';

const warn = (line: string): void => void process.stderr.write(`lmforge: warning: ${line}\n`);

/** `kneser-ney`, `add-k[:K]` (default 1) or `stupid-backoff[:ALPHA]` (default 0.4). */
export function parseSmoothing(value: string, discountFallback: boolean): Smoothing {
  const [kind, parameter, ...rest] = value.split(':');
  /** The parameter after the colon, read by the flags' own number grammar (parse-number.ts). */
  const number = (fallback: number, range: NumberRange): number => {
    if (parameter === undefined) return fallback;
    try {
      return real(range)(parameter);
    } catch (error) {
      throw new ConfigError(
        `the ${kind} parameter: ${error instanceof Error ? error.message : String(error)}`,
        {
          where: '--smoothing',
        },
      );
    }
  };
  if (rest.length === 0) {
    switch (kind) {
      case 'kneser-ney':
        if (parameter === undefined) {
          return { kind: 'kneser-ney', discountFallback: discountFallback ? kenlmDiscountFallback : null };
        }
        break;
      case 'add-k':
        return { kind: 'add-k', k: number(1, { above: 0 }) };
      case 'stupid-backoff':
        return { kind: 'stupid-backoff', alpha: number(0.4, { above: 0, max: 1 }) };
    }
  }
  throw new ConfigError('unknown smoothing', {
    where: '--smoothing',
    expected: 'kneser-ney | add-k[:K] | stupid-backoff[:ALPHA]',
    actual: value,
  });
}

interface TrainFlags {
  data: string[];
  order: number;
  tokenizer: string;
  smoothing: string;
  discountFallback?: boolean;
  out: string;
  json?: boolean;
}

function trainSubcommand(): Command {
  return new Command('train')
    .description('Count n-grams of text files and write an ARPA model')
    .requiredOption('--data <file...>', 'text files, one sentence a line')
    .requiredOption(
      '--order <n>',
      `n-gram order, 1 to ${maxNgramOrder}`,
      integer({ min: 1, max: maxNgramOrder }),
    )
    .option(
      '--tokenizer <word|char|path>',
      'units: whitespace-separated words, characters, or a tokenizer',
      'word',
    )
    .option(
      '--smoothing <kind>',
      'kneser-ney (interpolated, modified), add-k[:K] (default K 1) or stupid-backoff[:ALPHA] (default 0.4)',
      'kneser-ney',
    )
    .option('--discount-fallback', "Kneser-Ney: use KenLM's 0.5 1 1.5 where the counts give no discounts")
    .requiredOption('--out <file>', 'the ARPA file to write')
    .option('--json', 'print one JSON object')
    .action(async (flags: TrainFlags) => {
      const smoothing = parseSmoothing(flags.smoothing, flags.discountFallback === true);
      if (flags.discountFallback === true && smoothing.kind !== 'kneser-ney') {
        throw new ConfigError('only Kneser-Ney has discounts', {
          where: '--discount-fallback',
          actual: flags.smoothing,
        });
      }
      const units = await ngramUnitsFor(flags.tokenizer);
      const started = performance.now();
      const texts = await Promise.all(
        flags.data.map(async (name) => ({ name, text: await readTextFile(name) })),
      );
      const { model, counts } = trainNgram(texts, { order: flags.order, units, smoothing });
      const arpa = writeArpa(model);
      await writeFileAtomic(flags.out, arpa);
      const seconds = (performance.now() - started) / 1000;
      const fallbacks = (model.info.discounts ?? []).flatMap((d, k) => (d.fallback ? [k + 1] : []));
      if (fallbacks.length > 0)
        warn(`no discounts in the counts of order ${fallbacks.join(', ')}: used 0.5 1 1.5`);
      const ngrams = model.entryCounts();
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            order: model.order,
            units: units.spec.kind,
            smoothing: model.info.smoothing,
            discounts: model.info.discounts ?? null,
            sentences: counts.sentences,
            tokens: counts.tokens,
            vocab_size: model.vocabSize,
            ngrams,
            seconds,
            out: resolve(flags.out),
          }) + '\n',
        );
      } else {
        process.stdout.write(
          `${model.order}-gram ${smoothing.kind} over ${units.spec.kind}s: ${counts.tokens.toLocaleString('en')} tokens ` +
            `in ${counts.sentences.toLocaleString('en')} sentences, vocabulary ${model.vocabSize.toLocaleString('en')}, ` +
            `n-grams ${ngrams.map((n, k) => `${k + 1}=${n.toLocaleString('en')}`).join(' ')} -> ${flags.out} ` +
            `(${seconds.toFixed(1)} s)\n`,
        );
      }
    });
}

function evalSubcommand(): Command {
  return new Command('eval')
    .description('Perplexity and bits per byte of an ARPA model on a text file (</s> counted per line)')
    .argument('<model>', 'ARPA file')
    .requiredOption('--data <file>', 'text file, one sentence a line')
    .option(
      '--tokenizer <path>',
      "the tokenizer, for a model over a tokenizer's tokens (default: where it was)",
    )
    .option('--json', 'print one JSON object')
    .action(async (path: string, flags: { data: string; tokenizer?: string; json?: boolean }) => {
      const text = await readTextFile(flags.data);
      const { model, units } = await loadNgramModel(path, flags.tokenizer);
      warnAboutNgram(model, path);
      const r = evaluateNgram(model, units, [{ name: flags.data, text }]);
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            perplexity: r.perplexity,
            perplexity_excluding_oov: r.perplexityExcludingOov,
            log10_prob: r.log10Prob,
            tokens: r.tokens,
            oov: r.oov,
            sentences: r.sentences,
            bytes: r.bytes,
            bits_per_byte: r.bitsPerByte,
          }) + '\n',
        );
      } else {
        process.stdout.write(
          `perplexity ${r.perplexity.toFixed(3)} (${r.perplexityExcludingOov.toFixed(3)} without OOVs), ` +
            `log10 p ${r.log10Prob.toFixed(2)} over ${r.tokens.toLocaleString('en')} tokens ` +
            `(${r.oov.toLocaleString('en')} OOV, ${r.sentences.toLocaleString('en')} sentences), ` +
            `${r.bitsPerByte.toFixed(4)} bits per byte\n`,
        );
      }
    });
}

interface GenerateFlags {
  prompt: string;
  maxTokens: number;
  temperature: number;
  seed: number;
  eos: boolean;
  tokenizer?: string;
  json?: boolean;
}

function generateSubcommand(): Command {
  return new Command('generate')
    .description('Continue a prompt with an ARPA model, to the end of the sentence (or --max-tokens)')
    .argument('<model>', 'ARPA file')
    .requiredOption('--prompt <text>', 'the start of a sentence (one line; may be empty)')
    .option('--max-tokens <n>', 'units to generate at most', integer({ min: 1 }), 100)
    .option('--temperature <x>', '0 for the most probable unit each time', real({ min: 0 }), 1)
    .option('--seed <n>', 'random seed', integer({ min: 0, max: 2 ** 32 }), 0)
    .option('--no-eos', 'go on past the end of a sentence (a line break) until --max-tokens')
    .addOption(new Option('--tokenizer <path>', "the tokenizer, for a model over a tokenizer's tokens"))
    .option('--json', 'print {"text","sentence","tokens","finish_reason"}')
    .action(async (path: string, flags: GenerateFlags) => {
      const { model, units } = await loadNgramModel(path, flags.tokenizer);
      warnAboutNgram(model, path);
      if (flags.prompt.includes('\n')) {
        throw new ConfigError('the prompt must be one line (a line break ends a sentence)', {
          where: '--prompt',
        });
      }
      const g = generateNgram(model, units, flags.prompt, {
        maxTokens: flags.maxTokens,
        temperature: flags.temperature,
        seed: flags.seed,
        stopAtEos: flags.eos,
      });
      if (flags.json === true) {
        process.stdout.write(
          JSON.stringify({
            text: g.text,
            sentence: g.sentence,
            tokens: g.units.length,
            finish_reason: g.finishReason,
          }) + '\n',
        );
      } else {
        process.stdout.write(g.sentence + '\n');
      }
    });
}

export function ngramCommand(): Command {
  return new Command('ngram')
    .addCommand(trainSubcommand())
    .addCommand(evalSubcommand())
    .addCommand(generateSubcommand());
}
