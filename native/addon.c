/*
 * N-API glue: unpacks JavaScript arguments into pointers and sizes and calls the kernel
 * table. No math lives here. Typed arrays are passed zero-copy (napi_get_typedarray_info
 * gives the address of the JS array's own memory); argument checks that need shapes
 * (bounds, dtypes) are done by the TypeScript wrapper, src/backend/native/backend.ts.
 *
 * Every kernel call bumps a counter (calls()), so tests can prove the native path ran.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <stdio.h>
#include <string.h>

#include "lmf.h"

static const lmf_table *K;
static double call_count;

#define MAX_ARGS 24

/* ---- argument helpers: on a bad argument they throw a TypeError and set *ok = 0 ------ */

typedef struct {
  napi_env env;
  napi_value argv[MAX_ARGS];
  size_t argc;
  int ok;
} args;

static int get_args(napi_env env, napi_callback_info info, args *a, size_t want) {
  a->env = env;
  a->argc = MAX_ARGS;
  a->ok = 1;
  if (napi_get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != napi_ok || a->argc < want) {
    napi_throw_type_error(env, NULL, "lmforge native: wrong number of arguments");
    return 0;
  }
  call_count++;
  return 1;
}

static void fail(args *a, const char *what, size_t i) {
  if (!a->ok) return;
  char msg[160];
  snprintf(msg, sizeof msg, "lmforge native: argument %zu must be %s", i, what);
  napi_throw_type_error(a->env, NULL, msg);
  a->ok = 0;
}

static void *typed(args *a, size_t i, napi_typedarray_type want, int nullable) {
  if (!a->ok) return NULL;
  napi_valuetype vt;
  napi_typeof(a->env, a->argv[i], &vt);
  if (nullable && vt == napi_null) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data = NULL;
  bool is_typed = false;
  napi_is_typedarray(a->env, a->argv[i], &is_typed);
  if (!is_typed ||
      napi_get_typedarray_info(a->env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != want) {
    fail(a, want == napi_float32_array ? "a Float32Array" : want == napi_int32_array ? "an Int32Array"
            : want == napi_float64_array ? "a Float64Array" : "a 4-byte typed array", i);
    return NULL;
  }
  return data;
}

static float *f32(args *a, size_t i) { return typed(a, i, napi_float32_array, 0); }
static float *f32_or_null(args *a, size_t i) { return typed(a, i, napi_float32_array, 1); }
static int32_t *i32(args *a, size_t i) { return typed(a, i, napi_int32_array, 0); }
static double *f64(args *a, size_t i) { return typed(a, i, napi_float64_array, 0); }

/* Float32Array or Int32Array (copies move 4-byte elements whatever they mean) */
static uint32_t *word32(args *a, size_t i) {
  if (!a->ok) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data = NULL;
  bool is_typed = false;
  napi_is_typedarray(a->env, a->argv[i], &is_typed);
  if (!is_typed || napi_get_typedarray_info(a->env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      (type != napi_float32_array && type != napi_int32_array)) {
    fail(a, "a Float32Array or Int32Array", i);
    return NULL;
  }
  return data;
}

static double num(args *a, size_t i) {
  double v = 0;
  if (a->ok && napi_get_value_double(a->env, a->argv[i], &v) != napi_ok) fail(a, "a number", i);
  return v;
}

static long lng(args *a, size_t i) { return (long)num(a, i); }

static int flag(args *a, size_t i) {
  bool v = false;
  if (a->ok && napi_get_value_bool(a->env, a->argv[i], &v) != napi_ok) fail(a, "a boolean", i);
  return v;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

/* A layout block: Float64Array [nd, shape[nd], strides0[nd], strides1[nd]]. */
static int layout(args *a, size_t i, long *shape, long *s0, long *s1) {
  double *L = f64(a, i);
  if (L == NULL) return -1;
  int nd = (int)L[0];
  if (nd < 0 || nd > LMF_MAX_DIMS) {
    fail(a, "a layout of at most 16 dimensions", i);
    return -1;
  }
  for (int d = 0; d < nd; d++) {
    shape[d] = (long)L[1 + d];
    s0[d] = (long)L[1 + nd + d];
    s1[d] = (long)L[1 + 2 * nd + d];
  }
  return nd;
}

#define ENTRY(name) static napi_value name(napi_env env, napi_callback_info info)
#define ARGS(n)                                                                                              \
  args A;                                                                                                    \
  if (!get_args(env, info, &A, n)) return NULL
#define DONE return A.ok ? undefined(env) : NULL

/* ---- kernels ------------------------------------------------------------------------------ */

/* copyStrided(src, srcOffset, dst, dstOffset, layout [nd, shape, srcStrides, dstStrides]) */
ENTRY(copy_strided) {
  ARGS(5);
  long shape[LMF_MAX_DIMS], ss[LMF_MAX_DIMS], ds[LMF_MAX_DIMS];
  uint32_t *src = word32(&A, 0), *dst = word32(&A, 2);
  long so = lng(&A, 1), dof = lng(&A, 3);
  int nd = layout(&A, 4, shape, ss, ds);
  if (A.ok) K->copy_strided(src + so, dst + dof, nd, shape, ss, ds);
  DONE;
}

/* gemm(a, b, c, batch, m, n, k, transA, transB, lda, ldb, ldc, offA, offB, offC, strideA, strideB, strideC, alpha, beta) */
ENTRY(gemm) {
  ARGS(20);
  lmf_gemm_params p = {lng(&A, 3),  lng(&A, 4),  lng(&A, 5),  lng(&A, 6),  flag(&A, 7),
                       flag(&A, 8), lng(&A, 9),  lng(&A, 10), lng(&A, 11), lng(&A, 12),
                       lng(&A, 13), lng(&A, 14), lng(&A, 15), lng(&A, 16), lng(&A, 17),
                       (float)num(&A, 18), (float)num(&A, 19)};
  const float *a = f32(&A, 0), *b = f32(&A, 1);
  float *c = f32(&A, 2);
  if (A.ok) K->gemm(a, b, c, &p);
  DONE;
}

/* unary(op, x, y, N) */
ENTRY(unary) {
  ARGS(4);
  int op = (int)lng(&A, 0);
  const float *x = f32(&A, 1);
  float *y = f32(&A, 2);
  long N = lng(&A, 3);
  if (A.ok) K->unary(op, x, y, N);
  DONE;
}

/* unaryBackward(op, x, y, dy, dx, N) */
ENTRY(unary_backward) {
  ARGS(6);
  int op = (int)lng(&A, 0);
  const float *x = f32(&A, 1), *y = f32(&A, 2), *dy = f32(&A, 3);
  float *dx = f32(&A, 4);
  long N = lng(&A, 5);
  if (A.ok) K->unary_backward(op, x, y, dy, dx, N);
  DONE;
}

/* binary(op, a, offsetA, b, offsetB, out, layout [nd, shape, stridesA, stridesB]) */
ENTRY(binary) {
  ARGS(7);
  long shape[LMF_MAX_DIMS], sa[LMF_MAX_DIMS], sb[LMF_MAX_DIMS];
  int op = (int)lng(&A, 0);
  const float *a = f32(&A, 1), *b = f32(&A, 3);
  long oa = lng(&A, 2), ob = lng(&A, 4);
  float *out = f32(&A, 5);
  int nd = layout(&A, 6, shape, sa, sb);
  if (A.ok) K->binary(op, a + oa, b + ob, out, nd, shape, sa, sb);
  DONE;
}

/* affine(x, y, N, alpha, beta) */
ENTRY(affine) {
  ARGS(5);
  const float *x = f32(&A, 0);
  float *y = f32(&A, 1);
  if (A.ok) K->affine(x, y, lng(&A, 2), (float)num(&A, 3), (float)num(&A, 4));
  DONE;
}

/* reduceSum(x, out, outer, R, inner) */
ENTRY(reduce_sum) {
  ARGS(5);
  const float *x = f32(&A, 0);
  float *out = f32(&A, 1);
  long outer = lng(&A, 2), R = lng(&A, 3), inner = lng(&A, 4);
  if (A.ok) K->reduce_sum(x, out, outer, R, inner);
  DONE;
}

/* reduceMax(x, out, argmax | null, outer, R, inner) */
ENTRY(reduce_max) {
  ARGS(6);
  const float *x = f32(&A, 0);
  float *out = f32(&A, 1);
  int32_t *arg = typed(&A, 2, napi_int32_array, 1);
  long outer = lng(&A, 3), R = lng(&A, 4), inner = lng(&A, 5);
  if (A.ok) K->reduce_max(x, out, arg, outer, R, inner);
  DONE;
}

/* softmax(x, y, rows, C, log) */
ENTRY(softmax) {
  ARGS(5);
  const float *x = f32(&A, 0);
  float *y = f32(&A, 1);
  long rows = lng(&A, 2), C = lng(&A, 3);
  int log = flag(&A, 4);
  if (A.ok) K->softmax(x, y, rows, C, log);
  DONE;
}

/* softmaxBackward(y, dy, dx, rows, C, log) */
ENTRY(softmax_backward) {
  ARGS(6);
  const float *y = f32(&A, 0), *dy = f32(&A, 1);
  float *dx = f32(&A, 2);
  long rows = lng(&A, 3), C = lng(&A, 4);
  int log = flag(&A, 5);
  if (A.ok) K->softmax_backward(y, dy, dx, rows, C, log);
  DONE;
}

/* crossEntropyForward(logits, targets, losses, lse, rows, V, ignoreIndex, labelSmoothing) */
ENTRY(ce_forward) {
  ARGS(8);
  const float *logits = f32(&A, 0);
  const int32_t *targets = i32(&A, 1);
  float *losses = f32(&A, 2), *lse = f32(&A, 3);
  long rows = lng(&A, 4), V = lng(&A, 5), ignore = lng(&A, 6);
  float eps = (float)num(&A, 7);
  if (A.ok) K->ce_forward(logits, targets, losses, lse, rows, V, ignore, eps);
  DONE;
}

/* crossEntropyBackward(logits, targets, lse, dlosses, dlogits, rows, V, ignoreIndex, labelSmoothing) */
ENTRY(ce_backward) {
  ARGS(9);
  const float *logits = f32(&A, 0);
  const int32_t *targets = i32(&A, 1);
  const float *lse = f32(&A, 2), *dlosses = f32(&A, 3);
  float *dlogits = f32(&A, 4);
  long rows = lng(&A, 5), V = lng(&A, 6), ignore = lng(&A, 7);
  float eps = (float)num(&A, 8);
  if (A.ok) K->ce_backward(logits, targets, lse, dlosses, dlogits, rows, V, ignore, eps);
  DONE;
}

/* layerNormForward(x, weight | null, bias | null, y, mean, rstd, rows, C, eps) */
ENTRY(layernorm_forward) {
  ARGS(9);
  const float *x = f32(&A, 0), *w = f32_or_null(&A, 1), *b = f32_or_null(&A, 2);
  float *y = f32(&A, 3), *mean = f32(&A, 4), *rstd = f32(&A, 5);
  long rows = lng(&A, 6), C = lng(&A, 7);
  float eps = (float)num(&A, 8);
  if (A.ok) K->layernorm_forward(x, w, b, y, mean, rstd, rows, C, eps);
  DONE;
}

/* layerNormBackward(dy, x, weight | null, mean, rstd, dx, dweight | null, dbias | null, rows, C) */
ENTRY(layernorm_backward) {
  ARGS(10);
  const float *dy = f32(&A, 0), *x = f32(&A, 1), *w = f32_or_null(&A, 2), *mean = f32(&A, 3), *rstd = f32(&A, 4);
  float *dx = f32(&A, 5), *dw = f32_or_null(&A, 6), *db = f32_or_null(&A, 7);
  long rows = lng(&A, 8), C = lng(&A, 9);
  if (A.ok) K->layernorm_backward(dy, x, w, mean, rstd, dx, dw, db, rows, C);
  DONE;
}

/* rmsNormForward(x, weight | null, y, rstd, rows, C, eps) */
ENTRY(rmsnorm_forward) {
  ARGS(7);
  const float *x = f32(&A, 0), *w = f32_or_null(&A, 1);
  float *y = f32(&A, 2), *rstd = f32(&A, 3);
  long rows = lng(&A, 4), C = lng(&A, 5);
  float eps = (float)num(&A, 6);
  if (A.ok) K->rmsnorm_forward(x, w, y, rstd, rows, C, eps);
  DONE;
}

/* rmsNormBackward(dy, x, weight | null, rstd, dx, dweight | null, rows, C) */
ENTRY(rmsnorm_backward) {
  ARGS(8);
  const float *dy = f32(&A, 0), *x = f32(&A, 1), *w = f32_or_null(&A, 2), *rstd = f32(&A, 3);
  float *dx = f32(&A, 4), *dw = f32_or_null(&A, 5);
  long rows = lng(&A, 6), C = lng(&A, 7);
  if (A.ok) K->rmsnorm_backward(dy, x, w, rstd, dx, dw, rows, C);
  DONE;
}

/* embeddingForward(weight, ids, out, N, C) */
ENTRY(embedding_forward) {
  ARGS(5);
  const float *w = f32(&A, 0);
  const int32_t *ids = i32(&A, 1);
  float *out = f32(&A, 2);
  long N = lng(&A, 3), C = lng(&A, 4);
  if (A.ok) K->embedding_forward(w, ids, out, N, C);
  DONE;
}

/* embeddingBackward(dout, ids, dweight, N, C) */
ENTRY(embedding_backward) {
  ARGS(5);
  const float *dout = f32(&A, 0);
  const int32_t *ids = i32(&A, 1);
  float *dw = f32(&A, 2);
  long N = lng(&A, 3), C = lng(&A, 4);
  if (A.ok) K->embedding_backward(dout, ids, dw, N, C);
  DONE;
}

/* attention params from a Float64Array
 * [B, nH, nKV, Tq, Tk, hs, scale, causal, causalOffset, maskStrideB, maskStrideH, maskStrideQ, maskOffset,
 *  dropout, dropoutSeed, dropThreshold, dropKeep]; the last two come from the TS side
 *  (src/tensor/ops/attention-dropout.ts), so the rule that derives them lives in one place */
static void attn_params(args *a, size_t i, size_t mask_arg, lmf_attn_params *p) {
  double *P = f64(a, i);
  if (P == NULL) return;
  *p = (lmf_attn_params){(long)P[0], (long)P[1], (long)P[2], (long)P[3], (long)P[4], (long)P[5], (float)P[6],
                         P[7] != 0, (long)P[8], f32_or_null(a, mask_arg), (long)P[9], (long)P[10], (long)P[11],
                         (long)P[12], P[13] > 0, (uint32_t)P[14], (uint32_t)P[15], (float)P[16]};
}

/* attentionForward(q, k, v, out, lse, mask | null, params) */
ENTRY(attention_forward) {
  ARGS(7);
  const float *q = f32(&A, 0), *k = f32(&A, 1), *v = f32(&A, 2);
  float *out = f32(&A, 3), *lse = f32(&A, 4);
  lmf_attn_params p;
  attn_params(&A, 6, 5, &p);
  if (A.ok) K->attention_forward(q, k, v, out, lse, &p);
  DONE;
}

/* attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, mask | null, params) */
ENTRY(attention_backward) {
  ARGS(11);
  const float *q = f32(&A, 0), *k = f32(&A, 1), *v = f32(&A, 2), *out = f32(&A, 3), *lse = f32(&A, 4),
              *dout = f32(&A, 5);
  float *dq = f32(&A, 6), *dk = f32(&A, 7), *dv = f32(&A, 8);
  lmf_attn_params p;
  attn_params(&A, 10, 9, &p);
  if (A.ok) K->attention_backward(q, k, v, out, lse, dout, dq, dk, dv, &p);
  DONE;
}

/* sumOfSquares(x, N) -> number */
ENTRY(sum_of_squares) {
  ARGS(2);
  const float *x = f32(&A, 0);
  long N = lng(&A, 1);
  if (!A.ok) return NULL;
  return number(env, K->sum_of_squares(x, N));
}

/* adamw(param, grad, m, v, N, lr, beta1, beta2, eps, weightDecay, step, gradScale) */
ENTRY(adamw) {
  ARGS(12);
  float *param = f32(&A, 0), *m = f32(&A, 2), *v = f32(&A, 3);
  const float *grad = f32(&A, 1);
  long N = lng(&A, 4);
  lmf_adamw_params p = {(float)num(&A, 5), (float)num(&A, 6), (float)num(&A, 7), (float)num(&A, 8),
                        (float)num(&A, 9), (float)num(&A, 11), num(&A, 10)};
  if (A.ok) K->adamw(param, grad, m, v, N, &p);
  DONE;
}

/* ---- control ------------------------------------------------------------------------------- */

static napi_value string(napi_env env, const char *s) {
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

ENTRY(isa) {
  (void)info;
  return string(env, K->isa);
}

/* useIsa(name) -> boolean: switch kernel tables (for tests and benchmarks) */
ENTRY(use_isa) {
  size_t argc = 1;
  napi_value argv[1];
  char name[32] = {0};
  size_t len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "lmforge native: useIsa(name) needs a string");
    return NULL;
  }
  const lmf_table *t = lmf_kernels_for(name);
  if (t != NULL) K = t;
  napi_value r;
  napi_get_boolean(env, t != NULL, &r);
  return r;
}

ENTRY(threads) {
  (void)info;
  return number(env, lmf_threads());
}

ENTRY(set_threads) {
  size_t argc = 1;
  napi_value argv[1];
  double n = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_double(env, argv[0], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "lmforge native: setThreads(n) needs a number");
    return NULL;
  }
  if (lmf_set_threads((int)n) != 0) {
    napi_throw_error(env, NULL, "lmforge native: could not start the requested threads");
    return NULL;
  }
  return undefined(env);
}

ENTRY(cpu_count) {
  (void)info;
  return number(env, lmf_cpu_count());
}

ENTRY(calls) {
  (void)info;
  return number(env, call_count);
}

/* copyBandwidth(bytes, reps) -> GB/s */
ENTRY(copy_bandwidth) {
  size_t argc = 2;
  napi_value argv[2];
  double bytes = 0, reps = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_double(env, argv[0], &bytes) != napi_ok ||
      napi_get_value_double(env, argv[1], &reps) != napi_ok) {
    napi_throw_type_error(env, NULL, "lmforge native: copyBandwidth(bytes, reps) needs two numbers");
    return NULL;
  }
  return number(env, lmf_copy_bandwidth((size_t)bytes, (int)reps));
}

/* forceGemvStrategy(name | null) -> boolean: one strategy for every GEMV (tests and
 * benchmarks), or null for the default (measured per shape); false for an unknown name */
ENTRY(force_gemv_strategy) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype vt = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &vt);
  int strategy = -1, known = vt == napi_null;
  if (vt == napi_string) {
    char name[32] = {0};
    size_t len;
    napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len);
    for (int s = 0; s < LMF_GEMV_STRATEGIES; s++)
      if (strcmp(name, lmf_gemv_strategy_name(s)) == 0) strategy = s, known = 1;
  } else if (vt != napi_null) {
    napi_throw_type_error(env, NULL, "lmforge native: forceGemvStrategy(name) needs a string or null");
    return NULL;
  }
  if (known) lmf_gemv_force(strategy);
  napi_value r;
  napi_get_boolean(env, known, &r);
  return r;
}

/* gemvChoice(rows, cols, ld) -> name | null: the strategy measured for y = M x with M (rows,
 * cols) of row stride ld, on the kernel table and thread count in use; null when none yet */
ENTRY(gemv_choice) {
  size_t argc = 3;
  napi_value argv[3];
  double d[3] = {0, 0, 0};
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < 3; i++)
    if (argc < 3 || napi_get_value_double(env, argv[i], &d[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "lmforge native: gemvChoice(rows, cols, ld) needs three numbers");
      return NULL;
    }
  lmf_gemv_key key = {K->isa, (long)d[0], (long)d[1], (long)d[2], lmf_threads()};
  const char *name = lmf_gemv_strategy_name(lmf_gemv_lookup(&key));
  if (name != NULL) return string(env, name);
  napi_value r;
  napi_get_null(env, &r);
  return r;
}

ENTRY(forget_gemv_choices) {
  (void)info;
  lmf_gemv_forget();
  return undefined(env);
}

static napi_value init(napi_env env, napi_value exports) {
  K = lmf_kernels();
  lmf_set_threads(lmf_cpu_count());
  napi_property_descriptor props[] = {
#define FN(js, c) {js, NULL, c, NULL, NULL, NULL, napi_default, NULL}
      FN("copyStrided", copy_strided),
      FN("gemm", gemm),
      FN("unary", unary),
      FN("unaryBackward", unary_backward),
      FN("binary", binary),
      FN("affine", affine),
      FN("reduceSum", reduce_sum),
      FN("reduceMax", reduce_max),
      FN("softmax", softmax),
      FN("softmaxBackward", softmax_backward),
      FN("crossEntropyForward", ce_forward),
      FN("crossEntropyBackward", ce_backward),
      FN("layerNormForward", layernorm_forward),
      FN("layerNormBackward", layernorm_backward),
      FN("rmsNormForward", rmsnorm_forward),
      FN("rmsNormBackward", rmsnorm_backward),
      FN("embeddingForward", embedding_forward),
      FN("embeddingBackward", embedding_backward),
      FN("attentionForward", attention_forward),
      FN("attentionBackward", attention_backward),
      FN("sumOfSquares", sum_of_squares),
      FN("adamw", adamw),
      FN("isa", isa),
      FN("useIsa", use_isa),
      FN("threads", threads),
      FN("setThreads", set_threads),
      FN("cpuCount", cpu_count),
      FN("calls", calls),
      FN("copyBandwidth", copy_bandwidth),
      FN("forceGemvStrategy", force_gemv_strategy),
      FN("gemvChoice", gemv_choice),
      FN("forgetGemvChoices", forget_gemv_choices),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
