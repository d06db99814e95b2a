/**
 * Reference optimiser kernels: the squared norm for gradient clipping and one AdamW step
 * (Loshchilov & Hutter, 2019) with PyTorch's torch.optim.AdamW semantics.
 * Legend: N element count.
 */
import type { AdamWParams, F } from '../../tensor/backend.js';

/** sum(x^2), accumulated in float64 (a float32 running sum loses digits over millions of terms). */
export function sumOfSquares(x: F, N: number): number {
  let total = 0;
  for (let i = 0; i < N; i++) total += x[i]! * x[i]!;
  return total;
}

/**
 * g = grad * gradScale
 * p -= lr * wd * p                        (decoupled weight decay, applied first as in PyTorch)
 * m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 * p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 */
export function adamw(param: F, grad: F, m: F, v: F, N: number, p: AdamWParams): void {
  const correction1 = 1 - Math.pow(p.beta1, p.step);
  const correction2 = 1 - Math.pow(p.beta2, p.step);
  const decay = 1 - p.lr * p.weightDecay;
  for (let i = 0; i < N; i++) {
    const g = grad[i]! * p.gradScale;
    m[i] = p.beta1 * m[i]! + (1 - p.beta1) * g;
    v[i] = p.beta2 * v[i]! + (1 - p.beta2) * g * g;
    // Read the moments back as stored (rounded to the array's precision), as PyTorch does.
    const mi = m[i]!;
    const vi = v[i]!;
    param[i] = param[i]! * decay - (p.lr * (mi / correction1)) / (Math.sqrt(vi / correction2) + p.eps);
  }
}
