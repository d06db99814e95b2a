import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bagOfWords,
  classificationReport,
  conlleval,
  encodeLabels,
  encodeTags,
  fitLogisticRegression,
  fitMajorityClass,
  fitMostFrequentTag,
  fitNaiveBayes,
  labelMapOf,
  wordnetClassificationTask,
  wordnetTaggingTask,
} from '../../src/train/index.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

describe('classification baselines', () => {
  it('reads a text as lower-cased runs of letters and digits', () => {
    assert.deepEqual(bagOfWords("Cause to be calm; a sedative's effect, 2x"), [
      'cause',
      'to',
      'be',
      'calm',
      'a',
      'sedative',
      's',
      'effect',
      '2x',
    ]);
  });

  it('majority class: the most frequent label, the lowest id on a tie', () => {
    assert.deepEqual(fitMajorityClass([2, 1, 2, 0], 3).predict(['a', 'b']), Int32Array.from([2, 2]));
    assert.deepEqual(fitMajorityClass([1, 0], 2).predict(['a']), Int32Array.from([0]));
  });

  it('naive Bayes: Laplace-smoothed word counts, by hand', () => {
    // Class 1: "good great", "good" (good 2, great 1: 3 words); class 0: "bad awful" (2 words).
    // |V| = 4, P(1) = 2/3, P(0) = 1/3; P(w|1) = (n + 1) / 7, P(w|0) = (n + 1) / 6.
    const nb = fitNaiveBayes(['good great', 'Good', 'bad awful'], [1, 1, 0], 2);
    // "bad":              1: 2/3 * 1/7 = 0.095;          0: 1/3 * 2/6 = 0.111        -> 0
    // "awful good":       1: 2/3 * 1/7 * 3/7 = 0.0408;   0: 1/3 * 2/6 * 1/6 = 0.0185 -> 1
    // "awful awful good": 1: 2/3 * (1/7)^2 * 3/7 = 0.00583; 0: 1/3 * (2/6)^2 * 1/6 = 0.00617 -> 0
    // "unseen words":     the priors alone -> 1
    assert.deepEqual(
      nb.predict(['bad', 'awful good', 'awful awful good', 'unseen words']),
      Int32Array.from([0, 1, 0, 1]),
    );
    // A class without training examples is never predicted.
    assert.ok(
      fitNaiveBayes(['a', 'b'], [0, 1], 3)
        .predict(['a', 'b', 'c'])
        .every((id) => id < 2),
    );
  });

  it('logistic regression: fits separable data, deterministically', () => {
    const texts = ['red apple', 'green apple', 'blue sky', 'grey sky', 'red rose', 'blue rose'];
    const labels = [0, 0, 1, 1, 2, 2];
    const model = fitLogisticRegression(texts, labels, 3, { steps: 200 });
    assert.deepEqual(model.predict(texts), Int32Array.from(labels));
    assert.deepEqual(model.predict(['apple', 'sky', 'rose']), Int32Array.from([0, 1, 2]));
    const again = fitLogisticRegression(texts, labels, 3, { steps: 200 });
    assert.deepEqual(again.predict(['red sky', 'green rose']), model.predict(['red sky', 'green rose']));
  });

  it('rejects bad training data and options', () => {
    assertThrowsAt(() => fitNaiveBayes(['a'], [0, 1], 2), ShapeError, 'fitNaiveBayes', /expected 1, got 2/);
    assertThrowsAt(() => fitNaiveBayes([], [], 2), ConfigError, 'fitNaiveBayes', /no training examples/);
    assertThrowsAt(
      () => fitMajorityClass([0, 2], 2),
      ConfigError,
      'fitMajorityClass: labels[1]',
      /\[0, 2\), got 2/,
    );
    assertThrowsAt(() => fitNaiveBayes(['a'], [0], 0), ConfigError, 'fitNaiveBayes: numClasses');
    assertThrowsAt(() => fitNaiveBayes(['a'], [0], 1, { alpha: 0 }), ConfigError, 'fitNaiveBayes: alpha');
    assertThrowsAt(
      () => fitLogisticRegression(['a'], [0], 1, { steps: 0 }),
      ConfigError,
      'fitLogisticRegression: steps',
    );
    assertThrowsAt(
      () => fitLogisticRegression(['a'], [0], 1, { l2: -1 }),
      ConfigError,
      'fitLogisticRegression: l2',
    );
  });

  it('on the held-out lexname split, naive Bayes and logistic regression beat the majority class', () => {
    const task = wordnetClassificationTask('lexname', { limit: 2000, validationLimit: 500 });
    const map = labelMapOf(task.id2label);
    const ids = (rows: readonly { label: string }[]): Int32Array =>
      encodeLabels(
        rows.map((r) => r.label),
        map,
        (i) => `row ${i}`,
      );
    const [trainIds, validationIds] = [ids(task.train), ids(task.validation)];
    const trainTexts = task.train.map((r) => r.text);
    const validationTexts = task.validation.map((r) => r.text);
    const score = (predicted: Int32Array) => classificationReport(validationIds, predicted, task.id2label);
    const majority = score(fitMajorityClass(trainIds, 45).predict(validationTexts));
    const bayes = score(fitNaiveBayes(trainTexts, trainIds, 45).predict(validationTexts));
    const logistic = score(
      fitLogisticRegression(trainTexts, trainIds, 45, { steps: 40 }).predict(validationTexts),
    );
    // The majority class (noun.artifact, about 10% of WordNet) and its one-class macro-F1.
    assert.ok(majority.accuracy > 0.05 && majority.accuracy < 0.2, `majority accuracy ${majority.accuracy}`);
    assert.ok(
      bayes.accuracy > majority.accuracy + 0.15,
      `NB ${bayes.accuracy} vs majority ${majority.accuracy}`,
    );
    assert.ok(bayes.macroF1 > majority.macroF1 + 0.05, `NB macro-F1 ${bayes.macroF1} vs ${majority.macroF1}`);
    assert.ok(
      logistic.accuracy > majority.accuracy + 0.15,
      `LR ${logistic.accuracy} vs majority ${majority.accuracy}`,
    );
  });
});

describe('most-frequent-tag baseline', () => {
  it('tags a word with its most frequent training tag, then its lower-cased form, else the overall majority', () => {
    const map = labelMapOf(['B-ORG', 'B-LOC', 'O']);
    const sentences = [
      ['Bank', 'of', 'England'],
      ['the', 'bank', 'of', 'the', 'bank'],
      ['England', 'won'],
      ['Paris', 'Paris'],
    ];
    const tags = [
      [0, 2, 1],
      [2, 2, 2, 2, 2],
      [0, 2],
      [1, 0],
    ].map((t) => Int32Array.from(t));
    const tagger = fitMostFrequentTag(sentences, tags, map.id2label.length);
    // England: B-LOC once, B-ORG once -> the lower id, B-ORG. Bank as written: B-ORG; BANK only as
    // "bank" (B-ORG once, O twice): O. Paris: a tie -> B-ORG.
    // unseen "Rome": the overall majority, O.
    assert.deepEqual(
      tagger.predict([['England', 'BANK', 'Bank', 'Paris', 'Rome']]).map((p) => [...p]),
      [[0, 2, 0, 0, 2]],
    );
    assertThrowsAt(() => fitMostFrequentTag(sentences, tags.slice(1), 3), ShapeError, 'fitMostFrequentTag');
    assertThrowsAt(
      () => fitMostFrequentTag([['a', 'b']], [Int32Array.from([0])], 3),
      ShapeError,
      'fitMostFrequentTag: sentence 0',
    );
  });

  it('finds no held-out headword: their words were never seen in training', () => {
    const task = wordnetTaggingTask({ limit: 1000, validationLimit: 300 });
    const map = labelMapOf(task.id2label);
    const where = (s: number, t: number): string => `sentence ${s}, token ${t}`;
    const tagger = fitMostFrequentTag(
      task.train.map((s) => s.words),
      encodeTags(task.train, map, where),
      map.id2label.length,
    );
    const predicted = tagger
      .predict(task.validation.map((s) => s.words))
      .map((ids) => [...ids].map((id) => map.id2label[id]!));
    const report = conlleval(
      task.validation.map((s) => s.tags),
      predicted,
    );
    // Only a held-out headword that is also an ordinary word of some training sentence can be
    // tagged, and only if it was tagged there as a synonym of another synset: rare.
    assert.ok(report.overall.gold >= 300);
    assert.ok(report.overall.f1 < 0.1, `most-frequent-tag F1 ${report.overall.f1}`);
    assert.ok(report.tokenAccuracy > 0.6);
  });
});
