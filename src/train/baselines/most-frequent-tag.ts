/**
 * The most-frequent-tag baseline for tagging: each word gets the tag it had most often in
 * training (the word as written, else lower-cased), an unseen word the most frequent tag of
 * all (O, in NER data). Ties go to the lowest id. Its tags are often not valid BIO (an I-
 * after O); conlleval scores them by its chunk rules like any other prediction.
 */
import { ShapeError } from '../../util/errors.js';
import { argmax, checkTrainingLabels } from './text-classifier.js';

export interface Tagger {
  /** The predicted tag id of each word of each sentence. */
  predict(sentences: readonly (readonly string[])[]): Int32Array[];
}

/**
 * @example
 * const tagger = fitMostFrequentTag(train.map((s) => s.words), encodeTags(train, map, where), map.id2label.length);
 * tagger.predict(validation.map((s) => s.words));
 */
export function fitMostFrequentTag(
  sentences: readonly (readonly string[])[],
  tags: readonly ArrayLike<number>[],
  numTags: number,
): Tagger {
  const where = 'fitMostFrequentTag';
  if (tags.length !== sentences.length) {
    throw new ShapeError('one tag list per sentence', {
      where,
      expected: sentences.length,
      actual: tags.length,
    });
  }
  const flatTags: number[] = [];
  sentences.forEach((words, s) => {
    const sentenceTags = tags[s]!;
    if (sentenceTags.length !== words.length) {
      throw new ShapeError('one tag per word', {
        where: `${where}: sentence ${s}`,
        expected: words.length,
        actual: sentenceTags.length,
      });
    }
    for (let t = 0; t < sentenceTags.length; t++) flatTags.push(sentenceTags[t]!);
  });
  checkTrainingLabels(where, flatTags.length, flatTags, numTags);
  const exact = new Map<string, Float64Array>();
  const lower = new Map<string, Float64Array>();
  const overall = new Float64Array(numTags);
  const add = (table: Map<string, Float64Array>, key: string, tag: number): void => {
    let counts = table.get(key);
    if (counts === undefined) table.set(key, (counts = new Float64Array(numTags)));
    counts[tag]!++;
  };
  let index = 0;
  for (const words of sentences) {
    for (const word of words) {
      const tag = flatTags[index++]!;
      add(exact, word, tag);
      add(lower, word.toLowerCase(), tag);
      overall[tag]!++;
    }
  }
  const best = (table: ReadonlyMap<string, Float64Array>): Map<string, number> =>
    new Map([...table].map(([word, counts]) => [word, argmax(counts)]));
  const exactBest = best(exact);
  const lowerBest = best(lower);
  const fallback = argmax(overall);
  return {
    predict: (inputs) =>
      inputs.map((words) =>
        Int32Array.from(
          words,
          (word) => exactBest.get(word) ?? lowerBest.get(word.toLowerCase()) ?? fallback,
        ),
      ),
  };
}
