/**
 * Learning-rate schedules. `warmupCosine` is nanoGPT's `get_lr` (train.py) exactly:
 *
 *   it <  warmup           -> lr * (it + 1) / (warmup + 1)
 *   it >  decayIters       -> minLr
 *   otherwise              -> minLr + 0.5 * (1 + cos(pi * (it - warmup) / (decayIters - warmup))) * (lr - minLr)
 *
 * `noam` is the inverse-square-root warm-up of "Attention Is All You Need" (Vaswani et al.
 * 2017, section 5.3), with the paper's 1-based step number step = it + 1:
 *
 *   lr = scale * dModel^-0.5 * min(step^-0.5, step * warmup^-1.5)
 *
 * (scale 1 is the paper; the Annotated Transformer calls it `factor`). It rises linearly
 * for `warmup` steps, peaks at step = warmup with scale * (dModel * warmup)^-0.5, then
 * decays as step^-0.5. `inverseSqrt` is the same curve normalised to peak at `lr`
 * (fairseq's inverse_sqrt curve with warmup_init_lr 0, at the 1-based step):
 *
 *   lr * sqrt(warmup) * min(step^-0.5, step * warmup^-1.5) = lr * min(step / warmup, sqrt(warmup / step))
 *
 * `it` is the 0-based optimiser step (the step about to be taken).
 */
import { ConfigError } from '../util/errors.js';

export type LrSchedule =
  | { readonly kind: 'constant'; readonly lr: number }
  | {
      readonly kind: 'warmupCosine';
      readonly lr: number;
      readonly minLr: number;
      readonly warmup: number;
      /** Step at which the cosine reaches minLr (nanoGPT's lr_decay_iters; usually the total iters). */
      readonly decayIters: number;
    }
  | {
      readonly kind: 'noam';
      /** The model width d_model (512 in the paper's base model). */
      readonly dModel: number;
      /** Warm-up steps (4000 in the paper), an integer >= 1. */
      readonly warmup: number;
      /** Multiplies the whole curve; 1 in the paper. */
      readonly scale: number;
    }
  | {
      readonly kind: 'inverseSqrt';
      /** The peak learning rate, reached at the last warm-up step. */
      readonly lr: number;
      /** Warm-up steps, an integer >= 1. */
      readonly warmup: number;
    };

/** Rejects schedules whose fields are out of range (every bad field listed). */
export function validateSchedule(schedule: LrSchedule): LrSchedule {
  const problems: string[] = [];
  const positive = (name: string, value: number): void => {
    if (!(Number.isFinite(value) && value > 0))
      problems.push(`${name} must be a finite number > 0 (got ${value})`);
  };
  // The inverse-square-root curves divide by warmup: 0 would make the whole curve 0.
  const warmupAtLeastOne = (value: number): void => {
    if (!(Number.isSafeInteger(value) && value >= 1))
      problems.push(`warmup must be an integer >= 1 (got ${value})`);
  };
  switch (schedule.kind) {
    case 'constant':
      positive('lr', schedule.lr);
      break;
    case 'warmupCosine':
      positive('lr', schedule.lr);
      if (!(Number.isFinite(schedule.minLr) && schedule.minLr >= 0 && schedule.minLr <= schedule.lr)) {
        problems.push(`minLr must be in [0, lr] (got ${schedule.minLr})`);
      }
      if (!(Number.isInteger(schedule.warmup) && schedule.warmup >= 0)) {
        problems.push(`warmup must be an integer >= 0 (got ${schedule.warmup})`);
      }
      if (!(Number.isInteger(schedule.decayIters) && schedule.decayIters > schedule.warmup)) {
        problems.push(`decayIters must be an integer > warmup (got ${schedule.decayIters})`);
      }
      break;
    case 'noam':
      positive('dModel', schedule.dModel);
      positive('scale', schedule.scale);
      warmupAtLeastOne(schedule.warmup);
      break;
    case 'inverseSqrt':
      positive('lr', schedule.lr);
      warmupAtLeastOne(schedule.warmup);
      break;
  }
  if (problems.length > 0) {
    throw new ConfigError('invalid learning-rate schedule', {
      where: `LrSchedule(${schedule.kind})`,
      actual: problems.join('; '),
    });
  }
  return schedule;
}

/** The learning rate for 0-based step `it`. */
export function learningRate(schedule: LrSchedule, it: number): number {
  switch (schedule.kind) {
    case 'constant':
      return schedule.lr;
    case 'warmupCosine': {
      const { lr, minLr, warmup, decayIters } = schedule;
      if (it < warmup) return (lr * (it + 1)) / (warmup + 1);
      if (it > decayIters) return minLr;
      const decayRatio = (it - warmup) / (decayIters - warmup);
      const coeff = 0.5 * (1 + Math.cos(Math.PI * decayRatio)); // 1 -> 0
      return minLr + coeff * (lr - minLr);
    }
    case 'noam': {
      const step = it + 1;
      return (
        schedule.scale * schedule.dModel ** -0.5 * Math.min(step ** -0.5, step * schedule.warmup ** -1.5)
      );
    }
    case 'inverseSqrt': {
      // The second form: exactly lr at step = warmup, where sqrt(warmup) * warmup^-0.5 may round.
      const step = it + 1;
      return schedule.lr * Math.min(step / schedule.warmup, Math.sqrt(schedule.warmup / step));
    }
  }
}
