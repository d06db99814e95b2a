/**
 * Global-norm gradient clipping (PyTorch's clip_grad_norm_), folded into the optimiser's
 * gradScale so the gradients are never rewritten: the update reads grad * scale.
 *
 *   norm  = sqrt(sum over params of sum(g^2)) * preScale
 *   scale = preScale * min(1, maxNorm / (norm + 1e-6))
 *
 * `preScale` is applied first (1 / accumulation steps: the gradients hold a SUM over
 * micro-batches and the loss is their mean), so the norm is that of the mean gradient,
 * as in nanoGPT, which divides each micro-batch loss by the accumulation count.
 */
import { backend, type Tensor } from '../../tensor/index.js';

export interface ClipResult {
  /** The global L2 norm of the (pre-scaled) gradient, before clipping. */
  readonly norm: number;
  /** What the optimiser multiplies each gradient by. */
  readonly gradScale: number;
}

export function globalGradNorm(params: readonly Tensor[], preScale = 1): number {
  let total = 0;
  for (const param of params) {
    if (param.grad === null) continue;
    const grad = param.grad.floats();
    total += backend().sumOfSquares(grad, grad.length);
  }
  return Math.sqrt(total) * preScale;
}

/** maxNorm null disables clipping (the norm is still measured and reported). */
export function clipScale(params: readonly Tensor[], maxNorm: number | null, preScale = 1): ClipResult {
  const norm = globalGradNorm(params, preScale);
  // PyTorch's clip coefficient, clamped to 1: the 1e-6 keeps a zero gradient finite.
  const clip = maxNorm === null ? 1 : Math.min(1, maxNorm / (norm + 1e-6));
  return { norm, gradScale: preScale * clip };
}
