/*
 * N-API glue: unpacks JavaScript arguments into pointers and sizes and calls the kernel
 * table. No math lives here. Typed arrays are passed zero-copy (napi_get_typedarray_info
 * gives the address of the JS array's own memory); argument checks that need shapes
 * (bounds, dtypes) are done by the TypeScript wrappers (src/backend/native/kernels.gen.ts,
 * checks.ts). The kernel entries themselves are generated from the kernel manifest
 * (src/backend/manifest.ts) into kernels.gen.h; this file holds their argument helpers and
 * the controls (ISA, threads, GEMV strategies, manifestHash for the loader's handshake).
 *
 * Every kernel call bumps a counter (calls()), so tests can prove the native path ran.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <stdio.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

/* The data of typed array argument i of type `want` (NULL for null when nullable); its
 * element count goes to *count when count is not NULL. */
static void *typed_n(args *a, size_t i, napi_typedarray_type want, int nullable, size_t *count) {
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
            : want == napi_float64_array ? "a Float64Array" : want == napi_uint8_array ? "a Uint8Array"
            : "a 4-byte typed array", i);
    return NULL;
  }
  if (count != NULL) *count = length;
  return data;
}

static void *typed(args *a, size_t i, napi_typedarray_type want, int nullable) {
  return typed_n(a, i, want, nullable, NULL);
}

/* A Float64Array of at least min_length elements (a parameter block or a layout). */
static double *f64(args *a, size_t i, size_t min_length) {
  size_t length = 0;
  double *p = typed_n(a, i, napi_float64_array, 0, &length);
  if (p != NULL && length < min_length) {
    fail(a, "a longer Float64Array (a parameter block of the kernel manifest)", i);
    return NULL;
  }
  return p;
}

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
  size_t length = 0;
  double *L = typed_n(a, i, napi_float64_array, 0, &length);
  if (L == NULL) return -1;
  int nd = length >= 1 ? (int)L[0] : -1;
  if (nd < 0 || nd > LMF_MAX_DIMS || length < (size_t)(1 + 3 * nd)) {
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

/* a code of an enum with `count` names (the manifest's op lists) */
static int op_code(args *a, size_t i, int count) {
  long v = lng(a, i);
  if (a->ok && (v < 0 || v >= count)) fail(a, "an op code of the kernel manifest", i);
  return (int)v;
}

/* ---- kernels: one entry per manifest line (kernels.gen.h) -------------------------------- */

#define LMF_NAPI_ENTRIES
#include "kernels.gen.h"

#define ENTRY(name) static napi_value name(napi_env env, napi_callback_info info)

/* ---- control ------------------------------------------------------------------------------- */

static napi_value string(napi_env env, const char *s) {
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

/* manifestHash() -> the kernel manifest this addon was built from (the loader's handshake) */
ENTRY(manifest_hash) {
  (void)info;
  return string(env, LMF_MANIFEST_HASH);
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

/* trimMemory() -> boolean: hands the C heap's free memory back to the OS (glibc's malloc_trim:
 * the free chunks of every arena, not only the top of the heap), true when some was; false
 * where the C library has no such call. A server calls it when it goes idle after a load. */
ENTRY(trim_memory) {
  (void)info;
  napi_value r;
#if defined(__GLIBC__)
  napi_get_boolean(env, malloc_trim(0) != 0, &r);
#else
  napi_get_boolean(env, false, &r);
#endif
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
      LMF_KERNEL_PROPERTIES(FN)
      FN("manifestHash", manifest_hash),
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
      FN("trimMemory", trim_memory),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
