import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/tensor/index.js';
import {
  applyRepetitionPenalty,
  argmax,
  filteredDistribution,
  selectToken,
  softmaxWithTemperature,
  validateSampling,
} from '../../src/generate/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';

const logits = [1.0, 3.0, 2.0, 0.5, 3.0, -1.0];
// Probabilities computed in float64 by the same formula: equal up to rounding.
const roundoff = { atol: 1e-12, rtol: 0 };

describe('sampling', () => {
  it('greedy takes the first of equal maxima', () => {
    assert.equal(argmax(logits), 1);
    assert.equal(selectToken(logits, { kind: 'greedy' }, new Rng(0)), 1);
    assert.equal(argmax(Float32Array.of(-Infinity, -Infinity)), 0);
    assert.equal(argmax(Float32Array.of(-5, -Infinity, -1)), 2);
  });

  it('greedy rejects a NaN logit wherever it stands, naming its index', () => {
    for (const at of [0, 1, 3, 5]) {
      const bad = Float32Array.from(logits);
      bad[at] = NaN;
      assert.throws(
        () => argmax(bad),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`NaN at index ${at}`),
      );
    }
  });

  it('top-k keeps exactly k ids (ties to the lower id) and renormalises', () => {
    const p = softmaxWithTemperature(logits);
    const d = filteredDistribution(logits, { kind: 'sample', temperature: 1, topK: 2 });
    const z = p[1]! + p[4]!;
    assertClose('top-2', d, [0, p[1]! / z, 0, 0, p[4]! / z, 0], roundoff);
    const d3 = filteredDistribution(logits, { kind: 'sample', temperature: 1, topK: 3 });
    assert.deepEqual(
      [...d3].map((x) => x > 0),
      [false, true, true, false, true, false],
    );
  });

  it('top-p keeps the smallest most-probable prefix reaching p (HF semantics)', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const l = probs.map(Math.log);
    // cumulative 0.5, 0.8, 0.95, 1.0
    const keep = (p: number): boolean[] =>
      [...filteredDistribution(l, { kind: 'sample', temperature: 1, topP: p })].map((x) => x > 0);
    assert.deepEqual(keep(0.49), [true, false, false, false]);
    assert.deepEqual(keep(0.51), [true, true, false, false]);
    assert.deepEqual(keep(0.79), [true, true, false, false]);
    assert.deepEqual(keep(0.81), [true, true, true, false]);
    assert.deepEqual(keep(0.9), [true, true, true, false]);
    assert.deepEqual(keep(1), [true, true, true, true]);
    assert.deepEqual(keep(0.01), [true, false, false, false]); // the top id always stays
    assertClose(
      'top-p 0.9',
      filteredDistribution(l, { kind: 'sample', temperature: 1, topP: 0.9 }),
      [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0],
      roundoff,
    );
  });

  it('top-p applies to the top-k survivors, renormalised', () => {
    const l = [0.4, 0.3, 0.2, 0.1].map(Math.log);
    // top-2: 0.4/0.7 = 0.571, 0.3/0.7; top-p 0.5 keeps only the first.
    const d = filteredDistribution(l, { kind: 'sample', temperature: 1, topK: 2, topP: 0.5 });
    assertClose('top-2 then top-p 0.5', d, [1, 0, 0, 0], roundoff);
  });

  it('temperature sharpens and flattens', () => {
    const cold = softmaxWithTemperature([0, 1], 0.5);
    const hot = softmaxWithTemperature([0, 1], 2);
    assertClose('temperature 0.5', cold, [1 / (1 + Math.exp(2)), Math.exp(2) / (1 + Math.exp(2))], roundoff);
    assertClose(
      'temperature 2',
      hot,
      [1 / (1 + Math.exp(0.5)), Math.exp(0.5) / (1 + Math.exp(0.5))],
      roundoff,
    );
  });

  it('draws match the filtered distribution (fixed seed, 20000 draws)', () => {
    const sampling = { kind: 'sample' as const, temperature: 0.9, topK: 4, topP: 0.95 };
    const expected = filteredDistribution(logits, sampling);
    const counts = new Array<number>(logits.length).fill(0);
    const rng = new Rng(2024);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[selectToken(logits, sampling, rng)]!++;
    for (let i = 0; i < logits.length; i++) {
      const observed = counts[i]! / n;
      if (expected[i] === 0) assert.equal(counts[i], 0, `filtered id ${i} was drawn`);
      // 5 standard deviations of a binomial proportion.
      const sd = Math.sqrt((expected[i]! * (1 - expected[i]!)) / n);
      assert.ok(
        Math.abs(observed - expected[i]!) <= 5 * sd + 1e-9,
        `id ${i}: observed ${observed}, expected ${expected[i]}`,
      );
    }
    // Same seed, same draws.
    const a = new Rng(7);
    const b = new Rng(7);
    for (let i = 0; i < 100; i++)
      assert.equal(selectToken(logits, sampling, a), selectToken(logits, sampling, b));
  });

  it('repetition penalty divides positive and multiplies negative logits, once per id', () => {
    const out = applyRepetitionPenalty([2, -2, 1, 4], [0, 1, 1, 1], 2);
    assert.deepEqual([...out], [1, -4, 1, 4]);
    assert.equal(selectToken([2, 1.5], { kind: 'greedy' }, new Rng(0), [0], 2), 1);
  });

  it('rejects out-of-range options instead of clamping', () => {
    assert.throws(() => validateSampling({ kind: 'sample', temperature: 0 }), ConfigError);
    assert.throws(() => validateSampling({ kind: 'sample', temperature: 1, topK: 0 }), ConfigError);
    assert.throws(() => validateSampling({ kind: 'sample', temperature: 1, topP: 1.5 }), ConfigError);
    assert.throws(() => validateSampling({ kind: 'greedy' }, 0), ConfigError);
  });
});
