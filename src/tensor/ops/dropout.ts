/**
 * Inverted dropout (Srivastava et al., 2014): in training, each element is zeroed with
 * probability p and the survivors are scaled by 1 / (1 - p), so evaluation needs no
 * rescaling. The keep mask comes from an explicit Rng, so a seed fixes it.
 */
import { Tensor } from '../tensor.js';
import type { Rng } from '../random.js';
import { isFloat } from '../dtype.js';
import { mul } from './elementwise.js';
import { ConfigError, DTypeError } from '../../util/errors.js';

/** Checks a dropout probability: a finite number in [0, 1). */
export function checkDropout(p: number, where: string): void {
  if (!(p >= 0 && p < 1)) {
    throw new ConfigError('dropout probability out of range', {
      where,
      expected: 'p in [0, 1)',
      actual: p,
    });
  }
}

/**
 * x * mask / (1 - p) with mask ~ Bernoulli(1 - p) when training; x itself otherwise (or when p is 0).
 * The gradient is the same mask (it flows through the elementwise multiply).
 *
 * @example
 * const h = dropout(x, 0.1, rng, model.training);
 */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  checkDropout(p, 'dropout');
  if (!isFloat(x.dtype)) {
    throw new DTypeError('expected a float tensor', {
      where: 'dropout',
      expected: 'float32 or float64',
      actual: x.dtype,
    });
  }
  if (!training || p === 0) return x;
  const mask = Tensor.empty(x.shape, x.dtype, false);
  const values = mask.values();
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform() < p ? 0 : keepScale;
  return mul(x, mask);
}
