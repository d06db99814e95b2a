import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  alignWordLabels,
  firstTokenOfWords,
  ignoreLabel,
  wordIdsFromCounts,
} from '../../../src/train/index.js';
import { ConfigError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

describe('word labels on sub-word tokens', () => {
  // "EU rejects German call" as a WordPiece tokenizer splits it: [CLS] EU rej ##ects German call [SEP].
  const wordIds = wordIdsFromCounts([1, 2, 1, 1], { before: 1, after: 1 });

  it('builds word ids from token counts', () => {
    assert.deepEqual(wordIds, [null, 0, 1, 1, 2, 3, null]);
    assert.deepEqual(wordIdsFromCounts([2, 0, 1]), [0, 0, 2]);
  });

  it('labels the first token of each word, -100 elsewhere (HF tokenize_and_align_labels)', () => {
    assert.equal(ignoreLabel, -100);
    assert.deepEqual(alignWordLabels(wordIds, [3, 8, 7, 8]), Int32Array.from([-100, 3, 8, -100, 7, 8, -100]));
    // A word without tokens keeps no label; a word split by a special token is labeled once.
    assert.deepEqual(alignWordLabels([0, 0, 2], [1, 2, 3]), Int32Array.from([1, -100, 3]));
    assert.deepEqual(alignWordLabels([0, null, 0, 1], [5, 6]), Int32Array.from([5, -100, -100, 6]));
    // An ignored word label stays ignored.
    assert.deepEqual(alignWordLabels([0, 1], [-100, 2]), Int32Array.from([-100, 2]));
  });

  it("reads a word's prediction from its first token; a truncated word has none", () => {
    assert.deepEqual(firstTokenOfWords(wordIds, 4), Int32Array.from([1, 2, 4, 5]));
    assert.deepEqual(firstTokenOfWords([null, 0, 0, 1, null], 3), Int32Array.from([1, 3, -1]));
  });

  it('rejects word ids out of range or out of order, bad labels and bad counts', () => {
    assertThrowsAt(
      () => alignWordLabels([0, 2], [1, 1]),
      ConfigError,
      'alignWordLabels: wordIds[1]',
      /\[0, 2\) or null, got 2/,
    );
    assertThrowsAt(
      () => alignWordLabels([1, 0], [1, 1]),
      ConfigError,
      'alignWordLabels: wordIds[1]',
      /out of order/,
    );
    assertThrowsAt(() => firstTokenOfWords([0, -1], 2), ConfigError, 'firstTokenOfWords: wordIds[1]');
    assertThrowsAt(() => alignWordLabels([0], [-1]), ConfigError, 'alignWordLabels: wordLabels[0]', /got -1/);
    assertThrowsAt(() => alignWordLabels([0], [0.5]), ConfigError, 'alignWordLabels: wordLabels[0]');
    assertThrowsAt(() => wordIdsFromCounts([1, -1]), ConfigError, 'wordIdsFromCounts: tokensPerWord[1]');
    assertThrowsAt(() => wordIdsFromCounts([1], { after: 1.5 }), ConfigError, 'wordIdsFromCounts: after');
  });
});
