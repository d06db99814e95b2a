/*
 * Elementwise kernels, strided copy, reductions and the optimiser step:
 * copy_strided, unary / unary_backward, binary with broadcasting, affine, reduce_sum /
 * reduce_max over (outer, R, inner), sum_of_squares, adamw. Same semantics as the JS
 * reference (src/backend/js/{copy,elementwise,reduce}.ts); transcendental functions use
 * the float32 approximations of simd.h.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

/* ---- strided layouts ----------------------------------------------------------------- */

/*
 * Drops size-1 dimensions and merges neighbours that are contiguous in every operand
 * (stride[i] == stride[i+1] * shape[i+1] for each of the `ops` stride arrays), so that
 * a contiguous or row-broadcast layout becomes one or two dims with a fast inner loop.
 * Returns the new rank (0 for a single element).
 */
static int collapse(int nd, const long *shape, const long *const *strides, int ops, long *outShape,
                    long outStrides[][LMF_MAX_DIMS]) {
  int r = 0;
  for (int i = 0; i < nd; i++) {
    if (shape[i] == 1) continue;
    int merge = r > 0;
    for (int o = 0; o < ops && merge; o++) merge = outStrides[o][r - 1] == strides[o][i] * shape[i];
    if (merge) {
      outShape[r - 1] *= shape[i];
      for (int o = 0; o < ops; o++) outStrides[o][r - 1] = strides[o][i];
    } else {
      outShape[r] = shape[i];
      for (int o = 0; o < ops; o++) outStrides[o][r] = strides[o][i];
      r++;
    }
  }
  return r;
}

/* Element offsets (per operand) of row `row` of a layout whose last dim is the row, and the
 * row's index in each outer dim (for row_next). */
static void row_offsets(int nd, const long *shape, long st[][LMF_MAX_DIMS], int ops, long row, long *off,
                        long *idx) {
  for (int o = 0; o < ops; o++) off[o] = 0;
  for (int d = nd - 2; d >= 0; d--) {
    long i = row % shape[d];
    row /= shape[d];
    idx[d] = i;
    for (int o = 0; o < ops; o++) off[o] += i * st[o][d];
  }
}

/* Steps idx / off to the next row (an odometer: no division per row). */
static inline void row_next(int nd, const long *shape, long st[][LMF_MAX_DIMS], int ops, long *idx, long *off) {
  for (int d = nd - 2; d >= 0; d--) {
    for (int o = 0; o < ops; o++) off[o] += st[o][d];
    if (++idx[d] < shape[d]) return;
    for (int o = 0; o < ops; o++) off[o] -= st[o][d] * shape[d];
    idx[d] = 0;
  }
}

/* ---- copy_strided ------------------------------------------------------------------------ */

typedef struct {
  const uint32_t *src;
  uint32_t *dst;
  int nd;
  long shape[LMF_MAX_DIMS];
  long st[2][LMF_MAX_DIMS];
} copy_job;

static void copy_rows(void *ctx, long lo, long hi) {
  const copy_job *j = ctx;
  long n = j->shape[j->nd - 1], ss = j->st[0][j->nd - 1], ds = j->st[1][j->nd - 1];
  long off[2], idx[LMF_MAX_DIMS];
  long(*st)[LMF_MAX_DIMS] = (long(*)[LMF_MAX_DIMS])j->st;
  row_offsets(j->nd, j->shape, st, 2, lo, off, idx);
  for (long row = lo; row < hi; row++, row_next(j->nd, j->shape, st, 2, idx, off)) {
    const uint32_t *s = j->src + off[0];
    uint32_t *d = j->dst + off[1];
    if (ss == 1 && ds == 1) {
      /* the head-size rows of the attention transposes: whole vectors, no memcpy call */
      long i = 0;
      for (; i + VW <= n; i += VW) vstore((float *)(d + i), vload((const float *)(s + i)));
      for (; i < n; i++) d[i] = s[i];
    } else {
      for (long i = 0; i < n; i++) d[i * ds] = s[i * ss];
    }
  }
}

void LMF_FN(copy_strided)(const uint32_t *src, uint32_t *dst, int nd, const long *shape, const long *ss,
                                 const long *ds) {
  copy_job j = {.src = src, .dst = dst};
  const long *strides[2] = {ss, ds};
  for (int i = 0; i < nd; i++)
    if (shape[i] == 0) return;
  j.nd = collapse(nd, shape, strides, 2, j.shape, j.st);
  if (j.nd == 0) {
    dst[0] = src[0];
    return;
  }
  long rows = 1;
  for (int i = 0; i < j.nd - 1; i++) rows *= j.shape[i];
  long n = j.shape[j.nd - 1];
  /* big contiguous runs: split the run itself across threads */
  if (j.nd == 1 && j.st[0][0] == 1 && j.st[1][0] == 1) {
    j.shape[0] = 1;
    j.nd = 2;
    j.shape[1] = n;
    j.st[0][1] = j.st[1][1] = 1;
    j.st[0][0] = j.st[1][0] = n;
    long chunk = n > (1 << 20) ? (1 << 18) : n;
    j.shape[1] = chunk;
    j.shape[0] = n / chunk;
    j.st[0][0] = j.st[1][0] = chunk;
    lmf_parallel_range(j.shape[0], 1, copy_rows, &j);
    long done = j.shape[0] * chunk;
    if (done < n) memcpy(dst + done, src + done, (size_t)(n - done) * 4);
    return;
  }
  lmf_parallel_range(rows, (1 << 16) / (n > 0 ? n : 1) + 1, copy_rows, &j);
}

/* ---- unary ------------------------------------------------------------------------------ */

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f
#define GELU_TANH_C 0.79788456080286536f /* sqrt(2 / pi) */

typedef struct {
  int op;
  const float *x, *y, *dy;
  float *out;
} unary_job;

static void unary_range(void *ctx, long lo, long hi) {
  const unary_job *u = ctx;
  const float *restrict x = u->x + lo;
  float *restrict y = u->out + lo;
  long n = hi - lo;
  const vf zero = {0}, one = zero + 1.0f;
  switch (u->op) {
    case LMF_NEG: VMAP1(n, y, x, -X); break;
    case LMF_EXP: VMAP1(n, y, x, vexp(X)); break;
    case LMF_LOG: for (long i = 0; i < n; i++) y[i] = logf(x[i]); break;
    case LMF_SQRT: for (long i = 0; i < n; i++) y[i] = sqrtf(x[i]); break;
    case LMF_RSQRT: for (long i = 0; i < n; i++) y[i] = 1.0f / sqrtf(x[i]); break;
    case LMF_TANH: VMAP1(n, y, x, vtanh(X)); break;
    case LMF_SIGMOID: VMAP1(n, y, x, vsigmoid(X)); break;
    case LMF_RELU: VMAP1(n, y, x, vsel(X > 0, X, zero)); break;
    case LMF_GELU: VMAP1(n, y, x, X * vphi(X)); break;
    case LMF_GELU_TANH: VMAP1(n, y, x, 0.5f * X * (1.0f + vtanh(GELU_TANH_C * (X + 0.044715f * X * X * X)))); break;
    case LMF_SILU: VMAP1(n, y, x, X * vsigmoid(X)); break;
    case LMF_ABS: VMAP1(n, y, x, vsel(X < 0, -X, X)); break;
    case LMF_SQUARE: VMAP1(n, y, x, X * X); break;
    case LMF_SIGN: VMAP1(n, y, x, vsel(X > 0, one, vsel(X < 0, -one, zero))); break;
  }
}

/* d/dx x Phi(x) = Phi(x) + x phi(x) */
static inline vf gelu_grad(vf X) { return vphi(X) + X * INV_SQRT_2PI * vexp(-0.5f * X * X); }

/* y = v/2 (1 + t), t = tanh(c (v + a v^3)): dy/dv = (1 + t)/2 + v/2 (1 - t^2) c (1 + 3 a v^2) */
static inline vf gelu_tanh_grad(vf X) {
  vf t = vtanh(GELU_TANH_C * (X + 0.044715f * X * X * X));
  return 0.5f * (1.0f + t) + 0.5f * X * (1.0f - t * t) * GELU_TANH_C * (1.0f + 3.0f * 0.044715f * X * X);
}

/* d/dx x s(x) = s (1 + x (1 - s)) */
static inline vf silu_grad(vf X) {
  vf s = vsigmoid(X);
  return s * (1.0f + X * (1.0f - s));
}

/* dx = dy * op'(x), given y = op(x) */
static void unary_backward_range(void *ctx, long lo, long hi) {
  const unary_job *u = ctx;
  const float *restrict x = u->x + lo, *restrict y = u->y + lo, *restrict dy = u->dy + lo;
  float *restrict dx = u->out + lo;
  long n = hi - lo;
  const vf zero = {0};
  switch (u->op) {
    case LMF_NEG: VMAP3(n, dx, x, y, dy, -DY); break;
    case LMF_EXP: VMAP3(n, dx, x, y, dy, DY * Y); break;
    case LMF_LOG: VMAP3(n, dx, x, y, dy, DY / X); break;
    case LMF_SQRT: VMAP3(n, dx, x, y, dy, DY * (0.5f / Y)); break;
    case LMF_RSQRT: VMAP3(n, dx, x, y, dy, DY * (-0.5f * Y * Y * Y)); break;
    case LMF_TANH: VMAP3(n, dx, x, y, dy, DY * (1.0f - Y * Y)); break;
    case LMF_SIGMOID: VMAP3(n, dx, x, y, dy, DY * (Y * (1.0f - Y))); break;
    case LMF_RELU: VMAP3(n, dx, x, y, dy, vsel(X > 0, DY, zero)); break;
    case LMF_GELU: VMAP3(n, dx, x, y, dy, DY * gelu_grad(X)); break;
    case LMF_GELU_TANH: VMAP3(n, dx, x, y, dy, DY * gelu_tanh_grad(X)); break;
    case LMF_SILU: VMAP3(n, dx, x, y, dy, DY * silu_grad(X)); break;
    case LMF_ABS: VMAP3(n, dx, x, y, dy, vsel(X > 0, DY, vsel(X < 0, -DY, zero * DY))); break;
    case LMF_SQUARE: VMAP3(n, dx, x, y, dy, DY * (2.0f * X)); break;
    case LMF_SIGN: VMAP3(n, dx, x, y, dy, DY * 0.0f); break;
  }
}

/* grain: elements per task, so that a parallel task costs well over the ~5 us wake-up */
#define ELEMENT_GRAIN (1L << 15)

void LMF_FN(unary)(int op, const float *x, float *y, long N) {
  unary_job u = {op, x, NULL, NULL, y};
  lmf_parallel_range(N, ELEMENT_GRAIN, unary_range, &u);
}

void LMF_FN(unary_backward)(int op, const float *x, const float *y, const float *dy, float *dx, long N) {
  unary_job u = {op, x, y, dy, dx};
  lmf_parallel_range(N, ELEMENT_GRAIN, unary_backward_range, &u);
}

/* ---- binary ------------------------------------------------------------------------------ */

static inline float apply_pow(float a, float b) { return powf(a, b); }

/* out[j] = op(a[j * sa], b[j * sb]); the four stride cases each get a loop the compiler vectorises */
#define BINARY_ROW(EXPR)                                                                                    \
  do {                                                                                                      \
    if (sa == 1 && sb == 1)                                                                                 \
      for (long j = 0; j < n; j++) {                                                                        \
        float x = a[j], y = b[j];                                                                           \
        o[j] = (EXPR);                                                                                      \
      }                                                                                                     \
    else if (sa == 1 && sb == 0) {                                                                          \
      float y = b[0];                                                                                       \
      for (long j = 0; j < n; j++) {                                                                        \
        float x = a[j];                                                                                     \
        o[j] = (EXPR);                                                                                      \
      }                                                                                                     \
    } else if (sa == 0 && sb == 1) {                                                                        \
      float x = a[0];                                                                                       \
      for (long j = 0; j < n; j++) {                                                                        \
        float y = b[j];                                                                                     \
        o[j] = (EXPR);                                                                                      \
      }                                                                                                     \
    } else                                                                                                  \
      for (long j = 0; j < n; j++) {                                                                        \
        float x = a[j * sa], y = b[j * sb];                                                                 \
        o[j] = (EXPR);                                                                                      \
      }                                                                                                     \
  } while (0)

static void binary_row(int op, const float *restrict a, long sa, const float *restrict b, long sb,
                       float *restrict o, long n) {
  switch (op) {
    case LMF_ADD: BINARY_ROW(x + y); break;
    case LMF_SUB: BINARY_ROW(x - y); break;
    case LMF_MUL: BINARY_ROW(x * y); break;
    case LMF_DIV: BINARY_ROW(x / y); break;
    case LMF_POW: BINARY_ROW(apply_pow(x, y)); break;
    /* NaN in a wins, as in the JS reference (a > b || isNaN(a) ? a : b) */
    case LMF_MAXIMUM: BINARY_ROW(x > y || x != x ? x : y); break;
    case LMF_MINIMUM: BINARY_ROW(x < y || x != x ? x : y); break;
  }
}

typedef struct {
  int op, nd;
  const float *a, *b;
  float *out;
  long shape[LMF_MAX_DIMS];
  long st[3][LMF_MAX_DIMS]; /* a, b, out */
} binary_job;

static void binary_rows(void *ctx, long lo, long hi) {
  const binary_job *j = ctx;
  int last = j->nd - 1;
  long n = j->shape[last];
  long off[3], idx[LMF_MAX_DIMS];
  long(*st)[LMF_MAX_DIMS] = (long(*)[LMF_MAX_DIMS])j->st;
  row_offsets(j->nd, j->shape, st, 3, lo, off, idx);
  for (long row = lo; row < hi; row++, row_next(j->nd, j->shape, st, 3, idx, off)) {
    binary_row(j->op, j->a + off[0], j->st[0][last], j->b + off[1], j->st[1][last], j->out + off[2], n);
  }
}

/* a flat contiguous range [lo, hi) of a collapsed 1-D layout */
static void binary_flat(void *ctx, long lo, long hi) {
  const binary_job *j = ctx;
  long sa = j->st[0][0], sb = j->st[1][0];
  binary_row(j->op, j->a + lo * sa, sa, j->b + lo * sb, sb, j->out + lo, hi - lo);
}

void LMF_FN(binary)(int op, const float *a, const float *b, float *out, int nd, const long *shape,
                           const long *sa, const long *sb) {
  binary_job j = {.op = op, .a = a, .b = b, .out = out};
  long so[LMF_MAX_DIMS];
  long total = 1;
  for (int i = nd - 1; i >= 0; i--) {
    so[i] = total;
    total *= shape[i];
  }
  if (total == 0) return;
  const long *strides[3] = {sa, sb, so};
  j.nd = collapse(nd, shape, strides, 3, j.shape, j.st);
  if (j.nd == 0) {
    out[0] = 0;
    binary_row(op, a, 1, b, 1, out, 1);
    return;
  }
  if (j.nd == 1) {
    lmf_parallel_range(total, ELEMENT_GRAIN, binary_flat, &j);
    return;
  }
  long n = j.shape[j.nd - 1];
  lmf_parallel_range(total / n, ELEMENT_GRAIN / n + 1, binary_rows, &j);
}

/* ---- affine ----------------------------------------------------------------------------- */

typedef struct {
  const float *x;
  float *y;
  float alpha, beta;
} affine_job;

static void affine_range(void *ctx, long lo, long hi) {
  const affine_job *j = ctx;
  const float *restrict x = j->x;
  float *restrict y = j->y;
  for (long i = lo; i < hi; i++) y[i] = x[i] * j->alpha + j->beta;
}

void LMF_FN(affine)(const float *x, float *y, long N, float alpha, float beta) {
  affine_job j = {x, y, alpha, beta};
  lmf_parallel_range(N, ELEMENT_GRAIN, affine_range, &j);
}

/* ---- reductions over the middle axis of (outer, R, inner) ------------------------------------ */

typedef struct {
  const float *x;
  float *out;
  int32_t *argmax;
  long outer, R, inner;
} reduce_job;

/* inner == 1: one row sum per output */
static void sum_rows(void *ctx, long lo, long hi) {
  const reduce_job *j = ctx;
  for (long o = lo; o < hi; o++) j->out[o] = (float)row_sum(j->x + o * j->R, j->R);
}

/* inner > 1: tasks are outer slices; accumulate rows of `inner` in float64 */
static void sum_slices(void *ctx, long lo, long hi) {
  const reduce_job *j = ctx;
  long inner = j->inner;
  double *acc = (double *)lmf_scratch(2, (size_t)(2 * inner));
  if (acc == NULL) abort();
  for (long o = lo; o < hi; o++) {
    for (long i = 0; i < inner; i++) acc[i] = 0;
    const float *x = j->x + o * j->R * inner;
    for (long r = 0; r < j->R; r++)
      for (long i = 0; i < inner; i++) acc[i] += (double)x[r * inner + i];
    for (long i = 0; i < inner; i++) j->out[o * inner + i] = (float)acc[i];
  }
}

void LMF_FN(reduce_sum)(const float *x, float *out, long outer, long R, long inner) {
  reduce_job j = {x, out, NULL, outer, R, inner};
  if (inner == 1)
    lmf_parallel_range(outer, ELEMENT_GRAIN / (R + 1) + 1, sum_rows, &j);
  else
    lmf_parallel_range(outer, ELEMENT_GRAIN / (R * inner + 1) + 1, sum_slices, &j);
}

/* max over r with its first index; NaN wins and stops the scan, as in PyTorch */
static void max_slices(void *ctx, long lo, long hi) {
  const reduce_job *j = ctx;
  long inner = j->inner, R = j->R;
  for (long o = lo; o < hi; o++)
    for (long i = 0; i < inner; i++) {
      const float *x = j->x + o * R * inner + i;
      float best = -INFINITY;
      int32_t at = 0;
      for (long r = 0; r < R; r++) {
        float v = x[r * inner];
        if (v > best || v != v) {
          best = v;
          at = (int32_t)r;
          if (v != v) break;
        }
      }
      j->out[o * inner + i] = best;
      if (j->argmax != NULL) j->argmax[o * inner + i] = at;
    }
}

void LMF_FN(reduce_max)(const float *x, float *out, int32_t *argmax, long outer, long R, long inner) {
  reduce_job j = {x, out, argmax, outer, R, inner};
  lmf_parallel_range(outer, ELEMENT_GRAIN / (R * inner + 1) + 1, max_slices, &j);
}

/* ---- optimiser ------------------------------------------------------------------------------ */

typedef struct {
  const float *x;
  double partial[LMF_MAX_DIMS * 16];
  long chunk;
} squares_job;

static void squares_task(void *ctx, long task, int tid) {
  (void)tid;
  squares_job *j = ctx;
  j->partial[task] = row_dot(j->x + task * j->chunk, j->x + task * j->chunk, j->chunk);
}

/* sum of x^2 in float64 (per-thread partial sums combined in task order: deterministic) */
double LMF_FN(sum_of_squares)(const float *x, long N) {
  squares_job j = {.x = x};
  long tasks = lmf_chunks(N, ELEMENT_GRAIN * 4);
  if (tasks > LMF_MAX_DIMS * 16) tasks = LMF_MAX_DIMS * 16;
  if (tasks <= 1) return row_dot(x, x, N);
  j.chunk = N / tasks;
  lmf_parallel(tasks, squares_task, &j);
  double s = 0;
  for (long t = 0; t < tasks; t++) s += j.partial[t];
  long done = tasks * j.chunk;
  return s + row_dot(x + done, x + done, N - done);
}

typedef struct {
  float *param, *m, *v;
  const float *grad;
  float lr, beta1, beta2, eps, decay, gradScale, inv_bc1, inv_bc2;
} adamw_job;

/*
 * AdamW (Loshchilov & Hutter 2019) as in PyTorch: g = grad * gradScale;
 * m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; param -= lr * wd * param (decoupled);
 * param -= lr * (m / bc1) / (sqrt(v / bc2) + eps), bc = 1 - beta^step.
 * One pass over the four arrays (memory-bound: 16 bytes read, 12 written per element), the
 * parameters copied to locals so that the stores cannot alias them and the loop stays in
 * vectors; the divisions by bc1 and bc2 become multiplications by their reciprocals.
 */
static void adamw_range(void *ctx, long lo, long hi) {
  const adamw_job *j = ctx;
  float *restrict param = j->param, *restrict m = j->m, *restrict v = j->v;
  const float *restrict grad = j->grad;
  const float b1 = j->beta1, b2 = j->beta2, c1 = 1.0f - b1, c2 = 1.0f - b2, lr = j->lr, eps = j->eps;
  const float decay = j->decay, scale = j->gradScale, ib1 = j->inv_bc1, ib2 = j->inv_bc2;
  long i = lo;
  for (; i + VW <= hi; i += VW) {
    vf g = vload(grad + i) * scale;
    vf mi = b1 * vload(m + i) + c1 * g;
    vf vi = b2 * vload(v + i) + c2 * g * g;
    vstore(m + i, mi);
    vstore(v + i, vi);
    vstore(param + i, vload(param + i) * decay - lr * (mi * ib1) / (vsqrt(vi * ib2) + eps));
  }
  for (; i < hi; i++) {
    float g = grad[i] * scale;
    float mi = b1 * m[i] + c1 * g;
    float vi = b2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * decay - lr * (mi * ib1) / (sqrtf(vi * ib2) + eps);
  }
}

void LMF_FN(adamw)(float *param, const float *grad, float *m, float *v, long N, const lmf_adamw_params *p) {
  adamw_job j = {param, m, v, grad, p->lr, p->beta1, p->beta2, p->eps, 1.0f - p->lr * p->weightDecay,
                 p->gradScale, (float)(1.0 / (1.0 - pow(p->beta1, p->step))),
                 (float)(1.0 / (1.0 - pow(p->beta2, p->step)))};
  /* memory-bound: a second thread pays off only over a few hundred KB */
  lmf_parallel_range(N, 4 * ELEMENT_GRAIN, adamw_range, &j);
}
