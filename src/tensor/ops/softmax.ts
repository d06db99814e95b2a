/**
 * softmax and log-softmax along one axis, through the backend's row kernels (which
 * subtract the row max for stability). A non-last axis is moved last, computed, and
 * moved back.
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { normalizeAxis } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous, reshape, transpose } from './layout.js';
import { DTypeError } from '../../util/errors.js';

export interface SoftmaxSaved {
  readonly log: boolean;
  /** The forward output (the backward needs only y, not x). */
  readonly output: Tensor;
}

function softmaxLast(xIn: Tensor, log: boolean): Tensor {
  const x = contiguous(xIn);
  const C = x.shape[x.ndim - 1]!;
  const rows = C === 0 ? 0 : x.size / C;
  const y = Tensor.empty(x.shape, x.dtype, false);
  backend().softmax(x.floats(), y.floats(), rows, C, log);
  return record('softmax', [x], y, { log, output: y });
}

function softmaxAlong(op: string, x: Tensor, axis: number, log: boolean): Tensor {
  if (!isFloat(x.dtype)) {
    throw new DTypeError('expected a float tensor', {
      where: op,
      expected: 'float32 or float64',
      actual: x.dtype,
    });
  }
  // A 0-d tensor is one row of one element (as in PyTorch).
  if (x.ndim === 0) return reshape(softmaxLast(reshape(x, [1]), log), []);
  const ax = normalizeAxis(op, axis, x.ndim);
  if (ax === x.ndim - 1) return softmaxLast(x, log);
  // Move the axis last (a view; the kernel's contiguous() is the one copy) and back.
  return transpose(softmaxLast(transpose(x, ax, -1), log), ax, -1);
}

/**
 * softmax(x)_i = exp(x_i) / sum_j exp(x_j) along `axis` (default: last).
 *
 * @example
 * const probs = softmax(logits); // (B, T, V), each row sums to 1
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong('softmax', x, axis, false);
}

/** log(softmax(x)) along `axis`, computed as x - logsumexp(x) (finite where softmax underflows). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong('logSoftmax', x, axis, true);
}

/** See the kernel (src/backend/js/softmax.ts) for the derivation. */
export function softmaxBackward(g: Tensor, x: Tensor, s: SoftmaxSaved): Tensor {
  const dy = contiguous(g);
  const dx = Tensor.empty(x.shape, x.dtype, false);
  const C = x.shape[x.ndim - 1]!;
  backend().softmaxBackward(s.output.floats(), dy.floats(), dx.floats(), C === 0 ? 0 : x.size / C, C, s.log);
  return dx;
}
