/**
 * A float64 finite-difference gradient checker. For y = fn(inputs) it compares the
 * autograd gradient of L = sum(y * w) (w a fixed random projection, so every output
 * element matters with a different weight) against central differences
 * (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input that requires grad.
 */
import { Tensor, Rng, backward, noGrad, randn, sum, mul, scope, keep } from '../../src/index.js';

export interface GradcheckOptions {
  readonly eps?: number;
  /** An element passes when |analytic - numeric| <= atol or <= rtol * max(|analytic|, |numeric|). */
  readonly rtol?: number;
  readonly atol?: number;
}

export interface GradcheckReport {
  readonly maxAbsDiff: number;
  readonly maxRelDiff: number;
  readonly checked: number;
}

/** Float64 leaf tensors with requiresGrad, filled with N(0, 1) draws (or `fill`). */
export function leaf(shape: readonly number[], rng: Rng, fill?: (v: number, i: number) => number): Tensor {
  const t = keep(randn(shape, rng, { dtype: 'float64' }));
  if (fill !== undefined) {
    const values = t.values();
    for (let i = 0; i < values.length; i++) values[i] = fill(values[i]!, i);
  }
  t.requiresGrad = true;
  return t;
}

export function gradcheck(
  name: string,
  fn: (inputs: readonly Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): GradcheckReport {
  const { eps = 1e-6, rtol = 1e-6, atol = 1e-8 } = options;
  for (const x of inputs) {
    if (x.dtype !== 'float64' && x.requiresGrad) throw new Error(`${name}: gradcheck inputs must be float64`);
    x.grad = null;
  }
  return scope(() => {
    const y = fn(inputs);
    const weights = randn(y.shape, new Rng(12345), { dtype: 'float64' });
    const objective = (): number => noGrad(() => sum(mul(fn(inputs), weights)).item());
    backward(sum(mul(y, weights)));
    let maxAbsDiff = 0;
    let maxRelDiff = 0;
    let checked = 0;
    inputs.forEach((x, k) => {
      if (!x.requiresGrad) return;
      if (x.grad === null) throw new Error(`${name}: input ${k} got no gradient`);
      const analytic = x.grad.toArray();
      const data = x.values();
      for (let i = 0; i < data.length; i++) {
        const original = data[i]!;
        data[i] = original + eps;
        const plus = scope(objective);
        data[i] = original - eps;
        const minus = scope(objective);
        data[i] = original;
        const numeric = (plus - minus) / (2 * eps);
        const a = analytic[i]!;
        const absDiff = Math.abs(a - numeric);
        const relDiff = absDiff / Math.max(Math.abs(a), Math.abs(numeric), 1e-300);
        maxAbsDiff = Math.max(maxAbsDiff, absDiff);
        if (absDiff > atol) maxRelDiff = Math.max(maxRelDiff, relDiff);
        checked++;
        if (!(absDiff <= atol || relDiff <= rtol)) {
          throw new Error(
            `${name}: gradient mismatch at input ${k} flat index ${i} (shape [${x.shape.join(', ')}]): ` +
              `analytic ${a}, numeric ${numeric}, abs diff ${absDiff.toExponential(3)}, rel diff ${relDiff.toExponential(3)} ` +
              `(tolerances atol ${atol}, rtol ${rtol})`,
          );
        }
      }
    });
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
    return { maxAbsDiff, maxRelDiff, checked };
  });
}
