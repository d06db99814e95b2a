/**
 * Mixture-of-experts kernels (Shazeer et al., 2017, "Outrageously Large Neural Networks";
 * Fedus et al., 2021, Switch Transformers; Jiang et al., 2024, Mixtral): the router's top-k
 * choice, moving token rows into the expert-sorted layout and back (weighted by the gates),
 * and the grouped GEMM that runs every expert's product on its contiguous row group.
 *
 * Legend: N tokens, E experts, k experts per token, C row width, R expert rows (the
 * assignments kept, sorted by expert), G groups. Assignment a = n * k + j is token n's j-th
 * choice; slots[a] is its row among the R expert rows, or -1 when capacity dropped it.
 * These loops run once per kernel call over typed arrays: the ops call them, never per token.
 */
import type { F, GroupedGemmParams } from '../../tensor/backend.js';
import { gemm } from './gemm.js';

/** Whether (va, a) comes before (vb, b) in the top-k order: larger first, NaN largest, ties by index. */
function before(va: number, a: number, vb: number, b: number): boolean {
  const nanA = Number.isNaN(va);
  const nanB = Number.isNaN(vb);
  if (nanA || nanB) return nanA && (!nanB || a < b);
  return va > vb || (va === vb && a < b);
}

/**
 * indices (N, k): row n's k largest logits, largest first. Each pick is the first expert in
 * the order after the previous pick, so no "taken" set is needed.
 */
export function moeTopk(logits: F, indices: Int32Array, N: number, E: number, k: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * E;
    let previous = -1;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let e = 0; e < E; e++) {
        const v = logits[row + e]!;
        if (previous >= 0 && !before(logits[row + previous]!, previous, v, e)) continue;
        if (best < 0 || before(v, e, logits[row + best]!, best)) best = e;
      }
      indices[n * k + j] = best;
      previous = best;
    }
  }
}

/** out[slots[a]] = weights[a] * x[n] (x[n] without weights); slot -1 writes nothing. */
export function moeDispatch(
  x: F,
  slots: Int32Array,
  weights: F | null,
  out: F,
  N: number,
  k: number,
  C: number,
  _R: number,
): void {
  for (let a = 0; a < N * k; a++) {
    const slot = slots[a]!;
    if (slot < 0) continue;
    const w = weights === null ? 1 : weights[a]!;
    const src = Math.floor(a / k) * C;
    const dst = slot * C;
    for (let c = 0; c < C; c++) out[dst + c] = w * x[src + c]!;
  }
}

/** out[n] = sum_j weights[a] * src[slots[a]], a = n * k + j (weight 1 without weights). */
export function moeCombine(
  src: F,
  slots: Int32Array,
  weights: F | null,
  out: F,
  N: number,
  k: number,
  C: number,
  _R: number,
): void {
  for (let n = 0; n < N; n++) {
    const dst = n * C;
    for (let c = 0; c < C; c++) out[dst + c] = 0;
    for (let j = 0; j < k; j++) {
      const a = n * k + j;
      const slot = slots[a]!;
      if (slot < 0) continue;
      const w = weights === null ? 1 : weights[a]!;
      const row = slot * C;
      for (let c = 0; c < C; c++) out[dst + c] += w * src[row + c]!;
    }
  }
}

/** dweights[a] = dot(dout[n], src[slots[a]]), 0 for a dropped slot. */
export function moeGateGrad(
  dout: F,
  src: F,
  slots: Int32Array,
  dweights: F,
  N: number,
  k: number,
  C: number,
  _R: number,
): void {
  for (let a = 0; a < N * k; a++) {
    const slot = slots[a]!;
    let dot = 0;
    if (slot >= 0) {
      const d = Math.floor(a / k) * C;
      const s = slot * C;
      for (let c = 0; c < C; c++) dot += dout[d + c]! * src[s + c]!;
    }
    dweights[a] = dot;
  }
}

/** One reference GEMM per group (see GroupedGemmParams). */
export function groupedGemm(a: F, b: F, c: F, offsets: Int32Array, p: GroupedGemmParams): void {
  for (let g = 0; g < p.groups; g++) {
    const r0 = offsets[g]!;
    const rows = offsets[g + 1]! - r0;
    const common = { batch: 1, strideA: 0, strideB: 0, strideC: 0, alpha: p.alpha, beta: p.beta };
    if (p.inner) {
      // C_g (m, n) = A[rows_g]^T (m, rows) @ B[rows_g] (rows, n); no rows: beta * C_g.
      gemm(a, b, c, {
        ...common,
        m: p.m,
        n: p.n,
        k: rows,
        transA: true,
        transB: false,
        lda: p.lda,
        ldb: p.ldb,
        ldc: p.ldc,
        offsetA: p.offsetA + r0 * p.lda,
        offsetB: p.offsetB + r0 * p.ldb,
        offsetC: p.offsetC + g * p.strideC,
      });
    } else if (rows > 0) {
      gemm(a, b, c, {
        ...common,
        m: rows,
        n: p.n,
        k: p.k,
        transA: false,
        transB: p.transB,
        lda: p.lda,
        ldb: p.ldb,
        ldc: p.ldc,
        offsetA: p.offsetA + r0 * p.lda,
        offsetB: p.offsetB + g * p.strideB,
        offsetC: p.offsetC + r0 * p.ldc,
      });
    }
  }
}

/** Row n's softmax over all E into p (max-shifted). */
function softmaxRow(logits: F, row: number, E: number, p: Float64Array): void {
  let max = -Infinity;
  for (let e = 0; e < E; e++) max = Math.max(max, logits[row + e]!);
  let total = 0;
  for (let e = 0; e < E; e++) total += p[e] = Math.exp(logits[row + e]! - max);
  for (let e = 0; e < E; e++) p[e]! /= total;
}

/**
 * gates (N, k): with `chosen`, softmax over row n's k chosen logits (Mixtral; equal to HF's
 * softmax over all, top-k, renormalised); else the softmax over all E at the chosen experts.
 */
export function moeGates(
  logits: F,
  indices: Int32Array,
  gates: F,
  N: number,
  E: number,
  k: number,
  chosen: boolean,
): void {
  const p = new Float64Array(E);
  for (let n = 0; n < N; n++) {
    const row = n * E;
    const at = n * k;
    if (!chosen) {
      softmaxRow(logits, row, E, p);
      for (let j = 0; j < k; j++) gates[at + j] = p[indices[at + j]!]!;
      continue;
    }
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row + indices[at + j]!]!);
    let total = 0;
    for (let j = 0; j < k; j++) total += p[j] = Math.exp(logits[row + indices[at + j]!]! - max);
    for (let j = 0; j < k; j++) gates[at + j] = p[j]! / total;
  }
}

/**
 * g = softmax(l_S) => dl_S = g * (dg - <dg, g>), 0 off S (`chosen`); g = p_S with p =
 * softmax(l) => dl = p * (dp - <dp, p>), dp = dg scattered to S, and <dp, p> = <dg, g>.
 */
export function moeGatesBackward(
  logits: F,
  indices: Int32Array,
  gates: F,
  dgates: F,
  dlogits: F,
  N: number,
  E: number,
  k: number,
  chosen: boolean,
): void {
  const p = new Float64Array(E);
  for (let n = 0; n < N; n++) {
    const row = n * E;
    const at = n * k;
    let dot = 0;
    for (let j = 0; j < k; j++) dot += dgates[at + j]! * gates[at + j]!;
    if (chosen) {
      for (let e = 0; e < E; e++) dlogits[row + e] = 0;
      for (let j = 0; j < k; j++) dlogits[row + indices[at + j]!] += gates[at + j]! * (dgates[at + j]! - dot);
      continue;
    }
    softmaxRow(logits, row, E, p);
    for (let e = 0; e < E; e++) dlogits[row + e] = -p[e]! * dot;
    for (let j = 0; j < k; j++) dlogits[row + indices[at + j]!] += p[indices[at + j]!]! * dgates[at + j]!;
  }
}
