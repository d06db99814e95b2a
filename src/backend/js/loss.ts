/**
 * Reference fused cross-entropy over logits (rows, V): the loss and logsumexp per row in
 * one pass, and the gradient recomputed from the saved logsumexp (no probability buffer).
 * Label smoothing follows torch.nn.functional.cross_entropy: the target distribution is
 * q = (1 - eps) onehot(t) + eps / V.
 * Legend: V vocab (classes), rows = number of predictions.
 */
import type { F } from '../../tensor/backend.js';

/**
 * loss_r = -sum_j q_j log p_j = lse - (1 - eps) x_t - (eps / V) sum_j x_j,
 * because log p_j = x_j - lse and sum_j q_j = 1. Ignored rows: loss 0 (lse still saved).
 */
export function crossEntropyForward(
  logits: F,
  targets: Int32Array,
  losses: F,
  lse: F,
  rows: number,
  V: number,
  ignoreIndex: number,
  labelSmoothing: number,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * V;
    let max = -Infinity;
    let total = 0;
    for (let j = 0; j < V; j++) max = Math.max(max, logits[base + j]!);
    for (let j = 0; j < V; j++) total += Math.exp(logits[base + j]! - max);
    const logSumExp = max + Math.log(total);
    lse[r] = logSumExp;
    const t = targets[r]!;
    if (t === ignoreIndex) {
      losses[r] = 0;
      continue;
    }
    let loss = logSumExp - (1 - labelSmoothing) * logits[base + t]!;
    if (labelSmoothing !== 0) {
      let sum = 0;
      for (let j = 0; j < V; j++) sum += logits[base + j]!;
      loss -= (labelSmoothing / V) * sum;
    }
    losses[r] = loss;
  }
}

/** d loss_r / d x_j = p_j - q_j with p_j = exp(x_j - lse); scaled by dlosses[r]. */
export function crossEntropyBackward(
  logits: F,
  targets: Int32Array,
  lse: F,
  dlosses: F,
  dlogits: F,
  rows: number,
  V: number,
  ignoreIndex: number,
  labelSmoothing: number,
): void {
  const uniform = labelSmoothing / V;
  for (let r = 0; r < rows; r++) {
    const base = r * V;
    const t = targets[r]!;
    if (t === ignoreIndex) {
      dlogits.fill(0, base, base + V);
      continue;
    }
    const scale = dlosses[r]!;
    const logSumExp = lse[r]!;
    for (let j = 0; j < V; j++) {
      dlogits[base + j] = (Math.exp(logits[base + j]! - logSumExp) - uniform) * scale;
    }
    dlogits[base + t] -= (1 - labelSmoothing) * scale;
  }
}
