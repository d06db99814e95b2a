/*
 * Fused scaled-dot-product attention, forward and backward, flash-attention style (Dao et
 * al., 2022; FlashAttention-2's loop order for the backward): scores are computed one
 * (query tile x key tile) block at a time with an online softmax, so no (Tq, Tk) matrix
 * exists beyond a KT-wide row of one tile. Causal masking with an offset (KV cache),
 * an additive mask read through strides, and grouped-query heads. Same semantics as
 * src/backend/js/attention.ts: a fully masked row gives out 0 and lse -inf.
 *
 * Legend: B batch, nH query heads, nKV key/value heads (query head h reads kv head
 * h / (nH / nKV)), Tq query length, Tk key length, hs head size.
 * Layouts: q, out, dout, dq (B, nH, Tq, hs); k, v, dk, dv (B, nKV, Tk, hs); lse (B, nH, Tq).
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

#define QT 16 /* query rows per tile: K and V tiles are reused this many times from L1 */
#define KT 64 /* keys per tile */

/* keys j < key_limit(i) are visible to query i */
static long key_limit(const lmf_attn_params *p, long i) {
  if (!p->causal) return p->Tk;
  long lim = i + p->causalOffset + 1;
  return lim < 0 ? 0 : lim > p->Tk ? p->Tk : lim;
}

static const float *mask_row(const lmf_attn_params *p, long b, long h, long i) {
  if (p->mask == NULL) return NULL;
  return p->mask + p->maskOffset + b * p->maskStrideB + h * p->maskStrideH + i * p->maskStrideQ;
}

/* s[j - j0] = scale * q . k_j + mask[j] for j in [j0, j1) */
static void scores(const float *q, const float *k, long hs, long j0, long j1, float scale, const float *mrow,
                   float *s) {
  for (long j = j0; j < j1; j++) s[j - j0] = dotf(q, k + j * hs, hs) * scale;
  if (mrow != NULL)
    for (long j = j0; j < j1; j++) s[j - j0] += mrow[j];
}

/* y[0..n) += a * x[0..n) */
static inline void axpy(float *restrict y, float a, const float *restrict x, long n) {
  for (long d = 0; d < n; d++) y[d] += a * x[d];
}

/* ---- forward ---------------------------------------------------------------------------- */

typedef struct {
  const float *q, *k, *v;
  float *out, *lse;
  const lmf_attn_params *p;
  long qtiles;
} attn_job;

/* One task: query tile (b, h, rows [i0, i0 + QT)). Running max m, sum l and unnormalised
 * output acc per row; each key tile rescales them by exp(m_old - m_new). */
static void forward_task(void *ctx, long task, int tid) {
  (void)tid;
  const attn_job *J = ctx;
  const lmf_attn_params *p = J->p;
  long hs = p->hs, Tq = p->Tq, group = p->nH / p->nKV;
  long bh = task / J->qtiles, i0 = task % J->qtiles * QT;
  long b = bh / p->nH, h = bh % p->nH;
  long i1 = i0 + QT < Tq ? i0 + QT : Tq;
  const float *k = J->k + (b * p->nKV + h / group) * p->Tk * hs;
  const float *v = J->v + (b * p->nKV + h / group) * p->Tk * hs;
  float *acc = lmf_scratch(0, (size_t)(QT * hs));
  if (acc == NULL) abort();
  float m[QT], l[QT], s[KT] __attribute__((aligned(64)));
  long lim_max = 0;
  for (long i = i0; i < i1; i++) {
    m[i - i0] = -INFINITY;
    l[i - i0] = 0;
    long lim = key_limit(p, i);
    lim_max = lim > lim_max ? lim : lim_max;
  }
  memset(acc, 0, (size_t)(QT * hs) * 4);
  for (long j0 = 0; j0 < lim_max; j0 += KT) {
    for (long i = i0; i < i1; i++) {
      long r = i - i0, lim = key_limit(p, i);
      long j1 = j0 + KT < lim ? j0 + KT : lim;
      if (j1 <= j0) continue;
      const float *q = J->q + ((b * p->nH + h) * Tq + i) * hs;
      scores(q, k, hs, j0, j1, p->scale, mask_row(p, b, h, i), s);
      long w = j1 - j0;
      float mt = -INFINITY;
      for (long j = 0; j < w; j++) mt = s[j] > mt ? s[j] : mt;
      if (mt == -INFINITY) continue; /* every key of this tile masked */
      float mn = mt > m[r] ? mt : m[r];
      float corr = m[r] == -INFINITY ? 0.0f : lmf_expf(m[r] - mn);
      VMAP1(w, s, s, vexp(X - mn)); /* exp(-inf - mn) = 0 for masked keys */
      float *a = acc + r * hs;
      if (corr != 1.0f)
        for (long d = 0; d < hs; d++) a[d] *= corr;
      float sum = 0;
      for (long j = 0; j < w; j++) {
        sum += s[j];
        if (s[j] != 0) axpy(a, s[j], v + (j0 + j) * hs, hs);
      }
      l[r] = l[r] * corr + sum;
      m[r] = mn;
    }
  }
  for (long i = i0; i < i1; i++) {
    long r = i - i0, row = (b * p->nH + h) * Tq + i;
    float *o = J->out + row * hs;
    if (l[r] == 0) {
      memset(o, 0, (size_t)hs * 4);
      J->lse[row] = -INFINITY;
      continue;
    }
    float inv = 1.0f / l[r];
    for (long d = 0; d < hs; d++) o[d] = acc[r * hs + d] * inv;
    J->lse[row] = m[r] + logf(l[r]);
  }
}

void LMF_FN(attention_forward)(const float *q, const float *k, const float *v, float *out, float *lse,
                               const lmf_attn_params *p) {
  if (p->B <= 0 || p->nH <= 0 || p->Tq <= 0 || p->hs <= 0) return;
  attn_job J = {q, k, v, out, lse, p, (p->Tq + QT - 1) / QT};
  lmf_parallel(p->B * p->nH * J.qtiles, forward_task, &J);
}

/* ---- backward ---------------------------------------------------------------------------- */

typedef struct {
  const float *q, *k, *v, *out, *lse, *dout;
  float *dq, *dk, *dv;
  const lmf_attn_params *p;
} attn_back_job;

/*
 * Forward per row i: s_j = scale q_i.k_j + mask_ij, P_j = exp(s_j - lse_i), O_i = sum_j P_j v_j.
 *   dv_j += P_j dO_i
 *   dP_j  = dO_i . v_j
 *   dS_j  = P_j (dP_j - D_i),  D_i = sum_j P_j dP_j = dO_i . O_i   (softmax backward)
 *   dq_i += scale dS_j k_j;   dk_j += scale dS_j q_i
 * One task per (b, kv head) owns dk and dv of that head (summed over its query heads and
 * rows), so no two threads add into the same gradient. Key tiles run outermost so that the
 * tile's dk and dv stay in L1 while every query row visits them.
 */
static void backward_task(void *ctx, long task, int tid) {
  (void)tid;
  const attn_back_job *J = ctx;
  const lmf_attn_params *p = J->p;
  long hs = p->hs, Tq = p->Tq, Tk = p->Tk, group = p->nH / p->nKV;
  long b = task / p->nKV, kvh = task % p->nKV;
  const float *k = J->k + (b * p->nKV + kvh) * Tk * hs;
  const float *v = J->v + (b * p->nKV + kvh) * Tk * hs;
  float *dk = J->dk + (b * p->nKV + kvh) * Tk * hs;
  float *dv = J->dv + (b * p->nKV + kvh) * Tk * hs;
  memset(dk, 0, (size_t)(Tk * hs) * 4);
  memset(dv, 0, (size_t)(Tk * hs) * 4);
  float *D = lmf_scratch(0, (size_t)Tq);
  if (D == NULL) abort();
  float P[KT] __attribute__((aligned(64))), dS[KT] __attribute__((aligned(64)));
  for (long h = kvh * group; h < (kvh + 1) * group; h++) {
    long base = (b * p->nH + h) * Tq;
    memset(J->dq + base * hs, 0, (size_t)(Tq * hs) * 4);
    for (long i = 0; i < Tq; i++) D[i] = dotf(J->dout + (base + i) * hs, J->out + (base + i) * hs, hs);
    for (long j0 = 0; j0 < Tk; j0 += KT) {
      for (long i = 0; i < Tq; i++) {
        float lse = J->lse[base + i];
        if (lse == -INFINITY) continue; /* fully masked row: its output was the constant 0 */
        long lim = key_limit(p, i), j1 = j0 + KT < lim ? j0 + KT : lim;
        if (j1 <= j0) continue;
        long w = j1 - j0;
        const float *q = J->q + (base + i) * hs, *dO = J->dout + (base + i) * hs;
        float *dq = J->dq + (base + i) * hs;
        scores(q, k, hs, j0, j1, p->scale, mask_row(p, b, h, i), P);
        VMAP1(w, P, P, vexp(X - lse));
        for (long j = 0; j < w; j++) {
          if (P[j] == 0) {
            dS[j] = 0;
            continue;
          }
          float dP = dotf(dO, v + (j0 + j) * hs, hs);
          dS[j] = P[j] * (dP - D[i]) * p->scale;
          axpy(dv + (j0 + j) * hs, P[j], dO, hs);
        }
        for (long j = 0; j < w; j++) {
          if (dS[j] == 0) continue;
          axpy(dq, dS[j], k + (j0 + j) * hs, hs);
          axpy(dk + (j0 + j) * hs, dS[j], q, hs);
        }
      }
    }
  }
}

void LMF_FN(attention_backward)(const float *q, const float *k, const float *v, const float *out,
                                const float *lse, const float *dout, float *dq, float *dk, float *dv,
                                const lmf_attn_params *p) {
  if (p->B <= 0 || p->nKV <= 0 || p->hs <= 0) return;
  attn_back_job J = {q, k, v, out, lse, dout, dq, dk, dv, p};
  lmf_parallel(p->B * p->nKV, backward_task, &J);
}
