/**
 * Word labels onto sub-word tokens, as Hugging Face's token-classification examples do
 * (`run_ner.py`, `tokenize_and_align_labels`): the first token of each word carries the
 * word's label, the word's other tokens and the special tokens ([CLS], [SEP], padding) carry
 * -100, which the cross-entropy loss ignores (PyTorch's `ignore_index` default). Predictions
 * go back the same way: a word's prediction is that of its first token.
 *
 * The tokenizer side is described by `wordIds`, one entry per token: the index of the word
 * the token came from, or null for a special token (what HF's `BatchEncoding.word_ids()`
 * returns). `wordIdsFromCounts` builds it from the number of tokens each word became.
 */
import { ConfigError } from '../../util/errors.js';

/** The label of tokens the loss ignores (HF and PyTorch's `ignore_index`). */
export const ignoreLabel = -100;

/**
 * The word index of each token when word i became `tokensPerWord[i]` tokens, with
 * `before` special tokens in front (e.g. [CLS]) and `after` behind (e.g. [SEP]).
 * @example
 * wordIdsFromCounts([1, 2, 1], { before: 1, after: 1 }); // [null, 0, 1, 1, 2, null]
 */
export function wordIdsFromCounts(
  tokensPerWord: readonly number[],
  specials: { readonly before?: number; readonly after?: number } = {},
): (number | null)[] {
  const before = specials.before ?? 0;
  const after = specials.after ?? 0;
  for (const [name, value] of [
    ['before', before],
    ['after', after],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ConfigError('the number of special tokens must be an integer >= 0', {
        where: `wordIdsFromCounts: ${name}`,
        actual: value,
      });
    }
  }
  const ids: (number | null)[] = new Array<null>(before).fill(null);
  tokensPerWord.forEach((count, word) => {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new ConfigError('a token count must be an integer >= 0', {
        where: `wordIdsFromCounts: tokensPerWord[${word}]`,
        actual: count,
      });
    }
    for (let k = 0; k < count; k++) ids.push(word);
  });
  for (let k = 0; k < after; k++) ids.push(null);
  return ids;
}

/**
 * Checks that `wordIds` names words in [0, numWords) in order, each word's tokens adjacent
 * (a word may have no token: dropped by truncation, or empty after normalization).
 */
function checkWordIds(wordIds: readonly (number | null)[], numWords: number, where: string): void {
  let last = -1;
  wordIds.forEach((word, token) => {
    if (word === null) return;
    if (!Number.isSafeInteger(word) || word < 0 || word >= numWords) {
      throw new ConfigError('a token names a word that does not exist', {
        where: `${where}: wordIds[${token}]`,
        expected: `a word index in [0, ${numWords}) or null`,
        actual: word,
      });
    }
    if (word < last) {
      throw new ConfigError('the tokens of the words are out of order', {
        where: `${where}: wordIds[${token}]`,
        expected: `a word index >= ${last} (tokens in word order)`,
        actual: word,
      });
    }
    last = word;
  });
}

/**
 * The label of each token: word `w`'s label on its first token, `ignoreLabel` (-100) on its
 * other tokens and on special tokens.
 * @example
 * alignWordLabels([null, 0, 1, 1, 2, null], [3, 0, 4]); // Int32Array [-100, 3, 0, -100, 4, -100]
 */
export function alignWordLabels(
  wordIds: readonly (number | null)[],
  wordLabels: ArrayLike<number>,
): Int32Array {
  checkWordIds(wordIds, wordLabels.length, 'alignWordLabels');
  const labels = new Int32Array(wordIds.length).fill(ignoreLabel);
  // Words come in order (checked), so a word index above the last labeled one is a new word.
  let lastLabeled = -1;
  wordIds.forEach((word, token) => {
    if (word !== null && word > lastLabeled) {
      lastLabeled = word;
      const label = wordLabels[word]!;
      if (!Number.isSafeInteger(label) || (label < 0 && label !== ignoreLabel)) {
        throw new ConfigError('a word label must be a class id >= 0 or -100', {
          where: `alignWordLabels: wordLabels[${word}]`,
          actual: label,
        });
      }
      labels[token] = label;
    }
  });
  return labels;
}

/**
 * The index of each word's first token, -1 for a word with no token: where to read a
 * word's prediction from the per-token predictions.
 * @example
 * firstTokenOfWords([null, 0, 1, 1, 2, null], 4); // Int32Array [1, 2, 4, -1]
 */
export function firstTokenOfWords(wordIds: readonly (number | null)[], numWords: number): Int32Array {
  checkWordIds(wordIds, numWords, 'firstTokenOfWords');
  const first = new Int32Array(numWords).fill(-1);
  wordIds.forEach((word, token) => {
    if (word !== null && first[word] === -1) first[word] = token;
  });
  return first;
}
