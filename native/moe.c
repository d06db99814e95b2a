/*
 * Mixture-of-experts routing and data movement (the grouped GEMM itself is in gemm.c, beside
 * the blocked product it reuses): the router's top-k choice and gates (forward and backward),
 * token rows to expert rows and back weighted by the gates, and the gates' gradient there. Same semantics as src/backend/js/moe.ts.
 *
 * Every loop runs over tokens: token n owns its k assignments a = n * k + j and their slots
 * (rows among the R expert rows), and the slots of different tokens are distinct, so tokens
 * run in parallel with no two threads writing one row.
 *
 * Legend: N tokens, E experts, k experts per token, C row width, R expert rows.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

/* tokens per task: at least ~16K elements of work */
static long token_grain(long C) { return (1L << 14) / (C > 0 ? C : 1) + 1; }

/* ---- top-k ---------------------------------------------------------------------------- */

typedef struct {
  const float *logits;
  int32_t *indices;
  long E, k;
} topk_job;

/* (va, a) before (vb, b): the larger first, NaN the largest, ties by the lower index */
static int before(float va, long a, float vb, long b) {
  int nan_a = va != va, nan_b = vb != vb;
  if (nan_a || nan_b) return nan_a && (!nan_b || a < b);
  return va > vb || (va == vb && a < b);
}

/* each pick is the first expert in that order after the previous pick: no "taken" set */
static void topk_rows(void *ctx, long lo, long hi) {
  const topk_job *j = ctx;
  for (long n = lo; n < hi; n++) {
    const float *row = j->logits + n * j->E;
    long previous = -1;
    for (long s = 0; s < j->k; s++) {
      long best = -1;
      for (long e = 0; e < j->E; e++) {
        if (previous >= 0 && !before(row[previous], previous, row[e], e)) continue;
        if (best < 0 || before(row[e], e, row[best], best)) best = e;
      }
      j->indices[n * j->k + s] = (int32_t)best;
      previous = best;
    }
  }
}

void LMF_FN(moe_topk)(const float *logits, int32_t *indices, long N, long E, long k) {
  topk_job j = {logits, indices, E, k};
  lmf_parallel_range(N, (1L << 14) / (E * k > 0 ? E * k : 1) + 1, topk_rows, &j);
}

/* ---- gates ------------------------------------------------------------------------------ */

typedef struct {
  const float *logits, *gates, *dgates;
  const int32_t *indices;
  float *out;
  long E, k;
  int chosen;
} gates_job;

/* p = softmax(row) over E, max-shifted, in float (E of scratch) */
static void softmax_row(const float *row, long E, float *p) {
  float max = row[0];
  for (long e = 1; e < E; e++) max = row[e] > max ? row[e] : max;
  float total = 0;
  for (long e = 0; e < E; e++) total += p[e] = expf(row[e] - max);
  for (long e = 0; e < E; e++) p[e] /= total;
}

/* chosen: softmax over the k chosen logits; else softmax over all E at the chosen experts */
static void gates_rows(void *ctx, long lo, long hi) {
  const gates_job *j = ctx;
  float *p = lmf_scratch(0, (size_t)(j->E > j->k ? j->E : j->k));
  if (p == NULL) abort();
  for (long n = lo; n < hi; n++) {
    const float *row = j->logits + n * j->E;
    const int32_t *idx = j->indices + n * j->k;
    float *g = j->out + n * j->k;
    if (!j->chosen) {
      softmax_row(row, j->E, p);
      for (long s = 0; s < j->k; s++) g[s] = p[idx[s]];
      continue;
    }
    float max = row[idx[0]];
    for (long s = 1; s < j->k; s++) max = row[idx[s]] > max ? row[idx[s]] : max;
    float total = 0;
    for (long s = 0; s < j->k; s++) total += p[s] = expf(row[idx[s]] - max);
    for (long s = 0; s < j->k; s++) g[s] = p[s] / total;
  }
}

/* chosen: dl_S = g (dg - <dg, g>), 0 elsewhere; else dl = p (dp - <dg, g>), dp = dg at S */
static void gates_backward_rows(void *ctx, long lo, long hi) {
  const gates_job *j = ctx;
  float *p = lmf_scratch(0, (size_t)j->E);
  if (p == NULL) abort();
  for (long n = lo; n < hi; n++) {
    const int32_t *idx = j->indices + n * j->k;
    const float *g = j->gates + n * j->k, *dg = j->dgates + n * j->k;
    float *dl = j->out + n * j->E;
    float dot = 0;
    for (long s = 0; s < j->k; s++) dot += dg[s] * g[s];
    if (j->chosen) {
      memset(dl, 0, (size_t)j->E * 4);
      for (long s = 0; s < j->k; s++) dl[idx[s]] += g[s] * (dg[s] - dot);
      continue;
    }
    softmax_row(j->logits + n * j->E, j->E, p);
    for (long e = 0; e < j->E; e++) dl[e] = -p[e] * dot;
    for (long s = 0; s < j->k; s++) dl[idx[s]] += p[idx[s]] * dg[s];
  }
}

void LMF_FN(moe_gates)(const float *logits, const int32_t *indices, float *gates, long N, long E, long k,
                       int chosen) {
  gates_job j = {logits, NULL, NULL, indices, gates, E, k, chosen};
  lmf_parallel_range(N, token_grain(E + k), gates_rows, &j);
}

void LMF_FN(moe_gates_backward)(const float *logits, const int32_t *indices, const float *gates, const float *dgates,
                                float *dlogits, long N, long E, long k, int chosen) {
  gates_job j = {logits, gates, dgates, indices, dlogits, E, k, chosen};
  lmf_parallel_range(N, token_grain(E + k), gates_backward_rows, &j);
}

/* ---- dispatch and combine ----------------------------------------------------------------- */

typedef struct {
  const float *src, *weights, *dout;
  const int32_t *slots;
  float *out;
  long k, C;
} moe_job;

/* out[slots[a]] = w[a] * x[n] */
static void dispatch_tokens(void *ctx, long lo, long hi) {
  const moe_job *j = ctx;
  long C = j->C;
  for (long n = lo; n < hi; n++) {
    const float *x = j->src + n * C;
    for (long s = 0; s < j->k; s++) {
      long a = n * j->k + s, slot = j->slots[a];
      if (slot < 0) continue;
      float *y = j->out + slot * C;
      if (j->weights == NULL) {
        memcpy(y, x, (size_t)C * 4);
        continue;
      }
      vf w = vsplat(j->weights[a]);
      long c = 0;
      for (; c + VW <= C; c += VW) vstore(y + c, w * vload(x + c));
      for (; c < C; c++) y[c] = j->weights[a] * x[c];
    }
  }
}

/* out[n] = sum_j w[a] * src[slots[a]] */
static void combine_tokens(void *ctx, long lo, long hi) {
  const moe_job *j = ctx;
  long C = j->C;
  for (long n = lo; n < hi; n++) {
    float *y = j->out + n * C;
    memset(y, 0, (size_t)C * 4);
    for (long s = 0; s < j->k; s++) {
      long a = n * j->k + s, slot = j->slots[a];
      if (slot < 0) continue;
      const float *x = j->src + slot * C;
      float w1 = j->weights == NULL ? 1.0f : j->weights[a];
      vf w = vsplat(w1);
      long c = 0;
      for (; c + VW <= C; c += VW) vstore(y + c, vload(y + c) + w * vload(x + c));
      for (; c < C; c++) y[c] += w1 * x[c];
    }
  }
}

/* dweights[a] = dot(dout[n], src[slots[a]]) */
static void gate_grad_tokens(void *ctx, long lo, long hi) {
  const moe_job *j = ctx;
  long C = j->C;
  for (long n = lo; n < hi; n++) {
    const float *d = j->dout + n * C;
    for (long s = 0; s < j->k; s++) {
      long a = n * j->k + s, slot = j->slots[a];
      if (slot < 0) {
        j->out[a] = 0;
        continue;
      }
      const float *x = j->src + slot * C;
      vf acc = {0};
      long c = 0;
      for (; c + VW <= C; c += VW) acc += vload(d + c) * vload(x + c);
      float dot = vsum(acc);
      for (; c < C; c++) dot += d[c] * x[c];
      j->out[a] = dot;
    }
  }
}

void LMF_FN(moe_dispatch)(const float *x, const int32_t *slots, const float *weights, float *out, long N, long k,
                          long C, long R) {
  (void)R;
  moe_job j = {x, weights, NULL, slots, out, k, C};
  lmf_parallel_range(N, token_grain(k * C), dispatch_tokens, &j);
}

void LMF_FN(moe_combine)(const float *src, const int32_t *slots, const float *weights, float *out, long N, long k,
                         long C, long R) {
  (void)R;
  moe_job j = {src, weights, NULL, slots, out, k, C};
  lmf_parallel_range(N, token_grain(k * C), combine_tokens, &j);
}

void LMF_FN(moe_gate_grad)(const float *dout, const float *src, const int32_t *slots, float *dweights, long N,
                           long k, long C, long R) {
  (void)R;
  moe_job j = {src, NULL, dout, slots, dweights, k, C};
  lmf_parallel_range(N, token_grain(k * C), gate_grad_tokens, &j);
}
