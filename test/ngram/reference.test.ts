/**
 * lmforge's n-gram estimates against tools/reference/make_ngram_goldens.py, a reference
 * written in Python from Chen & Goodman's formulas (raw counts cross-checked there with
 * NLTK): raw and Kneser-Ney adjusted counts of every n-gram, the count-of-counts and three
 * discounts of each order, and the full distribution of seen and unseen contexts under
 * modified Kneser-Ney, add-k and stupid backoff.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  kneserNey,
  kneserNeyCounts,
  ngramCount,
  ngramIndex,
  trainNgram,
  wordUnits,
  type NgramModel,
  type Smoothing,
} from '../../src/ngram/index.js';
import { goldenDir } from '../golden/golden.js';
import { assertClose } from '../util/close.js';

interface Table {
  readonly ngram: string[];
  readonly count: number;
}
interface Reference {
  readonly order: number;
  readonly addK: number;
  readonly alpha: number;
  readonly lines: string[];
  readonly vocabulary: string[];
  readonly counts: Table[][];
  readonly adjusted: Table[][];
  readonly discounts: Array<{ order: number; countOfCounts: number[]; d: number[] }>;
  readonly kneserNey: Array<{ context: string[]; probs: number[] }>;
  readonly addKProbs: Array<{ context: string[]; probs: number[] }>;
  readonly stupidBackoff: Array<{ context: string[]; scores: number[] }>;
  readonly tolerance: { rtol: number; reason: string };
}

const reference = JSON.parse(readFileSync(join(goldenDir, 'ngram', 'reference.json'), 'utf8')) as Reference;
const texts = [{ name: 'reference corpus', text: reference.lines.join('\n') + '\n' }];
// Probabilities down to ~1e-4 of a 39-word vocabulary; float32 log10 values carry ~3e-7 relative error.
const tolerance = { rtol: reference.tolerance.rtol, atol: 1e-12 };

function train(smoothing: Smoothing): ReturnType<typeof trainNgram> {
  return trainNgram(texts, { order: reference.order, units: wordUnits, smoothing });
}

const ids = (model: NgramModel, words: readonly string[]): number[] =>
  words.map((w) => model.vocabulary.idOf(w));

/** Both the all-words recursion (distribution) and the one-word scorer (score) against `expected`. */
function checkDistribution(name: string, model: NgramModel, context: string[], expected: number[]): void {
  const state = model.stateFor(ids(model, context));
  assertClose(`${name} p(. | ${context.join(' ')})`, model.distribution(state), expected, tolerance);
  const scored = expected.map((_, w) => (w === 1 ? 0 : 10 ** model.score(state, w).logProb));
  assertClose(`${name} score(. | ${context.join(' ')})`, scored, expected, tolerance);
}

test('the vocabulary, raw counts and Kneser-Ney adjusted counts equal the reference', () => {
  const { model, counts } = train({ kind: 'kneser-ney', discountFallback: null });
  assert.deepEqual(model.vocabulary.words(), reference.vocabulary);
  const adjusted = kneserNeyCounts(counts);
  for (let k = 1; k <= reference.order; k++) {
    const stored = k === 1 ? reference.vocabulary.length : counts.keys[k - 1]!.length;
    // Unigrams cover the vocabulary (<unk> with count 0); higher orders hold the seen n-grams only.
    assert.equal(
      stored,
      k === 1 ? reference.vocabulary.length : reference.counts[k - 1]!.length,
      `order ${k} size`,
    );
    for (const { ngram, count } of reference.counts[k - 1]!) {
      assert.equal(ngramCount(counts, ids(model, ngram)), count, `count of ${ngram.join(' ')}`);
    }
    for (const { ngram, count } of reference.adjusted[k - 1]!) {
      const index = ngramIndex(counts.keys, ids(model, ngram), counts.vocabSize);
      assert.equal(adjusted[k - 1]![index], count, `adjusted count of ${ngram.join(' ')}`);
    }
  }
});

test('modified Kneser-Ney: count-of-counts, discounts D1 D2 D3+ per order and every distribution', () => {
  const { model, counts } = train({ kind: 'kneser-ney', discountFallback: null });
  const { discounts } = kneserNey(counts);
  reference.discounts.forEach((expected, k) => {
    assert.deepEqual(discounts[k]!.countOfCounts, expected.countOfCounts, `n1..n4 of order ${k + 1}`);
    const got = model.info.discounts![k]!;
    assert.equal(got.fallback, false);
    assertClose(`D of order ${k + 1}`, got.d, expected.d, { atol: 1e-12, rtol: 1e-12 });
  });
  for (const { context, probs } of reference.kneserNey) checkDistribution('kn', model, context, probs);
});

test('add-k and stupid backoff: every distribution (scores) of the reference', () => {
  const addK = train({ kind: 'add-k', k: reference.addK }).model;
  for (const { context, probs } of reference.addKProbs) checkDistribution('add-k', addK, context, probs);
  const stupid = train({ kind: 'stupid-backoff', alpha: reference.alpha }).model;
  assert.equal(stupid.info.normalized, false);
  for (const { context, scores } of reference.stupidBackoff) {
    // Scores of 0 (<s>, and <unk> which was never seen) are ARPA's -99.
    const state = stupid.stateFor(ids(stupid, context));
    const got = [...stupid.distribution(state)].map((p) => (p < 1e-90 ? 0 : p));
    assertClose(`stupid backoff S(. | ${context.join(' ')})`, got, scores, tolerance);
  }
});
