/**
 * What the classification baselines share: the `TextClassifier` they return, the bag of
 * words they read a text as, and the check of their training labels. Each baseline returns
 * predicted class ids, so that the metrics of `metrics/classification.ts` score a baseline
 * and a fine-tuned model alike.
 */
import { ConfigError, ShapeError } from '../../util/errors.js';

export interface TextClassifier {
  /** The predicted class id of each text. */
  predict(texts: readonly string[]): Int32Array;
}

const wordPattern = /[\p{L}\p{N}]+/gu;

/**
 * The lower-cased words of a text (runs of letters and digits), in order, repeats kept.
 * @example
 * bagOfWords("Cause to be calm; e.g. a sedative's effect"); // ['cause', 'to', 'be', 'calm', 'e', 'g', 'a', 'sedative', 's', 'effect']
 */
export function bagOfWords(text: string): string[] {
  return text.toLowerCase().match(wordPattern) ?? [];
}

/** Checks training labels: one per example, each a class id in [0, numClasses), at least one. */
export function checkTrainingLabels(
  where: string,
  examples: number,
  labels: ArrayLike<number>,
  numClasses: number,
): void {
  if (!Number.isSafeInteger(numClasses) || numClasses < 1) {
    throw new ConfigError('numClasses must be an integer >= 1', {
      where: `${where}: numClasses`,
      actual: numClasses,
    });
  }
  if (labels.length !== examples) {
    throw new ShapeError('one label per training example', {
      where,
      expected: examples,
      actual: labels.length,
    });
  }
  if (examples === 0) throw new ConfigError('there are no training examples', { where, expected: '>= 1' });
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new ConfigError('a label is not a class id', {
        where: `${where}: labels[${i}]`,
        expected: `an integer in [0, ${numClasses})`,
        actual: label,
      });
    }
  }
}

/** The index of the largest value, the lowest index on a tie (as numpy's argmax). */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[offset + i]! > values[offset + best]!) best = i;
  return best;
}
