/** src/eval: Python-compatible formatting, astral characters, and every bad input as a ConfigError. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  corpusBleu,
  corpusChrf,
  sentenceBleu,
  sentenceChrf,
  bleuFromStatistics,
} from '../../src/eval/index.js';
import { formatFixed } from '../../src/eval/text.js';
import { ConfigError } from '../../src/util/errors.js';

const configError =
  (pattern: RegExp, where?: string) =>
  (e: unknown): boolean =>
    e instanceof ConfigError && pattern.test(e.message) && (where === undefined || e.where === where);

describe('formatFixed (Python f"{x:.Nf}")', () => {
  it('rounds exact ties to even, everything else to nearest', () => {
    const cases: Array<[number, number, string]> = [
      [0.125, 2, '0.12'], // exact tie in binary: Python keeps the even digit, toFixed gives 0.13
      [0.375, 2, '0.38'],
      [2.5, 0, '2'],
      [3.5, 0, '4'],
      [-0.125, 2, '-0.12'],
      [12.25, 1, '12.2'],
      [0.1 + 0.2, 2, '0.30'],
      [1.005, 2, '1.00'], // 1.005 is 1.00499999999999989... in binary: not a tie
      [48.530827, 2, '48.53'],
      [100, 1, '100.0'],
    ];
    for (const [value, digits, expected] of cases)
      assert.equal(formatFixed(value, digits), expected, `${value}`);
  });
});

describe('code points, not UTF-16 units', () => {
  it('an emoji is one character for chrF and one token for the char tokenizer', () => {
    // '👍' is two UTF-16 units; counted as units, 'a👍' against 'a👎' would share a unit.
    assert.equal(sentenceChrf('👍', ['👎']).score, 0);
    assert.equal(sentenceBleu('👍', ['👎'], { tokenize: 'char' }).score, 0);
    // exp(mean of log 100) is 100 to the last bit or so, in sacreBLEU too.
    assert.ok(Math.abs(sentenceBleu('a 👍 b', ['a 👍 b'], { tokenize: 'char' }).score - 100) < 1e-9);
  });
});

describe('bad input', () => {
  it('a reference stream shorter than the hypotheses', () => {
    assert.throws(
      () => corpusBleu(['a', 'b'], [['a', 'b'], ['a']]),
      configError(
        /differ in length; expected 2 lines \(one per hypothesis\), got 1 lines/,
        'corpusBleu: references[1]',
      ),
    );
    assert.throws(
      () => corpusChrf(['a'], [['a', 'b']]),
      configError(/differ in length/, 'corpusChrf: references[0]'),
    );
  });

  it('no hypotheses, no references, a segment without any reference', () => {
    assert.throws(() => corpusBleu([], [[]]), configError(/no hypotheses/));
    assert.throws(() => corpusChrf(['a'], []), configError(/no references/));
    assert.throws(
      () => corpusBleu(['a', 'b'], [['a', null]]),
      configError(/no reference/, 'corpusBleu: segment 1'),
    );
    assert.throws(() => sentenceBleu('a', []), configError(/no references/));
  });

  it('options out of range, every problem listed', () => {
    assert.throws(
      () =>
        corpusBleu(['a'], [['a']], {
          maxNgramOrder: 0,
          smoothing: { kind: 'floor', value: -1 },
          tokenize: 'moses' as never,
        }),
      (e: unknown) =>
        configError(/maxNgramOrder must be an integer >= 1/, 'BleuOptions')(e) &&
        /smoothing value must be a finite number >= 0 \(got -1\)/.test((e as Error).message) &&
        /tokenize must be one of 13a, intl, char, none \(got moses\)/.test((e as Error).message),
    );
    assert.throws(
      () => corpusChrf(['a'], [['a']], { charOrder: 0, wordOrder: 0, beta: 0 }),
      (e: unknown) =>
        configError(/charOrder \+ wordOrder must be >= 1/, 'ChrfOptions')(e) &&
        /beta must/.test((e as Error).message),
    );
    assert.throws(
      () => bleuFromStatistics({ correct: [1], total: [1], sysLen: 1, refLen: 1 }),
      configError(/one count per n-gram order; expected 4 counts/),
    );
  });
});
