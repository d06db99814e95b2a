/*
 * Fused scaled-dot-product attention, forward and backward, flash-attention style (Dao et
 * al., 2022; FlashAttention-2's recomputation for the backward): scores are computed one
 * (row group x key tile) block at a time with an online softmax, so no (Tq, Tk) matrix
 * exists beyond an (RQ, KT) tile. Causal masking with an offset (KV cache), an additive
 * mask read through strides, grouped-query heads, and dropout on the probabilities from a
 * counter-based mask that the backward regenerates. Same semantics as
 * src/backend/js/attention.ts: a fully masked row gives out 0 and lse -inf.
 *
 * Legend: B batch, nH query heads, nKV key/value heads (query head h reads kv head
 * h / (nH / nKV)), Tq query length, Tk key length, hs head size, hsp hs rounded up to
 * the vector width, RQ query rows per register block, KT keys per tile.
 * Layouts: q, out, dout, dq (B, nH, Tq, hs); k, v, dk, dv (B, nKV, Tk, hs); lse (B, nH, Tq).
 *
 * Every product is a small register-blocked GEMM over packed tiles (tile_abt, tile_pv,
 * tile_ptd below): a task packs K (and V) of its head once, transposed to (hs, Tk), so
 * that scores for RQ query rows x 2 vectors of keys accumulate in registers with every K
 * load reused RQ times; P V and the key-gradient updates run vectorised over hs with RQ
 * rows (or RQ broadcasts) per loaded vector. Head sizes that are not a multiple of the
 * vector width are zero-padded in the packed copies.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

#if VW == 16
#define RQ 8 /* 8 rows x 2 vectors = 16 of AVX-512's 32 registers as accumulators */
#else
#define RQ 4 /* 4 x 2 = 8 of 16 registers */
#endif
#define KT 128 /* keys per tile: the (RQ, KT) score and probability tiles stay in L1 */
#define QB 64  /* query rows per forward task */

static inline long round_up(long x, long m) { return (x + m - 1) / m * m; }

/* keys j < key_limit(i) are visible to query i (non-decreasing in i) */
static long key_limit(const lmf_attn_params *p, long i) {
  if (!p->causal) return p->Tk;
  long lim = i + p->causalOffset + 1;
  return lim < 0 ? 0 : lim > p->Tk ? p->Tk : lim;
}

static const float *mask_row(const lmf_attn_params *p, long b, long h, long i) {
  if (p->mask == NULL) return NULL;
  return p->mask + p->maskOffset + b * p->maskStrideB + h * p->maskStrideH + i * p->maskStrideQ;
}

/* ---- tile products (R is a compile-time constant after inlining: RQ or 1) ---------------- */

/* s[r, j] = sum_d a[r, d] bt[d, j] for r < R, j < wv (a multiple of VW).
 * a (R, hs) rows lda; bt (hs, >= wv) rows ldb; s (R, wv) rows lds. */
static inline __attribute__((always_inline)) void tile_abt(int R, const float *a, long lda, const float *bt,
                                                           long ldb, long hs, long wv, float *s, long lds) {
  long j = 0;
  for (; j + 2 * VW <= wv; j += 2 * VW) {
    vf c0[RQ], c1[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) c0[r] = c1[r] = (vf){0};
    const float *b = bt + j;
    for (long d = 0; d < hs; d++, b += ldb) {
      vf b0 = vload(b), b1 = vload(b + VW);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        vf ar = vsplat(a[r * lda + d]);
        c0[r] += ar * b0;
        c1[r] += ar * b1;
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      vstore(s + r * lds + j, c0[r]);
      vstore(s + r * lds + j + VW, c1[r]);
    }
  }
  if (j < wv) {
    vf c0[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) c0[r] = (vf){0};
    const float *b = bt + j;
    for (long d = 0; d < hs; d++, b += ldb) {
      vf b0 = vload(b);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) c0[r] += vsplat(a[r * lda + d]) * b0;
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) vstore(s + r * lds + j, c0[r]);
  }
}

/* acc[r, :hsp] += sum_{j < w} p[r, j] v[j, :hsp] (hsp a multiple of VW; v rows ldv). */
static inline __attribute__((always_inline)) void tile_pv(int R, const float *p, long ldp, const float *v,
                                                          long ldv, long w, long hsp, float *acc, long lda) {
  long d = 0;
  for (; d + 2 * VW <= hsp; d += 2 * VW) {
    vf c0[RQ], c1[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      c0[r] = vload(acc + r * lda + d);
      c1[r] = vload(acc + r * lda + d + VW);
    }
    const float *vj = v + d;
    for (long j = 0; j < w; j++, vj += ldv) {
      vf v0 = vload(vj), v1 = vload(vj + VW);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        vf pr = vsplat(p[r * ldp + j]);
        c0[r] += pr * v0;
        c1[r] += pr * v1;
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      vstore(acc + r * lda + d, c0[r]);
      vstore(acc + r * lda + d + VW, c1[r]);
    }
  }
  if (d < hsp) {
    vf c0[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) c0[r] = vload(acc + r * lda + d);
    const float *vj = v + d;
    for (long j = 0; j < w; j++, vj += ldv) {
      vf v0 = vload(vj);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) c0[r] += vsplat(p[r * ldp + j]) * v0;
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) vstore(acc + r * lda + d, c0[r]);
  }
}

/* out[j, :hsp] += sum_{r < R} p[r, j] x[r, :hsp] for j < w: the R rows of x stay in registers
 * while the w output rows stream through L1 (two partial sums halve the dependency chain). */
static inline __attribute__((always_inline)) void tile_ptd(int R, const float *p, long ldp, const float *x,
                                                           long ldx, long w, long hsp, float *out, long ldo) {
  long d = 0;
  for (; d + 2 * VW <= hsp; d += 2 * VW) {
    vf x0[RQ], x1[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
      x0[r] = vload(x + r * ldx + d);
      x1[r] = vload(x + r * ldx + d + VW);
    }
    float *oj = out + d;
    for (long j = 0; j < w; j++, oj += ldo) {
      vf e0 = vload(oj), e1 = vload(oj + VW), f0 = {0}, f1 = {0};
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        vf pr = vsplat(p[r * ldp + j]);
        if (r & 1) {
          f0 += pr * x0[r];
          f1 += pr * x1[r];
        } else {
          e0 += pr * x0[r];
          e1 += pr * x1[r];
        }
      }
      vstore(oj, e0 + f0);
      vstore(oj + VW, e1 + f1);
    }
  }
  if (d < hsp) {
    vf x0[RQ];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) x0[r] = vload(x + r * ldx + d);
    float *oj = out + d;
    for (long j = 0; j < w; j++, oj += ldo) {
      vf e0 = vload(oj), f0 = {0};
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) {
        if (r & 1)
          f0 += vsplat(p[r * ldp + j]) * x0[r];
        else
          e0 += vsplat(p[r * ldp + j]) * x0[r];
      }
      vstore(oj, e0 + f0);
    }
  }
}

/* ---- packing ----------------------------------------------------------------------------- */

/* dst[d * ld + j] = src[j * hs + d] for j < n, zero for n <= j < ld (the transposed tile
 * columns past the last key must be finite: they are multiplied, then masked to -inf). */
static void pack_transposed(const float *src, long n, long hs, float *dst, long ld) {
  for (long d = 0; d < hs; d++) memset(dst + d * ld + n, 0, (size_t)(ld - n) * 4);
  long j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *s0 = src + j * hs;
    for (long d = 0; d < hs; d++) {
      float *o = dst + d * ld + j;
      o[0] = s0[d];
      o[1] = s0[hs + d];
      o[2] = s0[2 * hs + d];
      o[3] = s0[3 * hs + d];
    }
  }
  for (; j < n; j++)
    for (long d = 0; d < hs; d++) dst[d * ld + j] = src[j * hs + d];
}

/* dst (n, hsp) = src (n, hs) zero-padded; scale multiplies every element */
static void pack_rows(const float *src, long n, long hs, long hsp, float scale, float *dst) {
  for (long j = 0; j < n; j++) {
    float *o = dst + j * hsp;
    for (long d = 0; d < hs; d++) o[d] = src[j * hs + d] * scale;
    for (long d = hs; d < hsp; d++) o[d] = 0;
  }
}

/* Prefetches [p, p + floats) into L2. A task's head is a few KB of each of q, k, v (and out,
 * dout): streams too short for the hardware prefetcher, so each task asks for the next
 * task's head while it computes its own (cold-cache backward 0.50 -> 0.33 ms at 12x4x64x32). */
#define PREFETCH_AHEAD 1

static void prefetch_range(const float *p, long floats) {
  for (long i = 0; i < floats; i += 16) __builtin_prefetch(p + i, 0, 2);
}

/* the same for lines about to be written (fetched in the exclusive state) */
static void prefetch_write(float *p, long floats) {
  for (long i = 0; i < floats; i += 16) __builtin_prefetch(p + i, 1, 2);
}

/* Carves 64-byte aligned pieces out of one scratch buffer. */
typedef struct {
  float *base;
  size_t used;
} arena;

static float *take(arena *a, long floats) {
  float *p = a->base + a->used;
  a->used += (size_t)round_up(floats > 0 ? floats : 1, 16);
  return p;
}

static size_t need(long floats) { return (size_t)round_up(floats > 0 ? floats : 1, 16); }

/*
 * Masks one score row in place: adds the additive mask to the `valid` visible keys and sets
 * every later column up to wv to -inf. Returns the row max over the visible keys (-inf when
 * none is visible or every one is masked).
 */
static float mask_scores(float *s, long valid, long wv, const float *mrow) {
  if (mrow != NULL)
    for (long j = 0; j < valid; j++) s[j] += mrow[j];
  for (long j = valid > 0 ? valid : 0; j < wv; j++) s[j] = -INFINITY;
  return valid > 0 ? row_max(s, valid) : -INFINITY;
}

/* ---- attention dropout --------------------------------------------------------------------
 * The counter-based mask of src/tensor/ops/attention-dropout.ts, bit for bit: key j of query
 * row `row` is dropped when fmix32(row_key + (j + 1) * golden) >> 8 < threshold, with
 * row_key = fmix32(seed + (row + 1) * golden). The backward draws the forward's mask again. */

typedef uint32_t vu __attribute__((vector_size(VW * 4)));

#define DROP_GOLDEN 0x9e3779b9u

static inline uint32_t fmix32(uint32_t z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

static inline vu vfmix32(vu z) {
  z = (z ^ (z >> 16)) * 0x85ebca6bu;
  z = (z ^ (z >> 13)) * 0xc2b2ae35u;
  return z ^ (z >> 16);
}

static inline uint32_t drop_row_key(const lmf_attn_params *p, long row) {
  return fmix32(p->drop_seed + (uint32_t)(row + 1) * DROP_GOLDEN);
}

/* The dropout factors Z of key columns [j0, j0 + VW): 0 where dropped, keep elsewhere. */
static inline vf drop_factors(const lmf_attn_params *p, uint32_t row_key, long j0) {
  vu j = (vu){0} + (uint32_t)(j0 + 1);
  for (int l = 0; l < VW; l++) j[l] += (uint32_t)l;
  vu bits = vfmix32(row_key + j * DROP_GOLDEN);
  vi kept = (vi)((bits >> 8) >= ((vu){0} + p->drop_threshold));
  return vsel(kept, vsplat(p->drop_keep), vsplat(0.0f));
}

/* s[j] *= Z_(j0 + j) for j < wv (a multiple of VW) */
static void drop_tile(const lmf_attn_params *p, uint32_t row_key, long j0, float *s, long wv) {
  for (long j = 0; j < wv; j += VW) vstore(s + j, vload(s + j) * drop_factors(p, row_key, j0 + j));
}

/* ---- forward ---------------------------------------------------------------------------- */

typedef struct {
  const float *q, *k, *v;
  float *out, *lse;
  const lmf_attn_params *p;
  long qblocks;
} attn_job;

typedef struct {
  const float *kt, *vs; /* kt (hs, ldkt), or NULL: scores by dot products with k rows; vs (kend, ldv) */
  const float *k;       /* (kend, hs) */
  long ldkt, ldv, hsp;
  float *qs, *acc, *s; /* (RQ, hsp), (RQ, hsp), (RQ, KT) */
} fwd_tiles;

/*
 * Rows [i, i + R) of head (b, h): running max m, sum l and unnormalised output acc per row;
 * each key tile rescales them by exp(m_old - m_new) when the max grows.
 */
static inline __attribute__((always_inline)) void forward_rows(int R, const attn_job *J, const fwd_tiles *t,
                                                               long b, long h, long i) {
  const lmf_attn_params *p = J->p;
  long hs = p->hs, hsp = t->hsp, row0 = (b * p->nH + h) * p->Tq + i;
  float m[RQ], l[RQ];
  long lim[RQ], gend = 0;
  uint32_t key[RQ]; /* dropout row keys */
  pack_rows(J->q + row0 * hs, R, hs, hsp, p->scale, t->qs);
  memset(t->acc, 0, (size_t)(R * hsp) * 4);
  for (int r = 0; r < R; r++) {
    m[r] = -INFINITY;
    l[r] = 0;
    lim[r] = key_limit(p, i + r);
    gend = lim[r] > gend ? lim[r] : gend;
    key[r] = p->dropout ? drop_row_key(p, row0 + r) : 0;
  }
  for (long j0 = 0; j0 < gend; j0 += KT) {
    long w = gend - j0 < KT ? gend - j0 : KT, wv = round_up(w, VW);
    if (t->kt != NULL)
      tile_abt(R, t->qs, hsp, t->kt + j0, t->ldkt, hs, wv, t->s, KT);
    else /* R == 1; columns from w on are set to -inf by mask_scores */
      for (long j = 0; j < w; j++) t->s[j] = dotf(t->qs, t->k + (j0 + j) * hs, hs);
    for (int r = 0; r < R; r++) {
      float *s = t->s + r * KT;
      const float *mrow = mask_row(p, b, h, i + r);
      float mt = mask_scores(s, lim[r] - j0 < w ? lim[r] - j0 : w, wv, mrow == NULL ? NULL : mrow + j0);
      if (mt == -INFINITY) { /* nothing visible in this tile: the row adds nothing */
        memset(s, 0, (size_t)wv * 4);
        continue;
      }
      float mn = mt > m[r] ? mt : m[r];
      float corr = m[r] == -INFINITY ? 0.0f : lmf_expf(m[r] - mn);
      VMAP1(wv, s, s, vexp(X - mn)); /* exp(-inf - mn) = 0 for masked keys */
      l[r] = l[r] * corr + (float)row_sum(s, wv);
      m[r] = mn;
      /* dropout acts on the probabilities after the normaliser has counted every key */
      if (p->dropout) drop_tile(p, key[r], j0, s, wv);
      if (corr != 1.0f) {
        float *a = t->acc + r * hsp;
        VMAP1(hsp, a, a, X * corr);
      }
    }
    tile_pv(R, t->s, KT, t->vs + j0 * t->ldv, t->ldv, w, hsp, t->acc, hsp);
  }
  for (int r = 0; r < R; r++) {
    float *o = J->out + (row0 + r) * hs;
    if (l[r] == 0) {
      memset(o, 0, (size_t)hs * 4);
      J->lse[row0 + r] = -INFINITY;
      continue;
    }
    float inv = 1.0f / l[r];
    for (long d = 0; d < hs; d++) o[d] = t->acc[r * hsp + d] * inv;
    J->lse[row0 + r] = m[r] + logf(l[r]);
  }
}

/* One task: query rows [i0, i0 + QB) of head (b, h). */
static void forward_task(void *ctx, long task, int tid) {
  (void)tid;
  const attn_job *J = ctx;
  const lmf_attn_params *p = J->p;
  long hs = p->hs, Tq = p->Tq, group = p->nH / p->nKV;
  long bh = task / J->qblocks, i0 = task % J->qblocks * QB;
  long b = bh / p->nH, h = bh % p->nH, i1 = i0 + QB < Tq ? i0 + QB : Tq;
  long kvoff = (b * p->nKV + h / group) * p->Tk * hs;
  long kend = key_limit(p, i1 - 1), hsp = round_up(hs, VW), ldkt = round_up(kend, VW) + VW;
  int padv = hsp != hs;
  if (task + 1 < p->B * p->nH * J->qblocks) {
    long nbh = (task + 1) / J->qblocks, ni0 = (task + 1) % J->qblocks * QB;
    long nb = nbh / p->nH, nh = nbh % p->nH, ni1 = ni0 + QB < Tq ? ni0 + QB : Tq;
    long nkv = (nb * p->nKV + nh / group) * p->Tk * hs, nkend = key_limit(p, ni1 - 1);
    prefetch_range(J->q + (nbh * Tq + ni0) * hs, (ni1 - ni0) * hs);
    if (nkv != kvoff) {
      prefetch_range(J->k + nkv, nkend * hs);
      prefetch_range(J->v + nkv, nkend * hs);
    }
  }
  size_t floats = need(hs * ldkt) + (padv ? need(kend * hsp) : 0) + 2 * need(RQ * hsp) + need(RQ * KT);
  arena a = {lmf_scratch(0, floats), 0};
  if (a.base == NULL) abort(); /* out of memory growing scratch: nothing sane to do */
  fwd_tiles t = {.ldkt = ldkt, .hsp = hsp, .k = J->k + kvoff};
  /* Fewer rows than a register block (a decode step): the transposed copy would cost as
   * much as the scores themselves, so those come from dot products with the k rows. */
  if (i1 - i0 >= RQ) {
    float *kt = take(&a, hs * ldkt);
    pack_transposed(J->k + kvoff, kend, hs, kt, ldkt);
    t.kt = kt;
  }
  if (padv) {
    float *vs = take(&a, kend * hsp);
    pack_rows(J->v + kvoff, kend, hs, hsp, 1.0f, vs);
    t.vs = vs;
    t.ldv = hsp;
  } else {
    t.vs = J->v + kvoff;
    t.ldv = hs;
  }
  t.qs = take(&a, RQ * hsp);
  t.acc = take(&a, RQ * hsp);
  t.s = take(&a, RQ * KT);
  long i = i0;
  for (; i + RQ <= i1; i += RQ) forward_rows(RQ, J, &t, b, h, i);
  for (; i < i1; i++) forward_rows(1, J, &t, b, h, i);
}

void LMF_FN(attention_forward)(const float *q, const float *k, const float *v, float *out, float *lse,
                               const lmf_attn_params *p) {
  if (p->B <= 0 || p->nH <= 0 || p->Tq <= 0 || p->hs <= 0) return;
  attn_job J = {q, k, v, out, lse, p, (p->Tq + QB - 1) / QB};
  long tasks = p->B * p->nH * J.qblocks;
  /* multiply-adds (both products, causal or not): below ~512K a thread's wake-up costs more than it saves */
  double work = 2.0 * (double)(p->B * p->nH * p->Tq) * (double)key_limit(p, p->Tq - 1) * (double)p->hs;
  if (work < (double)(1 << 19))
    for (long t = 0; t < tasks; t++) forward_task(&J, t, 0);
  else
    lmf_parallel(tasks, forward_task, &J);
}

/* ---- backward ---------------------------------------------------------------------------- */

#define MAX_PARTS 64

typedef struct {
  const float *q, *k, *v, *out, *lse, *dout;
  float *dq, *dk, *dv;
  const lmf_attn_params *p;
  long parts, bounds[MAX_PARTS + 1]; /* query rows [bounds[t], bounds[t + 1]) form part t */
  float *partial;                    /* parts > 1: (parts, B * nKV, 2, Tk, hs) dk and dv per part */
} attn_back_job;

typedef struct {
  const float *kt, *vt, *ks; /* kt, vt (hs, ldkt); ks (kend, ldk) */
  long ldkt, ldk, hsp;
  float *dkp, *dvp;           /* (kend, hsp) this task's key gradients */
  float *qs, *dos, *dqa, *s, *dp; /* (RQ, hsp) x3, (RQ, KT) x2 */
} back_tiles;

/*
 * Forward per row i: s_j = scale q_i.k_j + mask_ij, P_j = exp(s_j - lse_i),
 * O_i = sum_j Z_j P_j v_j (Z_j the dropout factor; 1 without dropout).
 *   dV_j += Z_j P_j dO_i                               (tile_ptd of Z P and dO)
 *   dP_j  = Z_j (dO_i . v_j)                           (tile_abt of dO and V^T, times Z)
 *   dS_j  = P_j (dP_j - D_i),  D_i = sum_j P_j dP_j = dO_i . O_i   (softmax backward)
 *   dq_i += scale dS_j k_j                             (tile_pv of dS and K, scaled at the end)
 *   dk_j += scale dS_j q_i = dS_j (scale q_i)          (tile_ptd of dS and the scaled q rows)
 * A fully masked row (lse -inf) had the constant output 0 and gets no gradient: its lse is
 * taken as +inf so that every P_j = exp(s_j - inf) = 0.
 */
static inline __attribute__((always_inline)) void backward_rows(int R, const attn_back_job *J,
                                                                const back_tiles *t, long b, long h, long i) {
  const lmf_attn_params *p = J->p;
  long hs = p->hs, hsp = t->hsp, row0 = (b * p->nH + h) * p->Tq + i;
  float lse[RQ], D[RQ];
  long lim[RQ], gend = 0;
  uint32_t key[RQ]; /* dropout row keys */
  pack_rows(J->q + row0 * hs, R, hs, hsp, p->scale, t->qs);
  pack_rows(J->dout + row0 * hs, R, hs, hsp, 1.0f, t->dos);
  memset(t->dqa, 0, (size_t)(R * hsp) * 4);
  for (int r = 0; r < R; r++) {
    lse[r] = J->lse[row0 + r] == -INFINITY ? INFINITY : J->lse[row0 + r];
    D[r] = dotf(J->dout + (row0 + r) * hs, J->out + (row0 + r) * hs, hs);
    lim[r] = key_limit(p, i + r);
    gend = lim[r] > gend ? lim[r] : gend;
    key[r] = p->dropout ? drop_row_key(p, row0 + r) : 0;
  }
  for (long j0 = 0; j0 < gend; j0 += KT) {
    long w = gend - j0 < KT ? gend - j0 : KT, wv = round_up(w, VW);
    tile_abt(R, t->qs, hsp, t->kt + j0, t->ldkt, hs, wv, t->s, KT);
    tile_abt(R, t->dos, hsp, t->vt + j0, t->ldkt, hs, wv, t->dp, KT);
    for (int r = 0; r < R; r++) {
      float *s = t->s + r * KT, *dp = t->dp + r * KT;
      const float *mrow = mask_row(p, b, h, i + r);
      mask_scores(s, lim[r] - j0 < w ? lim[r] - j0 : w, wv, mrow == NULL ? NULL : mrow + j0);
      float shift = lse[r], Dr = D[r];
      if (p->dropout) {
        for (long j = 0; j < wv; j += VW) {
          vf P = vexp(vload(s + j) - shift), Z = drop_factors(p, key[r], j0 + j);
          vstore(s + j, P * Z);
          vstore(dp + j, P * (vload(dp + j) * Z - Dr));
        }
      } else {
        for (long j = 0; j < wv; j += VW) {
          vf P = vexp(vload(s + j) - shift);
          vstore(s + j, P);
          vstore(dp + j, P * (vload(dp + j) - Dr));
        }
      }
    }
    tile_ptd(R, t->s, KT, t->dos, hsp, w, hsp, t->dvp + j0 * hsp, hsp);
    tile_ptd(R, t->dp, KT, t->qs, hsp, w, hsp, t->dkp + j0 * hsp, hsp);
    tile_pv(R, t->dp, KT, t->ks + j0 * t->ldk, t->ldk, w, hsp, t->dqa, hsp);
  }
  for (int r = 0; r < R; r++) {
    float *dq = J->dq + (row0 + r) * hs;
    for (long d = 0; d < hs; d++) dq[d] = t->dqa[r * hsp + d] * p->scale;
  }
}

/*
 * One task: query rows of part `part` for every query head of kv head (b, kvh). It owns
 * those rows of dq; its dk and dv sums go straight to dk / dv when the rows are not split
 * (parts == 1), else to its slice of the partial buffer, summed after all tasks finish.
 */
static void backward_task(void *ctx, long task, int tid) {
  (void)tid;
  const attn_back_job *J = ctx;
  const lmf_attn_params *p = J->p;
  long hs = p->hs, Tk = p->Tk, group = p->nH / p->nKV, pairs = p->B * p->nKV;
  long pair = task % pairs, part = task / pairs;
  long b = pair / p->nKV, kvh = pair % p->nKV;
  long r0 = J->bounds[part], r1 = J->bounds[part + 1];
  long kvoff = pair * Tk * hs;
  long kend = r1 > r0 ? key_limit(p, r1 - 1) : 0, hsp = round_up(hs, VW), ldkt = round_up(kend, VW) + VW;
  int padk = hsp != hs;
  /* the next task's inputs, and the gradients it will write */
  if (J->parts == 1 && pair + PREFETCH_AHEAD < pairs) {
    long np = pair + PREFETCH_AHEAD;
    long nkv = np * Tk * hs, nq = (np / p->nKV * p->nH + np % p->nKV * group) * p->Tq * hs;
    prefetch_range(J->k + nkv, Tk * hs);
    prefetch_range(J->v + nkv, Tk * hs);
    prefetch_range(J->q + nq, group * p->Tq * hs);
    prefetch_range(J->out + nq, group * p->Tq * hs);
    prefetch_range(J->dout + nq, group * p->Tq * hs);
    prefetch_write(J->dq + nq, group * p->Tq * hs);
    prefetch_write(J->dk + nkv, Tk * hs);
    prefetch_write(J->dv + nkv, Tk * hs);
  }
  size_t floats = 2 * need(hs * ldkt) + (padk ? need(kend * hsp) : 0) + 2 * need(kend * hsp) +
                  3 * need(RQ * hsp) + 2 * need(RQ * KT);
  arena a = {lmf_scratch(0, floats), 0};
  if (a.base == NULL) abort();
  back_tiles t = {.ldkt = ldkt, .hsp = hsp};
  float *kt = take(&a, hs * ldkt), *vt = take(&a, hs * ldkt);
  pack_transposed(J->k + kvoff, kend, hs, kt, ldkt);
  pack_transposed(J->v + kvoff, kend, hs, vt, ldkt);
  t.kt = kt;
  t.vt = vt;
  if (padk) {
    float *ks = take(&a, kend * hsp);
    pack_rows(J->k + kvoff, kend, hs, hsp, 1.0f, ks);
    t.ks = ks;
    t.ldk = hsp;
  } else {
    t.ks = J->k + kvoff;
    t.ldk = hs;
  }
  t.dkp = take(&a, kend * hsp);
  t.dvp = take(&a, kend * hsp);
  memset(t.dkp, 0, (size_t)(kend * hsp) * 4);
  memset(t.dvp, 0, (size_t)(kend * hsp) * 4);
  t.qs = take(&a, RQ * hsp);
  t.dos = take(&a, RQ * hsp);
  t.dqa = take(&a, RQ * hsp);
  t.s = take(&a, RQ * KT);
  t.dp = take(&a, RQ * KT);
  for (long h = kvh * group; h < (kvh + 1) * group; h++) {
    long i = r0;
    for (; i + RQ <= r1; i += RQ) backward_rows(RQ, J, &t, b, h, i);
    for (; i < r1; i++) backward_rows(1, J, &t, b, h, i);
  }
  float *dk, *dv;
  if (J->parts == 1) {
    dk = J->dk + kvoff;
    dv = J->dv + kvoff;
  } else {
    dk = J->partial + (part * pairs + pair) * 2 * Tk * hs;
    dv = dk + Tk * hs;
  }
  for (long j = 0; j < kend; j++) {
    memcpy(dk + j * hs, t.dkp + j * hsp, (size_t)hs * 4);
    memcpy(dv + j * hs, t.dvp + j * hsp, (size_t)hs * 4);
  }
  memset(dk + kend * hs, 0, (size_t)((Tk - kend) * hs) * 4);
  memset(dv + kend * hs, 0, (size_t)((Tk - kend) * hs) * 4);
}

/* dk / dv = the sum over parts of the partial key gradients, elements [lo, hi) of (B*nKV, Tk, hs) */
static void reduce_parts(void *ctx, long lo, long hi) {
  const attn_back_job *J = ctx;
  long n = J->p->Tk * J->p->hs, pairs = J->p->B * J->p->nKV;
  for (long e = lo; e < hi;) {
    long pair = e / n, x0 = e % n, x1 = n < x0 + (hi - e) ? n : x0 + (hi - e);
    for (int which = 0; which < 2; which++) {
      float *dst = (which ? J->dv : J->dk) + pair * n;
      const float *src = J->partial + (pair * 2 + which) * n;
      for (long x = x0; x < x1; x++) {
        float sum = 0;
        for (long part = 0; part < J->parts; part++) sum += src[part * pairs * 2 * n + x];
        dst[x] = sum;
      }
    }
    e += x1 - x0;
  }
}

/*
 * Splits the query rows into `parts` ranges of about equal work (a row costs its visible
 * keys), each a multiple of RQ rows except the last.
 */
static long split_rows(const lmf_attn_params *p, long parts, long *bounds) {
  double total = 0;
  for (long i = 0; i < p->Tq; i++) total += (double)key_limit(p, i) + 1;
  long n = 0;
  bounds[n++] = 0;
  double done = 0;
  for (long i = 0; i < p->Tq; i++) {
    done += (double)key_limit(p, i) + 1;
    if ((i + 1) % RQ == 0 && i + 1 < p->Tq && done >= total * (double)n / (double)parts && n < parts)
      bounds[n++] = i + 1;
  }
  bounds[n] = p->Tq;
  return n;
}

void LMF_FN(attention_backward)(const float *q, const float *k, const float *v, const float *out,
                                const float *lse, const float *dout, float *dq, float *dk, float *dv,
                                const lmf_attn_params *p) {
  if (p->B <= 0 || p->nKV <= 0 || p->hs <= 0) return;
  if (p->Tq <= 0 || p->nH <= 0) {
    memset(dk, 0, (size_t)(p->B * p->nKV * p->Tk * p->hs) * 4);
    memset(dv, 0, (size_t)(p->B * p->nKV * p->Tk * p->hs) * 4);
    return;
  }
  attn_back_job J = {q, k, v, out, lse, dout, dq, dk, dv, p, 1, {0}, NULL};
  long pairs = p->B * p->nKV, threads = lmf_threads();
  /* Fewer (batch, kv head) pairs than ~2 tasks per thread: split the query rows too, each
   * part summing its own dk / dv, reduced afterwards (deterministic: fixed part order). */
  long parts = 1;
  if (threads > 1 && pairs < 2 * threads) {
    parts = (2 * threads + pairs - 1) / pairs;
    long groups = (p->Tq + RQ - 1) / RQ;
    if (parts > groups) parts = groups;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
  }
  J.parts = split_rows(p, parts, J.bounds);
  if (J.parts > 1) {
    J.partial = lmf_scratch(3, (size_t)(J.parts * pairs * 2 * p->Tk * p->hs));
    if (J.partial == NULL) abort();
  }
  lmf_parallel(J.parts * pairs, backward_task, &J);
  if (J.parts > 1) lmf_parallel_range(pairs * p->Tk * p->hs, 1L << 14, reduce_parts, &J);
}
