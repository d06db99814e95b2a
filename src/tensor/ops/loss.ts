/**
 * Cross-entropy loss over the last axis of logits, fused: the backend computes each
 * row's loss and logsumexp in one pass, and the backward rebuilds the probabilities from
 * the saved logsumexp, so no (rows, V) probability tensor is kept between the passes.
 * Semantics follow torch.nn.functional.cross_entropy (ignore_index, label_smoothing,
 * reduction), with logits shaped (..., V) and targets shaped (...).
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape, shapesEqual } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { sum } from './reduce.js';
import { mul } from './elementwise.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and are not counted by 'mean' (default -100). */
  readonly ignoreIndex?: number;
  /** eps in [0, 1]: the target distribution becomes (1 - eps) onehot + eps / V. */
  readonly labelSmoothing?: number;
  /** 'mean' over non-ignored targets (NaN when all are ignored, as PyTorch), 'sum', or per-target 'none'. */
  readonly reduction?: Reduction;
}

export interface CrossEntropySaved {
  readonly targets: Tensor;
  /** logsumexp of each row of logits, (rows). */
  readonly lse: Tensor;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
}

/**
 * Mean (by default) negative log-likelihood of `targets` under softmax(logits).
 *
 * @example
 * const loss = crossEntropy(logits, targets); // logits (B, T, V), targets int32 (B, T) -> scalar
 */
export function crossEntropy(logitsIn: Tensor, targetsIn: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' } = options;
  const where = 'crossEntropy';
  if (!isFloat(logitsIn.dtype) || targetsIn.dtype !== 'int32') {
    throw new DTypeError('needs float logits and int32 targets', {
      where,
      expected: 'logits float32/float64, targets int32',
      actual: `logits ${logitsIn.dtype}, targets ${targetsIn.dtype}`,
    });
  }
  if (logitsIn.ndim < 1 || !shapesEqual(targetsIn.shape, logitsIn.shape.slice(0, -1))) {
    throw new ShapeError('targets must have the leading shape of logits', {
      where,
      expected: `logits (..., V) and targets (...)`,
      actual: `logits ${formatShape(logitsIn.shape)}, targets ${formatShape(targetsIn.shape)}`,
    });
  }
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new ConfigError('labelSmoothing out of range', {
      where,
      expected: 'a number in [0, 1]',
      actual: labelSmoothing,
    });
  }
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new ConfigError('unknown reduction', {
      where,
      expected: "'mean', 'sum' or 'none'",
      actual: reduction,
    });
  }
  const logits = contiguous(logitsIn);
  const targets = contiguous(targetsIn);
  const V = logits.shape[logits.ndim - 1]!;
  const rows = targets.size;
  const ids = targets.values() as Int32Array;
  let counted = 0;
  for (let r = 0; r < rows; r++) {
    const t = ids[r]!;
    if (t === ignoreIndex) continue;
    if (t < 0 || t >= V) {
      throw new ShapeError('target class out of range', {
        where,
        expected: `a class in [0, ${V}) or ignoreIndex ${ignoreIndex}`,
        actual: `${t} at flat position ${r}`,
      });
    }
    counted++;
  }
  const losses = Tensor.empty(targets.shape, logits.dtype, false);
  const lse = Tensor.empty([rows], logits.dtype, false);
  backend().crossEntropyForward(
    logits.floats(),
    ids,
    losses.floats(),
    lse.floats(),
    rows,
    V,
    ignoreIndex,
    labelSmoothing,
  );
  record('crossEntropy', [logits], losses, { targets, lse, ignoreIndex, labelSmoothing });
  switch (reduction) {
    case 'none':
      return losses;
    case 'sum':
      return sum(losses);
    case 'mean':
      // 0 / 0 = NaN when every target is ignored, as in PyTorch.
      return counted === 0 ? mul(sum(losses), NaN) : mul(sum(losses), 1 / counted);
  }
}

/** dlogits[r] = (softmax(logits[r]) - q[r]) * dlosses[r] (see src/backend/js/loss.ts). */
export function crossEntropyBackward(g: Tensor, logits: Tensor, s: CrossEntropySaved): Tensor {
  const dlosses = contiguous(g);
  const dlogits = Tensor.empty(logits.shape, logits.dtype, false);
  const V = logits.shape[logits.ndim - 1]!;
  backend().crossEntropyBackward(
    logits.floats(),
    s.targets.values() as Int32Array,
    s.lse.floats(),
    dlosses.floats(),
    dlogits.floats(),
    s.targets.size,
    V,
    s.ignoreIndex,
    s.labelSmoothing,
  );
  return dlogits;
}
