/**
 * Layout ops: views that share storage (reshape of contiguous data, permute/transpose,
 * narrow, expand, squeeze/unsqueeze) and contiguous(), which copies only when needed.
 */
import { Tensor } from '../tensor.js';
import { backend, type StridedLayout } from '../backend.js';
import { record } from '../autograd/tape.js';
import { type Shape, numel, formatShape, normalizeAxis, contiguousStrides } from '../shape.js';
import { ShapeError } from '../../util/errors.js';

/** The strided layout kernels read a tensor through. */
export function layoutOf(x: Tensor): StridedLayout {
  return { shape: x.shape, strides: x.strides, offset: x.offset };
}

/** Another handle on x's storage and layout (no copy, not recorded): lets a backward rule pass a gradient through. */
export function alias(x: Tensor): Tensor {
  return new Tensor({ storage: x.storage, shape: x.shape, strides: x.strides, offset: x.offset });
}

function view(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return new Tensor({ storage: x.storage, shape, strides, offset });
}

/** x itself when already contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous()) return x;
  const out = Tensor.empty(x.shape, x.dtype, false);
  backend().copyStrided(x.data, layoutOf(x), out.data, { shape: x.shape, strides: out.strides, offset: 0 });
  return record('contiguous', [x], out, null);
}

/** Resolves one -1 in `shape` against `size`. */
function resolveShape(op: string, shape: Shape, size: number): number[] {
  const out = shape.slice();
  const unknown = out.indexOf(-1);
  if (unknown !== -1) {
    const known = numel(out.filter((_, i) => i !== unknown));
    if (known === 0 || size % known !== 0) {
      throw new ShapeError('cannot infer -1', {
        where: op,
        expected: `a divisor of ${size}`,
        actual: formatShape(shape),
      });
    }
    out[unknown] = size / known;
  }
  if (numel(out) !== size) {
    throw new ShapeError('new shape has a different number of elements', {
      where: op,
      expected: `${size} elements`,
      actual: `${formatShape(shape)} (${numel(out)} elements)`,
    });
  }
  return out;
}

/** A view with a new shape (copies first if x is not contiguous). One dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const target = resolveShape('reshape', shape, x.size);
  const source = contiguous(x);
  const out = view(source, Object.freeze(target), Object.freeze(contiguousStrides(target)), source.offset);
  return record('reshape', [source], out, null);
}

/** Reorders dimensions: out.shape[i] = x.shape[order[i]]. */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  const n = x.ndim;
  const shape = new Array<number>(n);
  const strides = new Array<number>(n);
  const inverse = new Array<number>(n).fill(-1);
  let valid = order.length === n;
  for (let i = 0; valid && i < n; i++) {
    const a = normalizeAxis('permute', order[i]!, n);
    if (inverse[a] !== -1) valid = false;
    inverse[a] = i;
    shape[i] = x.shape[a]!;
    strides[i] = x.strides[a]!;
  }
  if (!valid) {
    throw new ShapeError('order must list every axis once', {
      where: 'permute',
      expected: `a permutation of 0..${n - 1}`,
      actual: formatShape(order),
    });
  }
  const out = view(x, Object.freeze(shape), Object.freeze(strides), x.offset);
  return record('permute', [x], out, { inverse });
}

/** Swaps two axes (a view). */
export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const a = normalizeAxis('transpose', axis0, x.ndim);
  const b = normalizeAxis('transpose', axis1, x.ndim);
  const order = new Array<number>(x.ndim);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order[a] = b;
  order[b] = a;
  return permute(x, order);
}

export interface NarrowSaved {
  readonly axis: number;
  readonly start: number;
}

/** The slice [start, start + length) along `axis` (a view). */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = normalizeAxis('narrow', axis, x.ndim);
  const size = x.shape[ax]!;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(length) ||
    start < 0 ||
    length < 0 ||
    start + length > size
  ) {
    throw new ShapeError('slice out of range', {
      where: 'narrow',
      expected: `0 <= start <= start + length <= ${size} on axis ${ax}`,
      actual: `start ${start}, length ${length}`,
    });
  }
  const shape = x.shape.slice();
  shape[ax] = length;
  const out = view(x, Object.freeze(shape), x.strides, x.offset + start * x.strides[ax]!);
  return record('narrow', [x], out, { axis: ax, start });
}

/** Backward of narrow: dy written into zeros of x's shape at [start, start + length). */
export function narrowBackward(g: Tensor, x: Tensor, s: NarrowSaved): Tensor {
  const dx = Tensor.empty(x.shape, g.dtype);
  const strides = contiguousStrides(x.shape);
  backend().copyStrided(g.data, layoutOf(g), dx.data, {
    shape: g.shape,
    strides,
    offset: s.start * strides[s.axis]!,
  });
  return dx;
}

/** Broadcasts size-1 dimensions (and new leading ones) to `shape` without copying. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const lead = shape.length - x.ndim;
  if (lead < 0) {
    throw new ShapeError('cannot expand to fewer dimensions', {
      where: 'expand',
      expected: formatShape(x.shape),
      actual: formatShape(shape),
    });
  }
  if (shape.slice(0, lead).includes(-1)) {
    throw new ShapeError('-1 keeps an existing size, so it cannot name a new leading dimension', {
      where: 'expand',
      expected: `explicit sizes for the first ${lead} dimensions`,
      actual: formatShape(shape),
    });
  }
  const strides = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < x.ndim; i++) {
    const from = x.shape[i]!;
    const to = shape[lead + i] === -1 ? from : shape[lead + i]!;
    if (from !== to && from !== 1) {
      throw new ShapeError('only size-1 dimensions can be expanded', {
        where: 'expand',
        expected: `a shape compatible with ${formatShape(x.shape)}`,
        actual: formatShape(shape),
      });
    }
    strides[lead + i] = from === to ? x.strides[i]! : 0;
  }
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
  return record('expand', [x], view(x, target, strides, x.offset), { shape: target });
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(ax, 0, 1);
  return reshape(x, shape);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[ax] !== 1) {
    throw new ShapeError('can only squeeze a size-1 axis', {
      where: 'squeeze',
      expected: 1,
      actual: x.shape[ax],
    });
  }
  return reshape(
    x,
    x.shape.filter((_, i) => i !== ax),
  );
}
