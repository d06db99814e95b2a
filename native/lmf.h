/*
 * lmforge native kernels: shared declarations.
 *
 * Every kernel is a pure C function over flat float32 buffers and sizes (no N-API, no
 * allocation in hot paths). The kernel sources (gemm.c, elementwise.c, nn.c, attention.c, moe.c,
 * rope.c, table.c) are compiled three times, once per instruction set (binding.gyp), with
 * LMF_ISA set to avx512, avx2 or portable; LMF_FN(name) gives each copy its own symbol
 * name, and dispatch.c picks one table at load time with __builtin_cpu_supports.
 *
 * Legend (as in src/tensor/backend.ts): B batch, T time, C channels, V vocab, nH query
 * heads, nKV key/value heads, hs head size, Tq/Tk query/key lengths, N element count.
 */
#ifndef LMF_H
#define LMF_H

#include <stddef.h>
#include <stdint.h>

#define LMF_CAT2(a, b) a##_##b
#define LMF_CAT(a, b) LMF_CAT2(a, b)
#define LMF_STR2(x) #x
#define LMF_STR(x) LMF_STR2(x)
#ifdef LMF_ISA
#define LMF_FN(name) LMF_CAT(name, LMF_ISA)
#define LMF_ISA_NAME LMF_STR(LMF_ISA)
#endif

/* ---- thread pool (pool.c, compiled once) ------------------------------------------ */

/* One task of a parallel loop: `task` in [0, ntasks), `tid` in [0, threads) names the
 * thread running it (for per-thread scratch). */
typedef void (*lmf_task_fn)(void *ctx, long task, int tid);

/* Runs fn for every task on up to lmf_threads() threads; the calling thread takes tasks
 * too and returns when all are done. Idle workers sleep on a condition variable. */
void lmf_parallel(long ntasks, lmf_task_fn fn, void *ctx);
int lmf_threads(void);
/* Resizes the pool (n >= 1); returns 0, or -1 when a thread could not be created. */
int lmf_set_threads(int n);
int lmf_cpu_count(void);

/* How many tasks to split n items into so that each has at least `grain` items. */
long lmf_chunks(long n, long grain);

/* Runs fn over [0, n) split into lmf_chunks(n, grain) contiguous ranges, in parallel
 * (ranges of 64 items or more are multiples of 16, except the last). */
typedef void (*lmf_range_fn)(void *ctx, long lo, long hi);
void lmf_parallel_range(long n, long grain, lmf_range_fn fn, void *ctx);

/* Per-thread scratch (pool.c): a 64-byte aligned buffer of at least `floats` floats,
 * owned by the calling thread, grown on demand and never freed (no per-call allocation).
 * `slot` separates independent buffers of one thread (0..4; 4 is the decode step's, decode.c).
 * NULL when out of memory. */
float *lmf_scratch(int slot, size_t floats);

/* ---- per-shape GEMV strategies (tune.c, compiled once) -------------------------------- */

/* How a matrix-vector product whose dots run over rows of its matrix (y = M x, the x W^T of
 * nn.Linear) prefetches that matrix (gemm.c). Every strategy gives bit-identical results. */
enum {
  LMF_GEMV_KEEP,   /* prefetcht0: the matrix may stay in the caches */
  LMF_GEMV_STREAM, /* prefetchnta: pass it through without evicting what is cached */
  LMF_GEMV_STRATEGIES
};

/* A shape as the choice is kept: ISA (its kernels differ), matrix, and thread count. */
typedef struct {
  const char *isa;
  long rows, cols, ld;
  int threads;
} lmf_gemv_key;

/* The strategy measured for key, or -1 when it has not been measured yet. */
int lmf_gemv_lookup(const lmf_gemv_key *key);
void lmf_gemv_store(const lmf_gemv_key *key, int strategy);
/* Drops every measured choice (the next product of each shape measures again). */
void lmf_gemv_forget(void);
/* A strategy forced on every product (tests, benchmarks), or -1 (the default): measured per shape. */
int lmf_gemv_forced(void);
void lmf_gemv_force(int strategy);
/* "keep", "stream", or NULL for a value that names none */
const char *lmf_gemv_strategy_name(int strategy);

/* ---- generated from the kernel manifest (src/backend/manifest.ts) ------------------------
 * op codes (LMF_NEG, ..., LMF_ADD, ...), the parameter structs (lmf_gemm_params,
 * lmf_attn_params, lmf_adamw_params), LMF_KERNEL_LIST and LMF_MANIFEST_HASH. */
#include "kernels.gen.h"

#define LMF_MAX_DIMS 16

/* ---- the kernel table: one per instruction set ------------------------------------- */

/* One function pointer per manifest kernel, named by its C name. */
typedef struct {
  const char *isa;
#define LMF_TABLE_FIELD(c, ret, params) ret(*c) params;
  LMF_KERNEL_LIST(LMF_TABLE_FIELD)
#undef LMF_TABLE_FIELD
} lmf_table;

extern const lmf_table lmf_table_avx512, lmf_table_avx2, lmf_table_portable;

/* dispatch.c: the table for this CPU (chosen once). */
const lmf_table *lmf_kernels(void);
/* the table for one ISA ("avx512", "avx2", "portable"), or NULL when this CPU lacks it */
const lmf_table *lmf_kernels_for(const char *isa);

/* probe.c: memcpy bandwidth in GB/s (bytes read + written per second) over `bytes`
 * buffers, best of `reps`, on up to lmf_threads() threads. */
double lmf_copy_bandwidth(size_t bytes, int reps);

#endif
