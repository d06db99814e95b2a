/**
 * Selection by condition and by index: where, maskedFill, gather, argmax, topk, and the
 * triangular masks triu/tril. where and gather are differentiable (rules in
 * autograd/rules.ts); maskedFill, topk's values and triu/tril are built on them.
 *
 * These are index-shuffling loops over strided data, written here in TypeScript rather
 * than as backend kernels: they move data but do no arithmetic worth a native kernel.
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import {
  type Shape,
  broadcastShapes,
  broadcastStrides,
  contiguousStrides,
  formatShape,
  normalizeAxis,
  numel,
  shapesEqual,
} from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous, transpose } from './layout.js';
import { scalar, type TensorLike } from './elementwise.js';
import { sumToShape } from './reduce.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

/**
 * Calls visit(i, offsets) for every element i (row-major) of `shape`, with the element's
 * offset in each strided operand.
 */
function forEachOffset(
  shape: Shape,
  operands: ReadonlyArray<{ readonly strides: Shape; readonly offset: number }>,
  visit: (i: number, offsets: readonly number[]) => void,
): void {
  const total = numel(shape);
  const offsets = operands.map((o) => o.offset);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < total; i++) {
    visit(i, offsets);
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      index[ax]!++;
      for (let k = 0; k < operands.length; k++) offsets[k]! += operands[k]!.strides[ax]!;
      if (index[ax]! < shape[ax]!) break;
      for (let k = 0; k < operands.length; k++) offsets[k]! -= operands[k]!.strides[ax]! * shape[ax]!;
      index[ax] = 0;
    }
  }
}

function broadcastView(t: Tensor, shape: Shape): { strides: number[]; offset: number } {
  return { strides: broadcastStrides(t.shape, t.strides, shape), offset: t.offset };
}

/**
 * out = condition ? a : b elementwise, with broadcasting over all three. condition may be
 * int32 or float (nonzero is true); a and b share a dtype (a number takes the other's).
 *
 * @example
 * const scores = where(allowed, logits, -Infinity);
 */
export function where(condition: Tensor, aIn: TensorLike, bIn: TensorLike): Tensor {
  if (typeof aIn === 'number' && typeof bIn === 'number') {
    throw new DTypeError('at least one of a and b must be a tensor', {
      where: 'where',
      actual: 'two numbers',
    });
  }
  const like = typeof aIn === 'number' ? (bIn as Tensor) : aIn;
  const a = typeof aIn === 'number' ? scalar(aIn, like.dtype) : aIn;
  const b = typeof bIn === 'number' ? scalar(bIn, like.dtype) : bIn;
  if (a.dtype !== b.dtype) {
    throw new DTypeError('a and b have different dtypes', {
      where: 'where',
      expected: a.dtype,
      actual: b.dtype,
    });
  }
  const shape = broadcastShapes('where', broadcastShapes('where', condition.shape, a.shape), b.shape);
  const out = Tensor.empty(shape, a.dtype, false);
  const [c, av, bv, o] = [condition.data, a.data, b.data, out.data];
  forEachOffset(
    shape,
    [broadcastView(condition, shape), broadcastView(a, shape), broadcastView(b, shape)],
    (i, at) => {
      o[i] = c[at[0]!] !== 0 ? av[at[1]!]! : bv[at[2]!]!;
    },
  );
  return record('where', [condition, a, b], out, null);
}

/** out = where(c, a, b)  =>  da = where(c, dy, 0), db = where(c, 0, dy), each summed to its operand's shape. */
export function whereBackward(g: Tensor, condition: Tensor, a: Tensor, b: Tensor): Array<Tensor | null> {
  const reduce = (grad: Tensor, like: Tensor): Tensor => {
    const r = sumToShape(grad, like.shape);
    if (r !== grad) grad.dispose();
    return r;
  };
  return [
    null,
    a.requiresGrad ? reduce(where(condition, g, 0), a) : null,
    b.requiresGrad ? reduce(where(condition, 0, g), b) : null,
  ];
}

/** x with `value` wherever mask (broadcast to x's shape) is nonzero. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  if (!shapesEqual(broadcastShapes('maskedFill', x.shape, mask.shape), x.shape)) {
    throw new ShapeError('mask must broadcast to the shape of x', {
      where: 'maskedFill',
      expected: `broadcastable to ${formatShape(x.shape)}`,
      actual: formatShape(mask.shape),
    });
  }
  return where(mask, value, x);
}

export interface GatherSaved {
  readonly axis: number;
  readonly index: Tensor;
}

/** The operand layouts gather walks: index (strided), x without its axis stride, out/dx (contiguous). */
function gatherWalk(axis: number, index: Tensor, xStrides: Shape, xOffset: number) {
  return [index, { strides: xStrides.map((s, d) => (d === axis ? 0 : s)), offset: xOffset }];
}

/**
 * torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (and likewise for any
 * axis). index is int32 with x's number of dimensions and index.shape[d] <= x.shape[d]
 * for d != axis; out has index's shape. The backward scatter-adds into x's shape.
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const ax = normalizeAxis('gather', axis, x.ndim);
  if (index.dtype !== 'int32') {
    throw new DTypeError('index must be int32', { where: 'gather', expected: 'int32', actual: index.dtype });
  }
  if (index.ndim !== x.ndim || index.shape.some((d, i) => i !== ax && d > x.shape[i]!)) {
    throw new ShapeError('index must have x.ndim dimensions, each no larger than x outside the axis', {
      where: 'gather',
      expected: `${x.ndim}-D index within ${formatShape(x.shape)} except on axis ${ax}`,
      actual: formatShape(index.shape),
    });
  }
  const size = x.shape[ax]!;
  const stride = x.strides[ax]!;
  const out = Tensor.empty(index.shape, x.dtype, false);
  const [xs, ids, o] = [x.data, index.data, out.data];
  forEachOffset(index.shape, gatherWalk(ax, index, x.strides, x.offset), (i, at) => {
    const id = ids[at[0]!]!;
    if (id < 0 || id >= size) {
      throw new ShapeError(`index ${id} is out of range for axis ${ax} of size ${size}`, {
        where: 'gather',
        expected: `indices in [0, ${size})`,
        actual: `${id} at flat position ${i} of index ${formatShape(index.shape)}`,
      });
    }
    o[i] = xs[at[1]! + id * stride]!;
  });
  return record('gather', [x], out, { axis: ax, index });
}

/** out[p] = x[p with axis -> index[p]]  =>  dx[p with axis -> index[p]] += dy[p]. */
export function gatherBackward(g: Tensor, x: Tensor, s: GatherSaved): Tensor {
  const dy = contiguous(g);
  const dx = Tensor.empty(x.shape, x.dtype);
  const strides = contiguousStrides(x.shape);
  const [d, ids, src] = [dx.data, s.index.data, dy.data];
  forEachOffset(s.index.shape, gatherWalk(s.axis, s.index, strides, 0), (i, at) => {
    d[at[1]! + ids[at[0]!]! * strides[s.axis]!] += src[i]!;
  });
  return dx;
}

function requireFloat(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) {
    throw new DTypeError('expected a float tensor', {
      where: op,
      expected: 'float32 or float64',
      actual: x.dtype,
    });
  }
}

/** Index of the maximum along `axis` (the first one on ties; NaN counts as the maximum). int32, no gradient. */
export function argmax(x: Tensor, axis: number, keepDims = false): Tensor {
  requireFloat('argmax', x);
  const ax = normalizeAxis('argmax', axis, x.ndim);
  const R = x.shape[ax]!;
  if (R === 0)
    throw new ShapeError('argmax over an empty axis', { where: 'argmax', actual: formatShape(x.shape) });
  const xc = contiguous(x);
  const outer = numel(x.shape.slice(0, ax));
  const inner = numel(x.shape.slice(ax + 1));
  const keptShape = x.shape.map((d, i) => (i === ax ? 1 : d));
  const out = Tensor.empty(keepDims ? keptShape : x.shape.filter((_, i) => i !== ax), 'int32', false);
  const maxima = x.dtype === 'float64' ? new Float64Array(outer * inner) : new Float32Array(outer * inner);
  backend().reduceMax(xc.floats(), maxima, out.values() as Int32Array, outer, R, inner);
  if (xc !== x) xc.dispose();
  return out;
}

export interface TopK {
  /** The k largest values along the axis, largest first; differentiable (a gather of x). */
  readonly values: Tensor;
  /** Their int32 positions along the axis (no gradient). */
  readonly indices: Tensor;
}

/** The k largest entries along `axis` (default last), sorted descending; ties keep the lower index first. */
export function topk(x: Tensor, k: number, axis = -1): TopK {
  requireFloat('topk', x);
  const ax = normalizeAxis('topk', axis, x.ndim);
  const n = x.shape[ax]!;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new ShapeError('k out of range', { where: 'topk', expected: `an integer in [0, ${n}]`, actual: k });
  }
  // Rows along the last axis: (rows, n).
  const last = contiguous(transpose(x, ax, -1));
  const rows = n === 0 ? 0 : last.size / n;
  const values = last.floats();
  const picked = new Int32Array(rows * k);
  const order = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) order[i] = i;
    const row = r * n;
    order.sort((i, j) => {
      const vi = values[row + i]!;
      const vj = values[row + j]!;
      // NaN sorts first (as the largest), as torch.topk does.
      const nanI = Number.isNaN(vi);
      const nanJ = Number.isNaN(vj);
      if (nanI || nanJ) return nanI && nanJ ? i - j : nanI ? -1 : 1;
      return vj > vi ? 1 : vj < vi ? -1 : i - j;
    });
    for (let i = 0; i < k; i++) picked[r * k + i] = order[i]!;
  }
  const shapeLast = [...last.shape.slice(0, -1), k];
  const indicesLast = Tensor.fromArray(picked, shapeLast);
  const indices = contiguous(transpose(indicesLast, ax, -1));
  return { values: gather(x, ax, indices), indices };
}

/** Keeps x where cond(row, col) over the last two axes, else 0 (a where(), so differentiable). */
function triangle(op: string, x: Tensor, keep: (row: number, col: number) => boolean): Tensor {
  if (x.ndim < 2) {
    throw new ShapeError('needs at least 2 dimensions', {
      where: op,
      expected: '(..., rows, cols)',
      actual: formatShape(x.shape),
    });
  }
  const rows = x.shape[x.ndim - 2]!;
  const cols = x.shape[x.ndim - 1]!;
  const mask = Tensor.empty([rows, cols], 'int32', false);
  const m = mask.values();
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m[i * cols + j] = keep(i, j) ? 1 : 0;
  return where(mask, x, 0);
}

/** The upper triangle of the last two axes: elements with col - row >= diagonal; the rest 0. */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, (i, j) => j - i >= diagonal);
}

/** The lower triangle of the last two axes: elements with col - row <= diagonal; the rest 0. */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, (i, j) => j - i <= diagonal);
}
