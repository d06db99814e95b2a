/**
 * LayerNorm and RMSNorm over the last axis through the fused backend kernels, which save
 * per-row statistics (mean and 1/std) for the backward instead of recomputing them.
 */
import { Tensor } from '../tensor.js';
import { backend, type F } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';

export interface NormSaved {
  readonly kind: 'layerNorm' | 'rmsNorm';
  /** Per-row mean (layerNorm only; null for rmsNorm). */
  readonly mean: Tensor | null;
  /** Per-row 1 / sqrt(variance + eps) (or 1 / rms). */
  readonly rstd: Tensor;
  readonly hasWeight: boolean;
  readonly hasBias: boolean;
}

function check(op: string, x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): number {
  if (!isFloat(x.dtype)) {
    throw new DTypeError('expected a float tensor', {
      where: op,
      expected: 'float32 or float64',
      actual: x.dtype,
    });
  }
  if (x.ndim < 1) {
    throw new ShapeError('needs at least one dimension', {
      where: op,
      expected: '(..., C)',
      actual: formatShape(x.shape),
    });
  }
  const C = x.shape[x.ndim - 1]!;
  checkParam(op, 'weight', weight, x, C);
  checkParam(op, 'bias', bias, x, C);
  if (!(eps >= 0) || eps === Infinity) {
    throw new ConfigError('eps must be finite and non-negative', { where: op, actual: eps });
  }
  return C;
}

/** weight or bias (C) of a norm over x (..., C); null when absent. */
function checkParam(op: string, name: string, p: Tensor | null, x: Tensor, C: number): void {
  if (p !== null) {
    if (p.ndim !== 1 || p.shape[0] !== C) {
      throw new ShapeError(`${name} must be (C) for x (..., C)`, {
        where: op,
        expected: `[${C}]`,
        actual: `${name} ${formatShape(p.shape)} for x ${formatShape(x.shape)}`,
      });
    }
    if (p.dtype !== x.dtype) {
      throw new DTypeError(`${name} dtype differs from x`, { where: op, expected: x.dtype, actual: p.dtype });
    }
  }
}

const floatsOrNull = (t: Tensor | null): F | null => (t === null ? null : t.floats());

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (population variance,
 * as torch.nn.functional.layer_norm). weight and bias are (C) or null.
 *
 * @example
 * const y = layerNorm(x, gamma, beta); // x (B, T, C)
 */
export function layerNorm(xIn: Tensor, weightIn: Tensor | null, biasIn: Tensor | null, eps = 1e-5): Tensor {
  const C = check('layerNorm', xIn, weightIn, biasIn, eps);
  const x = contiguous(xIn);
  const weight = weightIn === null ? null : contiguous(weightIn);
  const bias = biasIn === null ? null : contiguous(biasIn);
  const rows = C === 0 ? 0 : x.size / C;
  const y = Tensor.empty(x.shape, x.dtype, false);
  const mean = Tensor.empty([rows], x.dtype, false);
  const rstd = Tensor.empty([rows], x.dtype, false);
  backend().layerNormForward(
    x.floats(),
    floatsOrNull(weight),
    floatsOrNull(bias),
    y.floats(),
    mean.floats(),
    rstd.floats(),
    rows,
    C,
    eps,
  );
  const inputs = [x, weight, bias].filter((t): t is Tensor => t !== null);
  return record('norm', inputs, y, {
    kind: 'layerNorm',
    mean,
    rstd,
    hasWeight: weight !== null,
    hasBias: bias !== null,
  });
}

/**
 * y = x / sqrt(mean(x^2) + eps) * weight over the last axis (Llama's RMSNorm).
 *
 * @example
 * const y = rmsNorm(x, weight, 1e-6); // x (B, T, C)
 */
export function rmsNorm(xIn: Tensor, weightIn: Tensor | null, eps = 1e-6): Tensor {
  const C = check('rmsNorm', xIn, weightIn, null, eps);
  const x = contiguous(xIn);
  const weight = weightIn === null ? null : contiguous(weightIn);
  const rows = C === 0 ? 0 : x.size / C;
  const y = Tensor.empty(x.shape, x.dtype, false);
  const rstd = Tensor.empty([rows], x.dtype, false);
  backend().rmsNormForward(x.floats(), floatsOrNull(weight), y.floats(), rstd.floats(), rows, C, eps);
  const inputs = weight === null ? [x] : [x, weight];
  return record('norm', inputs, y, {
    kind: 'rmsNorm',
    mean: null,
    rstd,
    hasWeight: weight !== null,
    hasBias: false,
  });
}

/** Gradients for [x, weight?, bias?] (derivations in src/backend/js/norm.ts). */
export function normBackward(g: Tensor, inputs: readonly Tensor[], s: NormSaved): Array<Tensor | null> {
  const [x, weight] = [inputs[0]!, s.hasWeight ? inputs[1]! : null];
  const bias = s.hasBias ? inputs[inputs.length - 1]! : null;
  const dy = contiguous(g);
  const C = x.shape[x.ndim - 1]!;
  const rows = s.rstd.size;
  const dx = Tensor.empty(x.shape, x.dtype, false);
  // The kernels accumulate parameter gradients, so they start from zero.
  const dweight = weight !== null && weight.requiresGrad ? Tensor.empty(weight.shape, weight.dtype) : null;
  const dbias = bias !== null && bias.requiresGrad ? Tensor.empty(bias.shape, bias.dtype) : null;
  if (s.kind === 'layerNorm') {
    backend().layerNormBackward(
      dy.floats(),
      x.floats(),
      floatsOrNull(weight),
      s.mean!.floats(),
      s.rstd.floats(),
      dx.floats(),
      floatsOrNull(dweight),
      floatsOrNull(dbias),
      rows,
      C,
    );
  } else {
    backend().rmsNormBackward(
      dy.floats(),
      x.floats(),
      floatsOrNull(weight),
      s.rstd.floats(),
      dx.floats(),
      floatsOrNull(dweight),
      rows,
      C,
    );
  }
  const grads: Array<Tensor | null> = [dx];
  if (weight !== null) grads.push(dweight);
  if (bias !== null) grads.push(dbias);
  return grads;
}
