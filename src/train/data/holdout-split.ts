/**
 * A validation split held out of the training data, for a fine-tuning run given no
 * validation file: a seeded random `fraction` of the items, stratified by label when asked,
 * so that the validation labels follow the training distribution and every validation label
 * also labels some training item (a class with a single item stays in training). Each split
 * keeps the input order. The same items, fraction and seed give the same split.
 */
import { ConfigError } from '../../util/errors.js';
import { Rng } from '../../tensor/index.js';
import { shuffleInPlace } from './shuffle.js';

export interface HoldOutOptions<T> {
  /** The share held out for validation, in (0, 1). */
  readonly fraction: number;
  /** Seed of the draw (default 0). */
  readonly seed?: number;
  /** Stratify by this key (the label): about `fraction` of each key's items is held out. */
  readonly stratifyBy?: (item: T) => string;
}

export interface HoldOutSplit<T> {
  readonly train: T[];
  readonly validation: T[];
}

/**
 * @example
 * const { train, validation } = holdOutSplit(file.rows, { fraction: 0.1, stratifyBy: (row) => row.label });
 */
export function holdOutSplit<T>(items: readonly T[], options: HoldOutOptions<T>): HoldOutSplit<T> {
  const { fraction, seed = 0, stratifyBy } = options;
  if (!(fraction > 0 && fraction < 1)) {
    throw new ConfigError('the validation fraction must be in (0, 1)', {
      where: 'holdOutSplit: fraction',
      actual: fraction,
    });
  }
  if (!Number.isSafeInteger(seed)) {
    throw new ConfigError('the seed must be a safe integer', { where: 'holdOutSplit: seed', actual: seed });
  }
  const strata = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = stratifyBy === undefined ? '' : stratifyBy(item);
    let members = strata.get(key);
    if (members === undefined) strata.set(key, (members = []));
    members.push(index);
  });
  const rng = new Rng(seed);
  const heldOut = new Uint8Array(items.length);
  for (const members of strata.values()) {
    // Round to the nearest count, keeping at least one item of the stratum in training.
    const count = Math.min(Math.round(fraction * members.length), members.length - 1);
    for (const index of shuffleInPlace(members, rng).slice(0, count)) heldOut[index] = 1;
  }
  const train = items.filter((_, index) => heldOut[index] === 0);
  const validation = items.filter((_, index) => heldOut[index] === 1);
  if (validation.length === 0) {
    throw new ConfigError('too few items to hold out a validation split', {
      where: 'holdOutSplit',
      expected: `a ${fraction} share of ${stratifyBy === undefined ? 'the items' : 'some label'} rounding to at least 1 item`,
      actual: `${items.length} item${items.length === 1 ? '' : 's'}${stratifyBy === undefined ? '' : ` in ${strata.size} label${strata.size === 1 ? '' : 's'}`}`,
      hint: 'give a validation file, or more data',
    });
  }
  return { train, validation };
}
