/**
 * One KV-cached decode step of a pre-norm Llama-style block for one token (llama2.c's
 * `forward(pos)` loop body), written as the composition of the reference kernels the
 * unfused block runs, in the same order:
 *
 *   n = rmsnorm(x) * norm1
 *   q = rope(Wq n + bq), k = rope(Wk n + bk), v = Wv n + bv      k, v stored at `pos`
 *   x = x + (Wo attention(q, K[0..pos], V[0..pos]) + bo)
 *   m = rmsnorm(x) * norm2
 *   x = x + Wdown (silu(Wgate m) * (Wup m))
 *
 * Like every fused kernel, the native one (native/decode.c) equals this within float32
 * rounding (its GEMVs and norms sum in vector order) and the unfused blocks on its own
 * backend bit for bit; float64 runs in float64.
 *
 * Legend: C channels, nH query heads, nKV key/value heads, hs head size, maxT cache positions.
 */
import type { AttentionParams, DecodeLayerParams, F } from '../../tensor/backend.js';
import { attentionForward } from './attention.js';
import { gemm } from './gemm.js';
import { unary } from './elementwise.js';
import { rmsNormForward } from './norm.js';
import { rope } from './rope.js';

/** A new zeroed array of x's type. */
function like(x: F, n: number): F {
  return x instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
}

/** y (rows) = W (rows, cols) x (cols) + b: nn.Linear on one row, as gemm(x, W^T) then add. */
function linear(W: F, b: F | null, x: F, rows: number, cols: number): F {
  const y = like(x, rows);
  gemm(x, W, y, {
    batch: 1,
    m: 1,
    n: rows,
    k: cols,
    transA: false,
    transB: true,
    lda: cols,
    ldb: cols,
    ldc: rows,
    offsetA: 0,
    offsetB: 0,
    offsetC: 0,
    strideA: 0,
    strideB: 0,
    strideC: 0,
    alpha: 1,
    beta: 0,
  });
  if (b !== null) for (let i = 0; i < rows; i++) y[i] = y[i]! + b[i]!;
  return y;
}

function rmsNorm(x: F, w: F, C: number, eps: number): F {
  const y = like(x, C);
  rmsNormForward(x, w, y, like(x, 1), 1, C, eps);
  return y;
}

export function decodeLayer(x: F, keys: F, values: F, p: DecodeLayerParams): void {
  const { C, nH, nKV, hs, hidden, maxT, pos } = p;
  // attention
  const n = rmsNorm(x, p.norm1, C, p.eps); // (C)
  const q = like(x, nH * hs);
  rope(linear(p.wq, p.bq, n, nH * hs, C), p.cos, p.sin, q, nH, 1, hs, pos, false); // (nH, 1, hs)
  const k = like(x, nKV * hs);
  rope(linear(p.wk, p.bk, n, nKV * hs, C), p.cos, p.sin, k, nKV, 1, hs, pos, false); // (nKV, 1, hs)
  const v = linear(p.wv, p.bv, n, nKV * hs, C); // (nKV, 1, hs)
  for (let h = 0; h < nKV; h++) {
    const at = (h * maxT + pos) * hs; // keys / values (nKV, maxT, hs)
    for (let i = 0; i < hs; i++) {
      keys[at + i] = k[h * hs + i]!;
      values[at + i] = v[h * hs + i]!;
    }
  }
  const params: AttentionParams = {
    B: 1,
    nH,
    nKV,
    Tq: 1,
    Tk: maxT,
    hs,
    scale: p.scale,
    causal: true,
    causalOffset: pos, // query 0 sees keys 0..pos
    dropout: 0,
    dropoutSeed: 0,
    mask: null,
    maskStrideB: 0,
    maskStrideH: 0,
    maskStrideQ: 0,
    maskOffset: 0,
  };
  const y = like(x, nH * hs);
  attentionForward(q, keys, values, y, like(x, nH), params); // (nH, 1, hs)
  const o = linear(p.wo, p.bo, y, C, nH * hs); // (C)
  for (let i = 0; i < C; i++) x[i] = x[i]! + o[i]!;
  // MLP (SwiGLU)
  const m = rmsNorm(x, p.norm2, C, p.eps); // (C)
  const gate = linear(p.wGate, null, m, hidden, C); // (hidden)
  const act = like(x, hidden);
  unary('silu', gate, act, hidden);
  const up = linear(p.wUp, null, m, hidden, C); // (hidden)
  for (let i = 0; i < hidden; i++) act[i] = act[i]! * up[i]!;
  const down = linear(p.wDown, null, act, C, hidden); // (C)
  for (let i = 0; i < C; i++) x[i] = x[i]! + down[i]!;
}
