/**
 * The training options, resolved once from raw input (CLI flags, a resumed
 * trainer_state.json) into a readonly, fully specified object. Defaults are nanoGPT's
 * shakespeare_char CPU run. Every bad field is reported in one ConfigError.
 */
import { ConfigError } from '../util/errors.js';
import type { LrSchedule } from './schedule.js';

export interface TrainOptions {
  /** Optimiser steps. */
  readonly iters: number;
  readonly batchSize: number;
  /** Context length of a training block (<= the model's blockSize). */
  readonly blockSize: number;
  /** Micro-batches per optimiser step (gradient accumulation). */
  readonly gradAccum: number;
  readonly lr: number;
  readonly minLr: number;
  readonly warmup: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Global gradient-norm limit; null disables clipping. */
  readonly gradClip: number | null;
  /** Evaluate (and checkpoint) every this many steps. */
  readonly evalEvery: number;
  /** Batches per split in each evaluation. */
  readonly evalIters: number;
  readonly seed: number;
  /** Stop after this many evaluations without a better validation loss; null never stops early. */
  readonly earlyStopPatience: number | null;
  /** Masked-LM objectives: mask whole words (a token and its `##` continuations) instead of tokens. */
  readonly wholeWordMasking: boolean;
  /**
   * The learning-rate schedule: 'cosine' (nanoGPT's warm-up then cosine decay to minLr) or
   * 'inverse-sqrt' (the paper's inverse-square-root warm-up, peaking at lr after warmup steps).
   */
  readonly schedule: ScheduleName;
  /** eps of the label-smoothed cross-entropy, in [0, 1) (0: none). */
  readonly labelSmoothing: number;
  /**
   * What a non-finite training loss or gradient norm does: 'stop' the run (a DivergenceError
   * naming the step), or 'skip' the step (no update; counted and logged) until maxSkips
   * steps in a row were skipped, which stops the run.
   */
  readonly onNonfinite: NonfinitePolicy;
  /** With onNonfinite 'skip': consecutive skipped steps that stop the run. */
  readonly maxSkips: number;
}

export type NonfinitePolicy = 'stop' | 'skip';

export type ScheduleName = 'cosine' | 'inverse-sqrt';

/**
 * The warm-up a run gets when none is asked for: nanoGPT's 100 steps, but at most a tenth
 * of the run, so that a short run (--iters <= 100) still has most of its steps at full rate.
 */
export function defaultWarmup(iters: number): number {
  return Math.min(100, Math.floor(iters / 10));
}

/** Defaults of every option; `warmup` is defaultWarmup(iters) when not given (100 at the default iters). */
export const defaultTrainOptions: TrainOptions = {
  iters: 2000,
  batchSize: 12,
  blockSize: 64,
  gradAccum: 1,
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 100,
  beta1: 0.9,
  beta2: 0.99,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  evalEvery: 250,
  evalIters: 20,
  seed: 1337,
  earlyStopPatience: null,
  wholeWordMasking: false,
  schedule: 'cosine',
  labelSmoothing: 0,
  onNonfinite: 'stop',
  maxSkips: 10,
};

type Raw = { readonly [K in keyof TrainOptions]?: TrainOptions[K] | undefined };

export function resolveTrainOptions(raw: Raw, where = 'TrainOptions'): TrainOptions {
  const merged: Record<string, unknown> = { ...defaultTrainOptions };
  for (const [key, value] of Object.entries(raw)) {
    if (value !== undefined) merged[key] = value;
  }
  if (
    raw.warmup === undefined &&
    typeof merged['iters'] === 'number' &&
    Number.isSafeInteger(merged['iters'])
  ) {
    merged['warmup'] = defaultWarmup(merged['iters']);
  }
  const o = merged as unknown as TrainOptions;
  const problems: string[] = [];
  const int = (key: keyof TrainOptions, min: number): void => {
    const value = o[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      problems.push(`${key} must be an integer >= ${min} (got ${String(value)})`);
    }
  };
  const real = (key: keyof TrainOptions, ok: (v: number) => boolean, range: string): void => {
    const value = o[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      problems.push(`${key} must be ${range} (got ${String(value)})`);
    }
  };
  int('iters', 1);
  int('batchSize', 1);
  int('blockSize', 1);
  int('gradAccum', 1);
  int('warmup', 0);
  int('evalEvery', 1);
  int('evalIters', 1);
  int('seed', 0);
  int('maxSkips', 1);
  real('lr', (v) => v > 0, '> 0');
  real('minLr', (v) => v >= 0 && v <= o.lr, 'in [0, lr]');
  real('beta1', (v) => v >= 0 && v < 1, 'in [0, 1)');
  real('beta2', (v) => v >= 0 && v < 1, 'in [0, 1)');
  real('eps', (v) => v > 0, '> 0');
  real('weightDecay', (v) => v >= 0, '>= 0');
  if (o.gradClip !== null) real('gradClip', (v) => v > 0, '> 0 (or null for no clipping)');
  if (o.earlyStopPatience !== null) int('earlyStopPatience', 1);
  if (typeof o.wholeWordMasking !== 'boolean') {
    problems.push(`wholeWordMasking must be true or false (got ${String(o.wholeWordMasking)})`);
  }
  real('labelSmoothing', (v) => v >= 0 && v < 1, 'in [0, 1)');
  if (o.schedule !== 'cosine' && o.schedule !== 'inverse-sqrt') {
    problems.push(`schedule must be cosine or inverse-sqrt (got ${String(o.schedule)})`);
  }
  if (o.onNonfinite !== 'stop' && o.onNonfinite !== 'skip') {
    problems.push(`onNonfinite must be stop or skip (got ${String(o.onNonfinite)})`);
  }
  if (o.schedule === 'inverse-sqrt' && Number.isInteger(o.warmup) && o.warmup < 1) {
    problems.push('warmup must be >= 1 with the inverse-sqrt schedule (it divides by the warm-up)');
  }
  if (Number.isInteger(o.warmup) && Number.isInteger(o.iters) && o.warmup >= o.iters) {
    problems.push(
      `warmup must be < iters (got warmup ${o.warmup}, iters ${o.iters}); pass a smaller --warmup`,
    );
  }
  if (o.seed > 2 ** 32) problems.push(`seed must be <= 2^32 (got ${o.seed})`);
  if (problems.length > 0)
    throw new ConfigError('invalid training options', { where, actual: problems.join('; ') });
  return Object.freeze(o);
}

/**
 * The schedule of the options: nanoGPT's (warm-up to lr, cosine decay to minLr at the last
 * step), or the paper's inverse square root with its peak at lr (minLr unused).
 */
export function scheduleOf(options: TrainOptions): LrSchedule {
  switch (options.schedule) {
    case 'cosine':
      return {
        kind: 'warmupCosine',
        lr: options.lr,
        minLr: options.minLr,
        warmup: options.warmup,
        decayIters: options.iters,
      };
    case 'inverse-sqrt':
      return { kind: 'inverseSqrt', lr: options.lr, warmup: options.warmup };
  }
}
