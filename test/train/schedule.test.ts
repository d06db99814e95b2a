import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { learningRate, validateSchedule, type LrSchedule } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';

/** nanoGPT train.py get_lr, transcribed line by line (learning_rate, warmup_iters, lr_decay_iters, min_lr). */
function nanoGptGetLr(
  it: number,
  learningRate: number,
  warmupIters: number,
  lrDecayIters: number,
  minLr: number,
): number {
  if (it < warmupIters) return (learningRate * (it + 1)) / (warmupIters + 1);
  if (it > lrDecayIters) return minLr;
  const decayRatio = (it - warmupIters) / (lrDecayIters - warmupIters);
  assert.ok(decayRatio >= 0 && decayRatio <= 1);
  const coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
  return minLr + coeff * (learningRate - minLr);
}

describe('learning-rate schedule', () => {
  it('warmupCosine equals nanoGPT get_lr at every step (shakespeare-char settings)', () => {
    const schedule: LrSchedule = {
      kind: 'warmupCosine',
      lr: 1e-3,
      minLr: 1e-4,
      warmup: 100,
      decayIters: 2000,
    };
    for (let it = 0; it <= 2100; it++) {
      const expected = nanoGptGetLr(it, 1e-3, 100, 2000, 1e-4);
      const actual = learningRate(schedule, it);
      assert.ok(Math.abs(actual - expected) <= 1e-18, `step ${it}: ${actual} vs ${expected}`);
    }
  });

  it('hits the hand-computed anchor values', () => {
    const schedule: LrSchedule = { kind: 'warmupCosine', lr: 1, minLr: 0.1, warmup: 9, decayIters: 19 };
    assert.equal(learningRate(schedule, 0), 1 / 10); // first warm-up step: lr * 1 / (warmup + 1)
    assert.equal(learningRate(schedule, 8), 9 / 10);
    assert.equal(learningRate(schedule, 9), 1); // decay ratio 0: the peak
    assert.ok(Math.abs(learningRate(schedule, 14) - 0.55) < 1e-15); // ratio 0.5: halfway between
    assert.ok(Math.abs(learningRate(schedule, 19) - 0.1) < 1e-15); // ratio 1: minLr
    assert.equal(learningRate(schedule, 20), 0.1); // past the decay: minLr
  });

  it('constant is constant', () => {
    for (const it of [0, 1, 1000]) assert.equal(learningRate({ kind: 'constant', lr: 3e-4 }, it), 3e-4);
  });

  it('rejects bad fields, listing each', () => {
    assert.throws(
      () => validateSchedule({ kind: 'warmupCosine', lr: -1, minLr: 2, warmup: 10, decayIters: 5 }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /lr must/.test(e.message) &&
        /minLr/.test(e.message) &&
        /decayIters/.test(e.message),
    );
  });
});
