/**
 * Training an n-gram model from text: lines -> units (units.ts) -> ids (the vocabulary grows
 * with every new unit) -> counts (counts.ts) -> the chosen estimator (Kneser-Ney by default).
 */
import { FormatError } from '../util/errors.js';
import { checkOrder, countNgrams, type NgramCounts } from './counts.js';
import { kneserNey } from './kneser-ney.js';
import { NgramModel, type Smoothing } from './model.js';
import { addK, stupidBackoff } from './simple-smoothing.js';
import { textLines, type NgramUnits } from './units.js';
import { NgramVocabulary, bosWord, eosId, eosWord } from './vocabulary.js';

/** A text to train on and the name its errors give (a file path). */
export interface NgramText {
  readonly name: string;
  readonly text: string;
}

export interface NgramTrainOptions {
  /** 1..6. */
  readonly order: number;
  readonly units: NgramUnits;
  /** Default: interpolated modified Kneser-Ney without a discount fallback. */
  readonly smoothing?: Smoothing;
}

/** The corpus of counts.ts for `texts`, and the vocabulary it grew (units in order of first sight). */
export function ngramCorpus(
  texts: readonly NgramText[],
  units: NgramUnits,
  vocabulary = new NgramVocabulary(),
  grow = true,
): { corpus: Int32Array; vocabulary: NgramVocabulary; lines: number } {
  let corpus = new Int32Array(1 << 16);
  let length = 0;
  let lines = 0;
  const push = (id: number): void => {
    if (length === corpus.length) {
      const bigger = new Int32Array(corpus.length * 2);
      bigger.set(corpus);
      corpus = bigger;
    }
    corpus[length++] = id;
  };
  for (const { name, text } of texts) {
    textLines(text).forEach((line, index) => {
      for (const unit of units.split(line)) {
        if (unit === bosWord || unit === eosWord) {
          throw new FormatError('the sentence markers may not appear in the text', {
            where: `${name}:${index + 1}`,
            actual: unit,
            hint: 'each line is one sentence; <s> and </s> are added around it',
          });
        }
        push(grow ? vocabulary.add(unit) : vocabulary.idOf(unit));
      }
      push(eosId);
      lines++;
    });
  }
  return { corpus: corpus.slice(0, length), vocabulary, lines };
}

/**
 * Trains an n-gram model.
 *
 * @example
 * const { model } = trainNgram([{ name: 'train.txt', text }], { order: 3, units: wordUnits });
 * model.logProb([model.vocabulary.idOf('the')], model.vocabulary.idOf('cat')); // log10 p(cat | <s> the)
 */
export function trainNgram(
  texts: readonly NgramText[],
  options: NgramTrainOptions,
): { model: NgramModel; counts: NgramCounts } {
  checkOrder(options.order, 'trainNgram: order');
  const { corpus, vocabulary } = ngramCorpus(texts, options.units);
  if (corpus.length === 0) {
    throw new FormatError('no text to count', { where: texts.map((t) => t.name).join(', ') || 'trainNgram' });
  }
  const counts = countNgrams(corpus, options.order, vocabulary.size);
  const smoothing: Smoothing = options.smoothing ?? { kind: 'kneser-ney', discountFallback: null };
  const { levels, info } = estimate(counts, smoothing);
  return { model: new NgramModel(vocabulary, levels, { ...info, units: options.units.spec }), counts };
}

function estimate(counts: NgramCounts, smoothing: Smoothing): ReturnType<typeof addK> {
  switch (smoothing.kind) {
    case 'kneser-ney':
      return kneserNey(counts, { discountFallback: smoothing.discountFallback });
    case 'add-k':
      return addK(counts, smoothing.k);
    case 'stupid-backoff':
      return stupidBackoff(counts, smoothing.alpha);
  }
}
