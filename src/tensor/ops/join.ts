/**
 * Joining and splitting along an axis: concat (one copy), split (views via narrow) and
 * stack (unsqueeze + concat).
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape, normalizeAxis } from '../shape.js';
import { layoutOf, narrow, unsqueeze } from './layout.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

export interface ConcatSaved {
  readonly axis: number;
}

/**
 * Joins tensors of equal shape except along `axis`.
 *
 * @example
 * const kv = concat([pastK, k], 2); // (B, nKV, Tpast + T, hs)
 */
export function concat(tensors: readonly Tensor[], axis: number): Tensor {
  const first = tensors[0];
  if (first === undefined) throw new ShapeError('needs at least one tensor', { where: 'concat', actual: 0 });
  const ax = normalizeAxis('concat', axis, first.ndim);
  for (const t of tensors) {
    if (t.dtype !== first.dtype) {
      throw new DTypeError('tensors have different dtypes', {
        where: 'concat',
        expected: first.dtype,
        actual: t.dtype,
      });
    }
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(`shapes differ outside axis ${ax}`, {
        where: 'concat',
        expected: `every shape equal to ${formatShape(first.shape)} except on axis ${ax}`,
        actual: tensors.map((x) => formatShape(x.shape)).join(', '),
      });
    }
  }
  const shape = [...first.shape];
  shape[ax] = tensors.reduce((total, t) => total + t.shape[ax]!, 0);
  const out = Tensor.empty(shape, first.dtype, false);
  let start = 0;
  for (const t of tensors) {
    backend().copyStrided(t.data, layoutOf(t), out.data, {
      shape: t.shape,
      strides: out.strides,
      offset: start * out.strides[ax]!,
    });
    start += t.shape[ax]!;
  }
  return record('concat', tensors, out, { axis: ax });
}

/** y = concat(x_0, x_1, ...)  =>  dx_i = dy narrowed to x_i's slice (views, no copy). */
export function concatBackward(g: Tensor, inputs: readonly Tensor[], s: ConcatSaved): Tensor[] {
  let start = 0;
  return inputs.map((x) => {
    const size = x.shape[s.axis]!;
    const dx = narrow(g, s.axis, start, size);
    start += size;
    return dx;
  });
}

/**
 * Splits x along `axis` into views: chunks of `sizes` elements (the last one smaller when
 * it does not divide), or exactly the listed sizes (which must add up to the axis length).
 */
export function split(x: Tensor, sizes: number | readonly number[], axis: number): Tensor[] {
  const ax = normalizeAxis('split', axis, x.ndim);
  const length = x.shape[ax]!;
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) {
      throw new ShapeError('chunk size must be a positive integer', { where: 'split', actual: sizes });
    }
    parts = [];
    for (let at = 0; at < length; at += sizes) parts.push(Math.min(sizes, length - at));
  } else {
    parts = [...sizes];
    const total = parts.reduce((a, b) => a + b, 0);
    if (total !== length || parts.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new ShapeError('sizes must be non-negative integers that add up to the axis length', {
        where: 'split',
        expected: `sizes summing to ${length} (axis ${ax} of ${formatShape(x.shape)})`,
        actual: formatShape(parts),
      });
    }
  }
  let start = 0;
  return parts.map((size) => {
    const part = narrow(x, ax, start, size);
    start += size;
    return part;
  });
}

/** Joins equal-shaped tensors along a new axis. */
export function stack(tensors: readonly Tensor[], axis: number): Tensor {
  const first = tensors[0];
  if (first === undefined) throw new ShapeError('needs at least one tensor', { where: 'stack', actual: 0 });
  const ax = normalizeAxis('stack', axis, first.ndim + 1);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new ShapeError('tensors must have equal shapes', {
        where: 'stack',
        expected: formatShape(first.shape),
        actual: tensors.map((x) => formatShape(x.shape)).join(', '),
      });
    }
  }
  return concat(
    tensors.map((t) => unsqueeze(t, ax)),
    ax,
  );
}
