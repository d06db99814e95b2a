/** Shape arithmetic: sizes, strides, broadcasting and axis normalisation. */
import { ShapeError } from '../util/errors.js';

export type Shape = readonly number[];

// Indexed loops, not for-of, over shapes: tensor shapes are frozen arrays, and for-of over
// a frozen array allocates an iterator result per element in V8 (a decode step calls
// these hundreds of times).

export function numel(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/** Row-major strides for a contiguous tensor of this shape. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy broadcasting: align from the right; each pair of sizes must match or be 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError('shapes cannot be broadcast together', {
        where: op,
        expected: 'sizes equal or 1 in every trailing dimension',
        actual: `${formatShape(a)} and ${formatShape(b)}`,
      });
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape` (stride pattern `strides`) as if broadcast to `target` (0 on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const offset = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[offset + i] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

/** Resolves a possibly negative axis against `ndim`. */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  const resolved = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(resolved) || resolved < 0 || resolved >= ndim) {
    throw new ShapeError('axis out of range', {
      where: op,
      expected: `an axis in [${-ndim}, ${ndim - 1}]`,
      actual: axis,
    });
  }
  return resolved;
}

export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  ndim: number,
): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const resolved = [...new Set(list.map((a) => normalizeAxis(op, a, ndim)))];
  return resolved.sort((x, y) => x - y);
}

export function assertShape(op: string, what: string, actual: Shape, expected: Shape): void {
  if (!shapesEqual(actual, expected)) {
    throw new ShapeError(`${what} has the wrong shape`, {
      where: op,
      expected: formatShape(expected),
      actual: formatShape(actual),
    });
  }
}

export function assertValidShape(op: string, shape: Shape): void {
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError('dimensions must be non-negative integers', {
        where: op,
        actual: formatShape(shape),
      });
    }
  }
}
