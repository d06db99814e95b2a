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

/** "Attention Is All You Need", section 5.3, transcribed: lrate = d_model^-0.5 * min(step_num^-0.5, step_num * warmup_steps^-1.5). */
function paperLrate(stepNum: number, dModel: number, warmupSteps: number): number {
  return dModel ** -0.5 * Math.min(stepNum ** -0.5, stepNum * warmupSteps ** -1.5);
}

/** fairseq's inverse_sqrt (warmup_init_lr 0): linear warm-up to lr, then lr * sqrt(warmup) / sqrt(num_updates). */
function fairseqInverseSqrt(numUpdates: number, lr: number, warmupUpdates: number): number {
  if (numUpdates < warmupUpdates) return (lr / warmupUpdates) * numUpdates;
  return lr * warmupUpdates ** 0.5 * numUpdates ** -0.5;
}

describe('inverse-square-root schedules', () => {
  const relativeClose = (actual: number, expected: number, what: string): void => {
    assert.ok(Math.abs(actual - expected) <= 1e-15 * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
  };

  it('noam equals the paper formula at every step (base model: d_model 512, 4000 warm-up steps)', () => {
    const schedule = validateSchedule({ kind: 'noam', dModel: 512, warmup: 4000, scale: 1 });
    for (let it = 0; it < 20000; it += 7) {
      relativeClose(learningRate(schedule, it), paperLrate(it + 1, 512, 4000), `step ${it + 1}`);
    }
    // Anchors: step 1, the peak at step 4000 ((512 * 4000)^-0.5), and step 16000 (half the peak).
    relativeClose(learningRate(schedule, 0), 512 ** -0.5 * 4000 ** -1.5, 'step 1');
    relativeClose(learningRate(schedule, 3999), 1 / Math.sqrt(512 * 4000), 'peak');
    assert.ok(Math.abs(learningRate(schedule, 3999) - 6.987712429686844e-4) < 1e-18);
    relativeClose(learningRate(schedule, 15999), learningRate(schedule, 3999) / 2, 'step 16000');
    // The peak is the maximum: one step either side is lower.
    assert.ok(learningRate(schedule, 3998) < learningRate(schedule, 3999));
    assert.ok(learningRate(schedule, 4000) < learningRate(schedule, 3999));
    const scaled = validateSchedule({ kind: 'noam', dModel: 512, warmup: 4000, scale: 2 });
    relativeClose(learningRate(scaled, 123), 2 * learningRate(schedule, 123), 'scale 2');
  });

  it('inverseSqrt peaks at lr on the last warm-up step and follows fairseq inverse_sqrt', () => {
    const schedule = validateSchedule({ kind: 'inverseSqrt', lr: 5e-4, warmup: 4000 });
    assert.equal(learningRate(schedule, 3999), 5e-4);
    assert.equal(learningRate(schedule, 15999), 2.5e-4);
    for (let it = 0; it < 20000; it += 13) {
      relativeClose(learningRate(schedule, it), fairseqInverseSqrt(it + 1, 5e-4, 4000), `step ${it + 1}`);
      // The same curve as the paper's, rescaled to peak at lr.
      const normalised = (5e-4 * paperLrate(it + 1, 512, 4000)) / paperLrate(4000, 512, 4000);
      assert.ok(Math.abs(learningRate(schedule, it) - normalised) <= 1e-14 * normalised, `step ${it + 1}`);
    }
    const one = validateSchedule({ kind: 'inverseSqrt', lr: 1, warmup: 1 });
    assert.equal(learningRate(one, 0), 1); // warm-up of 1 step: the first step is the peak
    assert.equal(learningRate(one, 3), 0.5);
  });

  it('rejects a zero or fractional warm-up, a bad width, scale or lr, listing each', () => {
    assert.throws(
      () => validateSchedule({ kind: 'noam', dModel: 0, warmup: 0, scale: Number.NaN }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /dModel must be a finite number > 0 \(got 0\)/.test(e.message) &&
        /scale must/.test(e.message) &&
        /warmup must be an integer >= 1 \(got 0\)/.test(e.message),
    );
    assert.throws(
      () => validateSchedule({ kind: 'inverseSqrt', lr: -1, warmup: 2.5 }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.where === 'LrSchedule(inverseSqrt)' &&
        /lr must/.test(e.message) &&
        /warmup must be an integer >= 1 \(got 2.5\)/.test(e.message),
    );
  });
});
