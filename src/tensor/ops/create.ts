/**
 * Tensor creation: from data, constant fills, ranges and random draws. Every random
 * creator takes an explicit Rng (./random.ts), so runs are reproducible from a seed.
 */
import { Tensor } from '../tensor.js';
import { type DType, type TypedArray, dtypeOf } from '../dtype.js';
import { type Shape, numel, formatShape, assertValidShape } from '../shape.js';
import type { Rng } from '../random.js';
import { DTypeError, ShapeError, ConfigError } from '../../util/errors.js';

/**
 * A new tensor holding a copy of `data` (row-major), shaped `shape` (default: 1-D).
 * The dtype defaults to the typed array's, or float32 for a plain array. Non-integer
 * values for an int32 tensor are rejected rather than truncated.
 *
 * @example
 * const ids = tensor([[1, 2], [3, 4]].flat(), [2, 2], 'int32');
 */
export function tensor(data: readonly number[] | TypedArray, shape?: Shape, dtype?: DType): Tensor {
  const type = dtype ?? (Array.isArray(data) ? 'float32' : dtypeOf(data as TypedArray));
  const target = shape ?? [data.length];
  assertValidShape('tensor', target);
  if (numel(target) !== data.length) {
    throw new ShapeError('data length does not match shape', {
      where: 'tensor',
      expected: `${numel(target)} elements for shape ${formatShape(target)}`,
      actual: `${data.length} elements`,
    });
  }
  if (type === 'int32') {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
        throw new DTypeError('int32 tensor data must be 32-bit integers', {
          where: 'tensor',
          expected: 'integers in [-2^31, 2^31)',
          actual: `${v} at index ${i}`,
        });
      }
    }
  }
  const out = Tensor.empty(target, type, false);
  out.values().set(data);
  return out;
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  if (dtype === 'int32' && !Number.isInteger(value)) {
    throw new DTypeError('int32 fill value must be an integer', { where: 'full', actual: value });
  }
  const out = Tensor.empty(shape, dtype, false);
  out.values().fill(value);
  return out;
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return Tensor.empty(shape, dtype, true);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

/** [0, 1, ..., n - 1]. */
export function arange(n: number, dtype: DType = 'int32'): Tensor {
  if (!Number.isInteger(n) || n < 0) {
    throw new ConfigError('arange needs a non-negative integer length', { where: 'arange', actual: n });
  }
  const out = Tensor.empty([n], dtype, false);
  const values = out.values();
  for (let i = 0; i < n; i++) values[i] = i;
  return out;
}

export interface RandnOptions {
  readonly std?: number;
  readonly mean?: number;
  readonly dtype?: DType;
}

/** Normal draws, mean + std * N(0, 1), filled in row-major order from `rng`. */
export function randn(shape: Shape, rng: Rng, options: RandnOptions = {}): Tensor {
  const { std = 1, mean = 0, dtype = 'float32' } = options;
  if (dtype === 'int32') {
    throw new DTypeError('randn makes float tensors', {
      where: 'randn',
      expected: 'float32 or float64',
      actual: dtype,
    });
  }
  const out = Tensor.empty(shape, dtype, false);
  const values = out.values();
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return out;
}

/** Uniform draws in [0, 1). */
export function rand(shape: Shape, rng: Rng, dtype: DType = 'float32'): Tensor {
  if (dtype === 'int32') {
    throw new DTypeError('rand makes float tensors', {
      where: 'rand',
      expected: 'float32 or float64',
      actual: dtype,
    });
  }
  const out = Tensor.empty(shape, dtype, false);
  const values = out.values();
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform();
  return out;
}

/** Uniform int32 draws in [low, high). */
export function randint(low: number, high: number, shape: Shape, rng: Rng): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new ConfigError('randint needs integers low < high', {
      where: 'randint',
      actual: `low ${low}, high ${high}`,
    });
  }
  if (low < -2147483648 || high > 2147483648) {
    throw new ConfigError('randint bounds must fit int32', {
      where: 'randint',
      expected: 'low >= -2^31 and high <= 2^31',
      actual: `low ${low}, high ${high}`,
    });
  }
  const out = Tensor.empty(shape, 'int32', false);
  const values = out.values();
  for (let i = 0; i < values.length; i++) values[i] = rng.randint(low, high);
  return out;
}
