/**
 * Reference softmax / log-softmax over rows of length C, and their backward.
 * Legend: C row length (classes), rows = number of independent rows.
 */
import type { F } from '../../tensor/backend.js';

/** y = softmax(x) or log_softmax(x) per row; subtracting the row max keeps exp() finite. */
export function softmax(x: F, y: F, rows: number, C: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, x[base + c]!);
    // A row of all -Infinity has no defined softmax; PyTorch gives NaN, and so do we.
    let total = 0;
    for (let c = 0; c < C; c++) total += Math.exp(x[base + c]! - max);
    if (log) {
      const logTotal = Math.log(total);
      for (let c = 0; c < C; c++) y[base + c] = x[base + c]! - max - logTotal;
    } else {
      const inv = 1 / total;
      for (let c = 0; c < C; c++) y[base + c] = Math.exp(x[base + c]! - max) * inv;
    }
  }
}

/**
 * softmax:     y = exp(x) / sum(exp(x))  =>  dx_i = y_i (dy_i - sum_j dy_j y_j)
 * log_softmax: y = x - logsumexp(x)      =>  dx_i = dy_i - exp(y_i) sum_j dy_j
 */
export function softmaxBackward(y: F, dy: F, dx: F, rows: number, C: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * C;
    let dot = 0;
    if (log) {
      for (let c = 0; c < C; c++) dot += dy[base + c]!;
      for (let c = 0; c < C; c++) dx[base + c] = dy[base + c]! - Math.exp(y[base + c]!) * dot;
    } else {
      for (let c = 0; c < C; c++) dot += dy[base + c]! * y[base + c]!;
      for (let c = 0; c < C; c++) dx[base + c] = y[base + c]! * (dy[base + c]! - dot);
    }
  }
}
