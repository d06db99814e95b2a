/**
 * Reference scaled dot-product attention, flash-attention style (Dao et al., 2022):
 * one pass over the keys per query row with an online softmax (running max and sum), so
 * no (Tq, Tk) score matrix is ever stored. The forward saves lse = logsumexp of each
 * row's scores; the backward recomputes each probability as exp(s - lse).
 *
 * Legend: B batch, nH query heads, nKV key/value heads (query head h reads kv head
 * h / (nH / nKV)), Tq query length, Tk key length, hs head size.
 * Layouts: q, out, dout, dq (B, nH, Tq, hs); k, v, dk, dv (B, nKV, Tk, hs); lse (B, nH, Tq).
 *
 * Attention dropout multiplies each probability by Z_ij (0 or 1 / (1 - p), from the
 * counter-based mask in src/tensor/ops/attention-dropout.ts) after the softmax: the
 * normaliser and lse use every key, the output sums Z_ij P_ij v_j.
 */
import type { AttentionParams, F } from '../../tensor/backend.js';
import { dropKeepScale, dropRowKey, dropThreshold, isDropped } from '../../tensor/ops/attention-dropout.js';

/** Number of keys query i may see (keys j < limit), from the causal rule. */
function keyLimit(p: AttentionParams, i: number): number {
  return p.causal ? Math.max(0, Math.min(p.Tk, i + p.causalOffset + 1)) : p.Tk;
}

/** s = scale * q_i . k_j + mask[b, h, i, j]. */
function score(
  q: F,
  k: F,
  qBase: number,
  kBase: number,
  hs: number,
  p: AttentionParams,
  maskRow: number,
  j: number,
): number {
  let dot = 0;
  for (let d = 0; d < hs; d++) dot += q[qBase + d]! * k[kBase + d]!;
  return dot * p.scale + (p.mask === null ? 0 : p.mask[maskRow + j]!);
}

function maskRowOffset(p: AttentionParams, b: number, h: number, i: number): number {
  return p.maskOffset + b * p.maskStrideB + h * p.maskStrideH + i * p.maskStrideQ;
}

/** Z_ij for key j of a row: 0 when dropped, keep = 1 / (1 - p) otherwise (1 without dropout). */
function dropFactor(p: AttentionParams, rowKey: number, j: number, threshold: number, keep: number): number {
  return p.dropout === 0 ? 1 : isDropped(rowKey, j, threshold) ? 0 : keep;
}

/** out (B, nH, Tq, hs) = dropout(softmax(scores)) @ V per row; lse (B, nH, Tq). A fully masked row gives out 0, lse -Infinity. */
export function attentionForward(q: F, k: F, v: F, out: F, lse: F, p: AttentionParams): void {
  const { B, nH, nKV, Tq, Tk, hs } = p;
  const group = nH / nKV;
  const acc = new Float64Array(hs);
  const threshold = dropThreshold(p.dropout);
  const keep = dropKeepScale(p.dropout);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nH; h++) {
      const kvBase = (b * nKV + Math.floor(h / group)) * Tk * hs;
      for (let i = 0; i < Tq; i++) {
        const row = (b * nH + h) * Tq + i;
        const qBase = row * hs;
        const maskRow = maskRowOffset(p, b, h, i);
        const rowKey = dropRowKey(p.dropoutSeed, row);
        let max = -Infinity;
        let total = 0;
        acc.fill(0);
        const limit = keyLimit(p, i);
        for (let j = 0; j < limit; j++) {
          const s = score(q, k, qBase, kvBase + j * hs, hs, p, maskRow, j);
          if (s === -Infinity) continue;
          const vBase = kvBase + j * hs;
          const z = dropFactor(p, rowKey, j, threshold, keep);
          if (s > max) {
            // New running max: rescale what was accumulated under the old one.
            const correction = Math.exp(max - s);
            total = total * correction + 1;
            for (let d = 0; d < hs; d++) acc[d] = acc[d]! * correction + z * v[vBase + d]!;
            max = s;
          } else {
            const weight = Math.exp(s - max);
            total += weight;
            const zw = z * weight;
            for (let d = 0; d < hs; d++) acc[d] += zw * v[vBase + d]!;
          }
        }
        if (total === 0) {
          // Every key masked: define the output as 0 (softmax over nothing), not NaN.
          out.fill(0, qBase, qBase + hs);
          lse[row] = -Infinity;
          continue;
        }
        for (let d = 0; d < hs; d++) out[qBase + d] = acc[d]! / total;
        lse[row] = max + Math.log(total);
      }
    }
  }
}

/**
 * Forward per row i: s_j = scale q_i.k_j + mask_ij, P_j = exp(s_j - lse_i), O_i = sum_j Z_j P_j v_j
 * (Z_j the dropout factor, 1 without dropout).
 *   dv_j += Z_j P_j dO_i
 *   dP_j  = Z_j (dO_i . v_j)                               (gradient wrt P_j)
 *   dS_j  = P_j (dP_j - D_i),  D_i = sum_j P_j dP_j = dO_i . O_i   (softmax backward)
 *   dq_i += scale dS_j k_j;   dk_j += scale dS_j q_i
 * dk and dv sum over the query heads of a group and over rows, so they are zeroed first.
 */
export function attentionBackward(
  q: F,
  k: F,
  v: F,
  out: F,
  lse: F,
  dout: F,
  dq: F,
  dk: F,
  dv: F,
  p: AttentionParams,
): void {
  const { B, nH, nKV, Tq, Tk, hs } = p;
  const group = nH / nKV;
  dq.fill(0, 0, B * nH * Tq * hs);
  dk.fill(0, 0, B * nKV * Tk * hs);
  dv.fill(0, 0, B * nKV * Tk * hs);
  const threshold = dropThreshold(p.dropout);
  const keep = dropKeepScale(p.dropout);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nH; h++) {
      const kvBase = (b * nKV + Math.floor(h / group)) * Tk * hs;
      for (let i = 0; i < Tq; i++) {
        const row = (b * nH + h) * Tq + i;
        const qBase = row * hs;
        const rowLse = lse[row]!;
        if (rowLse === -Infinity) continue; // fully masked row: output was constant 0
        let D = 0;
        for (let d = 0; d < hs; d++) D += dout[qBase + d]! * out[qBase + d]!;
        const maskRow = maskRowOffset(p, b, h, i);
        const rowKey = dropRowKey(p.dropoutSeed, row);
        const limit = keyLimit(p, i);
        for (let j = 0; j < limit; j++) {
          const jBase = kvBase + j * hs;
          const s = score(q, k, qBase, jBase, hs, p, maskRow, j);
          if (s === -Infinity) continue;
          const P = Math.exp(s - rowLse);
          const z = dropFactor(p, rowKey, j, threshold, keep);
          const zP = z * P;
          let dP = 0;
          for (let d = 0; d < hs; d++) {
            dP += dout[qBase + d]! * v[jBase + d]!;
            dv[jBase + d] += zP * dout[qBase + d]!;
          }
          const dS = P * (z * dP - D) * p.scale;
          for (let d = 0; d < hs; d++) {
            dq[qBase + d] += dS * k[jBase + d]!;
            dk[jBase + d] += dS * q[qBase + d]!;
          }
        }
      }
    }
  }
}
