/**
 * Reductions over axes: sum, mean, max (values; argmax separately), variance, and
 * sumToShape (the reverse of broadcasting, used by every broadcast op's backward).
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { type Shape, numel, normalizeAxes, shapesEqual } from '../shape.js';
import { contiguous, reshape, expand, permute } from './layout.js';
import { ShapeError } from '../../util/errors.js';
import { mul, sub } from './elementwise.js';

export interface ReduceOptions {
  /** Axes to reduce; all axes when omitted. */
  readonly axis?: number | readonly number[];
  readonly keepDims?: boolean;
}

export interface SumSaved {
  /** x's shape with the reduced axes set to 1 (the shape dy is viewed as before expanding). */
  readonly keptShape: Shape;
}

/**
 * Reduces `axes` (sorted, unique) of contiguous x by moving them last when they are not
 * adjacent, then viewing x as (outer, R, inner) for the backend kernel.
 */
function reduceWith(
  x: Tensor,
  axes: readonly number[],
  kernel: (
    xs: Float32Array | Float64Array,
    out: Float32Array | Float64Array,
    outer: number,
    R: number,
    inner: number,
  ) => void,
): { out: Tensor; keptShape: number[] } {
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const adjacent = axes.length === 0 || axes[axes.length - 1]! - axes[0]! === axes.length - 1;
  let source = x;
  let first = axes[0] ?? x.ndim;
  if (!adjacent) {
    const rest = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    source = permute(x, [...rest, ...axes]);
    first = rest.length;
  }
  const xc = contiguous(source);
  const R = numel(axes.map((a) => x.shape[a]!));
  const outer = numel(xc.shape.slice(0, first));
  const inner = xc.size / Math.max(1, outer * R) || 0;
  const out = Tensor.empty(keptShape, x.dtype, false);
  if (xc.size === 0) out.floats().fill(0);
  else kernel(xc.floats(), out.floats(), outer, R, inner);
  if (xc !== source && xc !== x) xc.dispose();
  if (source !== x) source.dispose();
  return { out, keptShape };
}

function finish(out: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  if (keepDims) return out;
  return reshape(
    out,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Sum over `axis` (all axes by default). */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = normalizeAxes('sum', options.axis, x.ndim);
  const { out, keptShape } = reduceWith(x, axes, (xs, o, outer, R, inner) =>
    backend().reduceSum(xs, o, outer, R, inner),
  );
  record('sum', [x], out, { keptShape });
  return finish(out, x, axes, options.keepDims ?? false);
}

/** dx = dy broadcast back over the reduced axes. */
export function sumBackward(g: Tensor, x: Tensor, s: SumSaved): Tensor {
  return contiguous(expand(reshape(g, s.keptShape), x.shape));
}

export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = normalizeAxes('mean', options.axis, x.ndim);
  const count = numel(axes.map((a) => x.shape[a]!));
  return mul(sum(x, options), 1 / count);
}

/** Variance over `axis`; `correction` 1 is the unbiased estimator (PyTorch's default), 0 the population one. */
export function variance(x: Tensor, options: ReduceOptions & { readonly correction?: number } = {}): Tensor {
  const axes = normalizeAxes('variance', options.axis, x.ndim);
  const count = numel(axes.map((a) => x.shape[a]!));
  const correction = options.correction ?? 1;
  if (count - correction <= 0) {
    throw new ShapeError('too few elements for the variance', {
      where: 'variance',
      expected: `more than ${correction}`,
      actual: count,
    });
  }
  const centered = sub(x, mean(x, { axis: axes, keepDims: true }));
  const squares = mul(centered, centered);
  return mul(sum(squares, { axis: axes, keepDims: options.keepDims ?? false }), 1 / (count - correction));
}

export interface MaxSaved {
  readonly keptShape: Shape;
  /** Flat indices (into contiguous x) of the selected elements, one per output element. */
  readonly argIndex: Int32Array;
}

/** Maximum over one axis; the gradient flows to the first maximal element (as PyTorch's max(dim)). */
export function max(x: Tensor, options: { readonly axis: number; readonly keepDims?: boolean }): Tensor {
  const [axis] = normalizeAxes('max', options.axis, x.ndim) as [number];
  const xc = contiguous(x);
  const outer = numel(x.shape.slice(0, axis));
  const R = x.shape[axis]!;
  const inner = numel(x.shape.slice(axis + 1));
  if (R === 0) throw new ShapeError('max over an empty axis', { where: 'max', actual: 0 });
  const keptShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = Tensor.empty(keptShape, x.dtype, false);
  const arg = new Int32Array(outer * inner);
  backend().reduceMax(xc.floats(), out.floats(), arg, outer, R, inner);
  // Convert per-row argmax (0..R-1) into flat indices of contiguous x.
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) arg[o * inner + i] = (o * R + arg[o * inner + i]!) * inner + i;
  }
  record('max', [xc], out, { keptShape, argIndex: arg });
  return finish(out, x, [axis], options.keepDims ?? false);
}

export function maxBackward(g: Tensor, x: Tensor, s: MaxSaved): Tensor {
  const dx = Tensor.empty(x.shape, x.dtype);
  const dy = contiguous(g);
  const dst = dx.floats();
  const src = dy.floats();
  for (let i = 0; i < s.argIndex.length; i++) dst[s.argIndex[i]!] = src[i]!;
  return dx;
}

/** Sums g over the dimensions that broadcasting added or expanded, giving `shape`. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = sum(g, { axis: axes, keepDims: true });
  const out = reshape(summed, shape);
  if (out !== summed) summed.dispose();
  return out;
}
