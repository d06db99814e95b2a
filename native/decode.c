/*
 * One KV-cached decode step of a pre-norm Llama-style block for one token (llama2.c's
 * `forward(pos)` loop body), in one call: the unfused block is ~17 tensor ops per layer,
 * each a JS dispatch, an allocation and (at 2 threads and more) a pool hand-over; a
 * stories15M-sized decode step spent about a third of its time there.
 *
 *   n = rmsnorm(x) * norm1
 *   q = rope(Wq n + bq), k = rope(Wk n + bk), v = Wv n + bv      k, v stored at `pos`
 *   x = x + (Wo attention(q, K[0..pos], V[0..pos]) + bo)
 *   m = rmsnorm(x) * norm2
 *   x = x + Wdown (silu(Wgate m) * (Wup m))
 *
 * Each step calls the very kernel the unfused op runs (this ISA's gemm with its GEMV
 * strategies, rmsnorm, rope, attention, unary), and the adds and products round once per
 * element as the binary kernel does, so the result equals the unfused block bit for bit
 * (src/backend/js/decode.ts is the reference; test/conformance/decode-layer.test.ts).
 *
 * Legend: C channels, nH query heads, nKV key/value heads, hs head size, maxT cache positions.
 */
#pragma GCC optimize("fp-contract=off")
#include "lmf.h"

#include <stdlib.h>
#include <string.h>

#define LMF_PROTOTYPE(c, ret, params) ret LMF_FN(c) params;
LMF_KERNEL_LIST(LMF_PROTOTYPE)
#undef LMF_PROTOTYPE

/* y (rows) = W (rows, cols) x (cols) + b, as nn.Linear's gemm(x, W^T) on one row then add. */
static void linear(const float *W, const float *b, const float *x, float *y, long rows, long cols) {
  lmf_gemm_params g = {.batch = 1,
                       .m = 1,
                       .n = rows,
                       .k = cols,
                       .transA = 0,
                       .transB = 1,
                       .lda = cols,
                       .ldb = cols,
                       .ldc = rows,
                       .alpha = 1.0f,
                       .beta = 0.0f};
  LMF_FN(lmf_gemm)(x, W, y, &g);
  if (b != NULL)
    for (long i = 0; i < rows; i++) y[i] = y[i] + b[i];
}

void LMF_FN(decode_layer)(float *x, float *keys, float *values, const lmf_decode_params *p) {
  const long C = p->C, nH = p->nH, nKV = p->nKV, hs = p->hs, hidden = p->hidden, maxT = p->maxT, pos = p->pos;
  const long qw = nH * hs, kvw = nKV * hs;
  /* n (C) | q0, q (nH hs) | k0, k, v (nKV hs) | y (nH hs) | lse (nH) | o (C) | gate, up (hidden) | rstd */
  const size_t floats = (size_t)(2 * C + 3 * qw + 3 * kvw + nH + 2 * hidden + 1);
  float *s = lmf_scratch(4, floats);
  if (s == NULL) abort();
  float *n = s, *q0 = n + C, *q = q0 + qw, *k0 = q + qw, *k = k0 + kvw, *v = k + kvw, *y = v + kvw;
  float *lse = y + qw, *o = lse + nH, *gate = o + C, *up = gate + hidden, *rstd = up + hidden;

  /* attention */
  LMF_FN(rmsnorm_forward)(x, p->norm1, n, rstd, 1, C, p->eps);
  linear(p->wq, p->bq, n, q0, qw, C);
  LMF_FN(rope)(q0, p->cos, p->sin, q, nH, 1, hs, pos, 0); /* (nH, 1, hs) */
  linear(p->wk, p->bk, n, k0, kvw, C);
  LMF_FN(rope)(k0, p->cos, p->sin, k, nKV, 1, hs, pos, 0); /* (nKV, 1, hs) */
  linear(p->wv, p->bv, n, v, kvw, C);
  for (long h = 0; h < nKV; h++) {
    memcpy(keys + (h * maxT + pos) * hs, k + h * hs, (size_t)hs * sizeof(float));
    memcpy(values + (h * maxT + pos) * hs, v + h * hs, (size_t)hs * sizeof(float));
  }
  lmf_attn_params a = {.B = 1,
                       .nH = nH,
                       .nKV = nKV,
                       .Tq = 1,
                       .Tk = maxT,
                       .hs = hs,
                       .scale = p->scale,
                       .causal = 1,
                       .causalOffset = pos, /* query 0 sees keys 0..pos */
                       .mask = NULL};
  LMF_FN(attention_forward)(q, keys, values, y, lse, &a);
  linear(p->wo, p->bo, y, o, C, qw);
  for (long i = 0; i < C; i++) x[i] = x[i] + o[i];

  /* MLP (SwiGLU) */
  LMF_FN(rmsnorm_forward)(x, p->norm2, n, rstd, 1, C, p->eps);
  linear(p->wGate, NULL, n, gate, hidden, C);
  LMF_FN(unary)(LMF_SILU, gate, gate, hidden);
  linear(p->wUp, NULL, n, up, hidden, C);
  for (long i = 0; i < hidden; i++) gate[i] = gate[i] * up[i];
  linear(p->wDown, NULL, gate, o, C, hidden);
  for (long i = 0; i < C; i++) x[i] = x[i] + o[i];
}
