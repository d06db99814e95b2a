/**
 * Reference LayerNorm (Ba et al., 2016) and RMSNorm (Zhang & Sennrich, 2019) over rows of
 * length C, forward and backward as in llm.c's layernorm_forward/backward.
 * Legend: C channels (the normalised axis), rows = number of rows. n = normalised x.
 */
import type { F } from '../../tensor/backend.js';

/** y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps) (population variance). */
export function layerNormForward(
  x: F,
  weight: F | null,
  bias: F | null,
  y: F,
  mean: F,
  rstd: F,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += x[base + c]!;
    const m = sum / C;
    // Two passes (mean, then squared deviations): no cancellation from E[x^2] - E[x]^2.
    let squares = 0;
    for (let c = 0; c < C; c++) {
      const d = x[base + c]! - m;
      squares += d * d;
    }
    const s = 1 / Math.sqrt(squares / C + eps);
    mean[r] = m;
    rstd[r] = s;
    for (let c = 0; c < C; c++) {
      const n = (x[base + c]! - m) * s;
      y[base + c] = n * (weight === null ? 1 : weight[c]!) + (bias === null ? 0 : bias[c]!);
    }
  }
}

/**
 * Forward: n = (x - mean) * rstd, y = n * w + b.
 *   db += dy;  dw += dy * n;  dn = dy * w
 *   dx = rstd * (dn - mean(dn) - n * mean(dn * n))
 * (the two means are the gradients through mean and through rstd).
 */
export function layerNormBackward(
  dy: F,
  x: F,
  weight: F | null,
  mean: F,
  rstd: F,
  dx: F,
  dweight: F | null,
  dbias: F | null,
  rows: number,
  C: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    const m = mean[r]!;
    const s = rstd[r]!;
    let dnMean = 0;
    let dnDotN = 0;
    for (let c = 0; c < C; c++) {
      const n = (x[base + c]! - m) * s;
      const dn = dy[base + c]! * (weight === null ? 1 : weight[c]!);
      dnMean += dn;
      dnDotN += dn * n;
    }
    dnMean /= C;
    dnDotN /= C;
    for (let c = 0; c < C; c++) {
      const n = (x[base + c]! - m) * s;
      const g = dy[base + c]!;
      const dn = g * (weight === null ? 1 : weight[c]!);
      dx[base + c] = s * (dn - dnMean - n * dnDotN);
      if (dweight !== null) dweight[c] += g * n;
      if (dbias !== null) dbias[c] += g;
    }
  }
}

/** y = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps). */
export function rmsNormForward(
  x: F,
  weight: F | null,
  y: F,
  rstd: F,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    let squares = 0;
    for (let c = 0; c < C; c++) squares += x[base + c]! * x[base + c]!;
    const s = 1 / Math.sqrt(squares / C + eps);
    rstd[r] = s;
    for (let c = 0; c < C; c++) y[base + c] = x[base + c]! * s * (weight === null ? 1 : weight[c]!);
  }
}

/**
 * Forward: n = x * rstd, y = n * w, with d rstd / d x_j = -rstd^3 x_j / C.
 *   dw += dy * n;  dn = dy * w
 *   dx_j = rstd * dn_j - sum_i dn_i x_i rstd^3 x_j / C = rstd * (dn_j - n_j * mean(dn * n))
 */
export function rmsNormBackward(
  dy: F,
  x: F,
  weight: F | null,
  rstd: F,
  dx: F,
  dweight: F | null,
  rows: number,
  C: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    const s = rstd[r]!;
    let dnDotN = 0;
    for (let c = 0; c < C; c++) {
      dnDotN += dy[base + c]! * (weight === null ? 1 : weight[c]!) * x[base + c]! * s;
    }
    dnDotN /= C;
    for (let c = 0; c < C; c++) {
      const n = x[base + c]! * s;
      const g = dy[base + c]!;
      dx[base + c] = s * (g * (weight === null ? 1 : weight[c]!) - n * dnDotN);
      if (dweight !== null) dweight[c] += g * n;
    }
  }
}
