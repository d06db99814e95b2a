import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accuracy, classificationReport } from '../../../src/train/index.js';
import { ConfigError, ShapeError } from '../../../src/util/errors.js';
import { assertThrowsAt } from '../../util/throws.js';

/** Exact fractions compared as doubles: each side is one division or a short sum of them. */
function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-15, `${what}: got ${actual}, expected ${expected}`);
}

describe('classification metrics', () => {
  // Classes a b c d e; d occurs nowhere, e is predicted once but never gold.
  const id2label = ['a', 'b', 'c', 'd', 'e'];
  const gold = [0, 0, 0, 1, 1, 2, 2];
  const predicted = [0, 0, 1, 1, 4, 2, 0];

  it('computes per-class precision, recall and F1 by hand-counted tp / fp / fn', () => {
    const report = classificationReport(gold, predicted, id2label);
    // a: tp 2 (rows 0, 1), predicted 3 (rows 0, 1, 6), support 3 -> P 2/3, R 2/3, F1 4/6.
    // b: tp 1 (row 3), predicted 2 (rows 2, 3), support 2 -> P 1/2, R 1/2, F1 2/4.
    // c: tp 1 (row 5), predicted 1, support 2 -> P 1, R 1/2, F1 2/3.
    // d: nothing -> all 0, support 0, not averaged.
    // e: tp 0, predicted 1, support 0 -> P 0, R 0/0 = 0 (zero_division), F1 0/1 = 0.
    const expected = [
      ['a', 2 / 3, 2 / 3, 2 / 3, 3, 3],
      ['b', 1 / 2, 1 / 2, 1 / 2, 2, 2],
      ['c', 1, 1 / 2, 2 / 3, 2, 1],
      ['d', 0, 0, 0, 0, 0],
      ['e', 0, 0, 0, 0, 1],
    ] as const;
    report.perClass.forEach((scores, c) => {
      const [label, precision, recall, f1, support, count] = expected[c]!;
      assert.equal(scores.label, label);
      near(scores.precision, precision, `${label} precision`);
      near(scores.recall, recall, `${label} recall`);
      near(scores.f1, f1, `${label} f1`);
      assert.equal(scores.support, support);
      assert.equal(scores.predicted, count);
    });
    // Correct rows 0, 1, 3, 5.
    near(report.accuracy, 4 / 7, 'accuracy');
    near(accuracy(gold, predicted), 4 / 7, 'accuracy()');
    // Macro over a, b, c, e (the classes in gold or predicted; sklearn's labels=None):
    assert.equal(report.averagedClasses, 4);
    near(report.macroPrecision, (2 / 3 + 1 / 2 + 1 + 0) / 4, 'macro precision'); // 13/24
    near(report.macroRecall, (2 / 3 + 1 / 2 + 1 / 2 + 0) / 4, 'macro recall'); // 5/12
    near(report.macroF1, (2 / 3 + 1 / 2 + 2 / 3 + 0) / 4, 'macro F1'); // 11/24
    assert.equal(report.count, 7);
  });

  it('gives 1 everywhere for perfect predictions, and does not let an absent class lower macro-F1', () => {
    const report = classificationReport([2, 0, 2], [2, 0, 2], ['x', 'y', 'z']);
    assert.equal(report.macroF1, 1);
    assert.equal(report.accuracy, 1);
    assert.equal(report.averagedClasses, 2);
  });

  it('rejects mismatched lengths, no examples and ids outside the classes', () => {
    assertThrowsAt(
      () => classificationReport([0, 1], [0], ['a', 'b']),
      ShapeError,
      'classificationReport',
      /expected 2, got 1/,
    );
    assertThrowsAt(() => accuracy([], []), ConfigError, 'accuracy', /no examples/);
    assertThrowsAt(
      () => classificationReport([0, 1], [0, 2], ['a', 'b']),
      ConfigError,
      'classificationReport: predicted[1]',
      /\[0, 2\), got 2/,
    );
    assertThrowsAt(
      () => classificationReport([-1], [0], ['a']),
      ConfigError,
      'classificationReport: gold[0]',
    );
  });
});
