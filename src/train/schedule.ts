/**
 * Learning-rate schedules. `warmupCosine` is nanoGPT's `get_lr` (train.py) exactly:
 *
 *   it <  warmup           -> lr * (it + 1) / (warmup + 1)
 *   it >  decayIters       -> minLr
 *   otherwise              -> minLr + 0.5 * (1 + cos(pi * (it - warmup) / (decayIters - warmup))) * (lr - minLr)
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
    };

/** Rejects schedules whose fields are out of range (every bad field listed). */
export function validateSchedule(schedule: LrSchedule): LrSchedule {
  const problems: string[] = [];
  const positive = (name: string, value: number): void => {
    if (!(Number.isFinite(value) && value > 0))
      problems.push(`${name} must be a finite number > 0 (got ${value})`);
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
  }
}
