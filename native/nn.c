/*
 * Row kernels of the network: softmax / log-softmax, fused cross-entropy, LayerNorm,
 * RMSNorm (forward and backward, as in llm.c) and embedding gather / scatter-add.
 * Same semantics as src/backend/js/{softmax,loss,norm,embedding}.ts. Rows run in parallel;
 * parameter gradients (dweight, dbias, embedding rows) are accumulated by a second pass
 * split over columns, so that no two threads ever add into the same element.
 *
 * Legend: C row length (channels / classes), V vocab, N ids, rows independent rows.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

/* rows per task: at least ~32K elements of work */
static long row_grain(long C) { return (1L << 15) / (C > 0 ? C : 1) + 1; }

/* columns per task for the column passes (a multiple of VW, at least ~32K elements) */
static long col_grain(long rows) { return ((1L << 15) / (rows > 0 ? rows : 1) + VW) / VW * VW; }

/* ---- softmax ------------------------------------------------------------------------- */

typedef struct {
  const float *x, *y, *dy;
  float *out;
  long C;
  int log;
} softmax_job;

/* y = softmax(x) = exp(x - max) / sum, or log_softmax(x) = x - max - log(sum) */
static void softmax_rows(void *ctx, long lo, long hi) {
  const softmax_job *j = ctx;
  long C = j->C;
  for (long r = lo; r < hi; r++) {
    const float *x = j->x + r * C;
    float *y = j->out + r * C;
    float mx = row_max(x, C);
    if (j->log) {
      float shift = mx + (float)log(row_sum_exp(x, C, mx));
      VMAP1(C, y, x, X - shift);
    } else {
      VMAP1(C, y, x, vexp(X - mx));
      float inv = (float)(1.0 / row_sum(y, C));
      VMAP1(C, y, y, X * inv);
    }
  }
}

/*
 * softmax:     dx_i = y_i (dy_i - sum_j dy_j y_j)
 * log_softmax: dx_i = dy_i - exp(y_i) sum_j dy_j
 */
static void softmax_backward_rows(void *ctx, long lo, long hi) {
  const softmax_job *j = ctx;
  long C = j->C;
  for (long r = lo; r < hi; r++) {
    const float *y = j->y + r * C, *dy = j->dy + r * C;
    float *dx = j->out + r * C;
    if (j->log) {
      float s = (float)row_sum(dy, C);
      VMAP3(C, dx, y, y, dy, DY - vexp(X) * s);
    } else {
      float s = (float)row_dot(dy, y, C);
      VMAP3(C, dx, y, y, dy, Y * (DY - s));
    }
  }
}

void LMF_FN(softmax)(const float *x, float *y, long rows, long C, int log) {
  if (C <= 0) return;
  softmax_job j = {x, NULL, NULL, y, C, log};
  lmf_parallel_range(rows, row_grain(C), softmax_rows, &j);
}

void LMF_FN(softmax_backward)(const float *y, const float *dy, float *dx, long rows, long C, int log) {
  if (C <= 0) return;
  softmax_job j = {NULL, y, dy, dx, C, log};
  lmf_parallel_range(rows, row_grain(C), softmax_backward_rows, &j);
}

/* ---- cross-entropy ------------------------------------------------------------------------ */

typedef struct {
  const float *logits, *lse, *dlosses;
  const int32_t *targets;
  float *losses, *lse_out, *dlogits;
  long V, ignore;
  float smoothing;
} ce_job;

/*
 * loss_r = -sum_j q_j log p_j = lse - (1 - eps) x_t - (eps / V) sum_j x_j,
 * because log p_j = x_j - lse and sum_j q_j = 1. Ignored rows: loss 0 (lse still saved).
 * The probabilities are never stored.
 */
static void ce_forward_rows(void *ctx, long lo, long hi) {
  const ce_job *j = ctx;
  long V = j->V;
  for (long r = lo; r < hi; r++) {
    const float *x = j->logits + r * V;
    float mx = row_max(x, V);
    double lse = mx + log(row_sum_exp(x, V, mx));
    j->lse_out[r] = (float)lse;
    long t = j->targets[r];
    if (t == j->ignore) {
      j->losses[r] = 0;
      continue;
    }
    double loss = lse - (1.0 - j->smoothing) * x[t];
    if (j->smoothing != 0) loss -= (j->smoothing / (double)V) * row_sum(x, V);
    j->losses[r] = (float)loss;
  }
}

/* d loss_r / d x_j = (p_j - q_j) dloss_r, p_j = exp(x_j - lse_r) recomputed from the saved lse */
static void ce_backward_rows(void *ctx, long lo, long hi) {
  const ce_job *j = ctx;
  long V = j->V;
  float uniform = j->smoothing / (float)V;
  for (long r = lo; r < hi; r++) {
    const float *x = j->logits + r * V;
    float *dx = j->dlogits + r * V;
    long t = j->targets[r];
    if (t == j->ignore) {
      memset(dx, 0, (size_t)V * 4);
      continue;
    }
    float scale = j->dlosses[r], lse = j->lse[r];
    VMAP1(V, dx, x, (vexp(X - lse) - uniform) * scale);
    dx[t] -= (1.0f - j->smoothing) * scale;
  }
}

void LMF_FN(ce_forward)(const float *logits, const int32_t *targets, float *losses, float *lse, long rows,
                        long V, long ignore, float smoothing) {
  ce_job j = {.logits = logits, .targets = targets, .losses = losses, .lse_out = lse, .V = V,
              .ignore = ignore, .smoothing = smoothing};
  lmf_parallel_range(rows, row_grain(V), ce_forward_rows, &j);
}

void LMF_FN(ce_backward)(const float *logits, const int32_t *targets, const float *lse, const float *dlosses,
                         float *dlogits, long rows, long V, long ignore, float smoothing) {
  ce_job j = {.logits = logits, .targets = targets, .lse = lse, .dlosses = dlosses, .dlogits = dlogits,
              .V = V, .ignore = ignore, .smoothing = smoothing};
  lmf_parallel_range(rows, row_grain(V), ce_backward_rows, &j);
}

/* ---- LayerNorm / RMSNorm ---------------------------------------------------------------------- */

typedef struct {
  const float *x, *w, *b, *dy, *mean, *rstd;
  float *y, *mean_out, *rstd_out, *dx, *dw, *db;
  long rows, C;
  float eps;
  int rms;
  long chunk;     /* backward: rows per task */
  float *partial; /* backward: (tasks, 2, C) dw and db partials */
} norm_job;

/* LayerNorm: y = (x - mean) * rstd * w + b, two passes (no E[x^2] - E[x]^2 cancellation).
 * RMSNorm:   y = x * rstd * w, rstd = 1 / sqrt(mean(x^2) + eps). */
static void norm_forward_rows(void *ctx, long lo, long hi) {
  const norm_job *j = ctx;
  long C = j->C;
  for (long r = lo; r < hi; r++) {
    const float *x = j->x + r * C;
    float *y = j->y + r * C;
    float m = 0;
    double squares;
    if (j->rms) {
      squares = row_dot(x, x, C);
    } else {
      m = (float)(row_sum(x, C) / (double)C);
      VMAP1(C, y, x, X - m); /* deviations, overwritten below */
      squares = row_dot(y, y, C);
      j->mean_out[r] = m;
    }
    float s = (float)(1.0 / sqrt(squares / (double)C + j->eps));
    j->rstd_out[r] = s;
    if (j->w != NULL && j->b != NULL) {
      for (long c = 0; c < C; c++) y[c] = (x[c] - m) * s * j->w[c] + j->b[c];
    } else if (j->w != NULL) {
      for (long c = 0; c < C; c++) y[c] = (x[c] - m) * s * j->w[c];
    } else if (j->b != NULL) {
      for (long c = 0; c < C; c++) y[c] = (x[c] - m) * s + j->b[c];
    } else {
      VMAP1(C, y, x, (X - m) * s);
    }
  }
}

/*
 * Forward: n = (x - mean) * rstd (mean = 0 for RMSNorm), y = n * w (+ b). With dn = dy * w:
 *   LayerNorm: dx = rstd * (dn - mean(dn) - n * mean(dn * n))
 *   RMSNorm:   dx = rstd * (dn - n * mean(dn * n))
 * (the first mean is the gradient through the mean, the second through rstd), and
 *   dw[c] += sum_r dy[r, c] n[r, c],  db[c] += sum_r dy[r, c].
 * One task per range of rows: the first sweep over a row gathers its two sums and adds the
 * row into the task's own dw / db partials, the second writes dx. The partials are summed
 * in task order afterwards (deterministic for a given thread count, which sets the row
 * ranges; no two threads add into one element). A NULL dw or db (RMSNorm has no bias) skips
 * its partial: the flags are loop-invariant, so the compiler unswitches the loop.
 */
static void norm_backward_task(void *ctx, long task, int tid) {
  (void)tid;
  const norm_job *j = ctx;
  long C = j->C, lo = task * j->chunk, hi = lo + j->chunk < j->rows ? lo + j->chunk : j->rows;
  const float *w = j->w;
  float *pw = j->partial + task * 2 * C, *pb = pw + C;
  const int gw = j->dw != NULL, gb = j->db != NULL;
  memset(pw, 0, (size_t)(2 * C) * 4);
  const vf one = vsplat(1.0f);
  for (long r = lo; r < hi; r++) {
    const float *x = j->x + r * C, *dy = j->dy + r * C;
    float *dx = j->dx + r * C;
    float m = j->rms ? 0.0f : j->mean[r], s = j->rstd[r];
    vf a_dn = {0}, a_dnn = {0};
    long c = 0;
    for (; c + VW <= C; c += VW) {
      vf n = (vload(x + c) - m) * s, g = vload(dy + c);
      vf dn = g * (w == NULL ? one : vload(w + c));
      a_dn += dn;
      a_dnn += dn * n;
      if (gw) vstore(pw + c, vload(pw + c) + g * n);
      if (gb) vstore(pb + c, vload(pb + c) + g);
    }
    float dn_sum = vsum(a_dn), dn_dot_n = vsum(a_dnn);
    for (; c < C; c++) {
      float n = (x[c] - m) * s, dn = dy[c] * (w == NULL ? 1.0f : w[c]);
      dn_sum += dn;
      dn_dot_n += dn * n;
      if (gw) pw[c] += dy[c] * n;
      if (gb) pb[c] += dy[c];
    }
    float dn_mean = j->rms ? 0.0f : dn_sum / (float)C;
    dn_dot_n /= (float)C;
    c = 0;
    for (; c + VW <= C; c += VW) {
      vf n = (vload(x + c) - m) * s;
      vf dn = vload(dy + c) * (w == NULL ? one : vload(w + c));
      vstore(dx + c, s * (dn - dn_mean - n * dn_dot_n));
    }
    for (; c < C; c++) {
      float n = (x[c] - m) * s, dn = dy[c] * (w == NULL ? 1.0f : w[c]);
      dx[c] = s * (dn - dn_mean - n * dn_dot_n);
    }
  }
}

/* dx for every row; dw / db (either may be NULL) += the per-task partials, in task order */
static void norm_backward(norm_job *j) {
  long tasks = lmf_chunks(j->rows, row_grain(j->C));
  j->chunk = (j->rows + tasks - 1) / tasks;
  tasks = j->rows > 0 ? (j->rows + j->chunk - 1) / j->chunk : 0;
  if (tasks == 0) return;
  j->partial = lmf_scratch(3, (size_t)(tasks * 2 * j->C));
  if (j->partial == NULL) abort(); /* out of memory growing scratch: nothing sane to do */
  lmf_parallel(tasks, norm_backward_task, j);
  long C = j->C;
  for (long t = 0; t < tasks; t++) {
    const float *pw = j->partial + t * 2 * C, *pb = pw + C;
    if (j->dw != NULL)
      for (long c = 0; c < C; c++) j->dw[c] += pw[c];
    if (j->db != NULL)
      for (long c = 0; c < C; c++) j->db[c] += pb[c];
  }
}

void LMF_FN(layernorm_forward)(const float *x, const float *w, const float *b, float *y, float *mean,
                               float *rstd, long rows, long C, float eps) {
  norm_job j = {.x = x, .w = w, .b = b, .y = y, .mean_out = mean, .rstd_out = rstd, .rows = rows, .C = C,
                .eps = eps};
  lmf_parallel_range(rows, row_grain(C), norm_forward_rows, &j);
}

void LMF_FN(layernorm_backward)(const float *dy, const float *x, const float *w, const float *mean,
                                const float *rstd, float *dx, float *dw, float *db, long rows, long C) {
  norm_job j = {.x = x, .w = w, .dy = dy, .mean = mean, .rstd = rstd, .dx = dx, .dw = dw, .db = db,
                .rows = rows, .C = C};
  norm_backward(&j);
}

void LMF_FN(rmsnorm_forward)(const float *x, const float *w, float *y, float *rstd, long rows, long C,
                             float eps) {
  norm_job j = {.x = x, .w = w, .y = y, .rstd_out = rstd, .rows = rows, .C = C, .eps = eps, .rms = 1};
  lmf_parallel_range(rows, row_grain(C), norm_forward_rows, &j);
}

void LMF_FN(rmsnorm_backward)(const float *dy, const float *x, const float *w, const float *rstd, float *dx,
                              float *dw, long rows, long C) {
  norm_job j = {.x = x, .w = w, .dy = dy, .rstd = rstd, .dx = dx, .dw = dw, .rows = rows, .C = C, .rms = 1};
  norm_backward(&j);
}

/* ---- embedding ------------------------------------------------------------------------------ */

typedef struct {
  const float *src;
  const int32_t *ids;
  float *dst;
  long N, C;
} embed_job;

/* out[i] = weight[ids[i]] (ids validated by the op before the kernel runs) */
static void embed_rows(void *ctx, long lo, long hi) {
  const embed_job *j = ctx;
  for (long i = lo; i < hi; i++) memcpy(j->dst + i * j->C, j->src + (long)j->ids[i] * j->C, (size_t)j->C * 4);
}

/* dweight[ids[i], lo:hi] += dout[i, lo:hi]: threads own column ranges, so repeated ids never race */
static void embed_backward_cols(void *ctx, long lo, long hi) {
  const embed_job *j = ctx;
  for (long i = 0; i < j->N; i++) {
    const float *src = j->src + i * j->C + lo;
    float *dst = j->dst + (long)j->ids[i] * j->C + lo;
    for (long c = 0; c < hi - lo; c++) dst[c] += src[c];
  }
}

void LMF_FN(embedding_forward)(const float *weight, const int32_t *ids, float *out, long N, long C) {
  embed_job j = {weight, ids, out, N, C};
  lmf_parallel_range(N, row_grain(C), embed_rows, &j);
}

void LMF_FN(embedding_backward)(const float *dout, const int32_t *ids, float *dweight, long N, long C) {
  embed_job j = {dout, ids, dweight, N, C};
  lmf_parallel_range(C, col_grain(N), embed_backward_cols, &j);
}
