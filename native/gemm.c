/*
 * SGEMM: C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, any transposes, leading
 * dimensions, offsets and batch strides (GemmParams in src/tensor/backend.ts).
 *
 * The BLIS scheme (Van Zee & van de Geijn, "BLIS: A Framework for Rapidly Instantiating
 * BLAS Functionality", 2015): B is packed in KC x NC blocks of NR-wide column panels, A in
 * MC x KC blocks of MR-tall row panels, and a register-blocked MR x NR micro-kernel runs
 * over the packed panels with the B micro-panel held in L1 and the A block in L2. Packing
 * absorbs the transposes, so one micro-kernel serves all four combinations. Edge tiles run
 * the same kernel into a small buffer. Matrix-vector shapes (m == 1 or n == 1) skip the
 * packing and stream the matrix once (gemv_n / gemv_t), which is what a decode step needs,
 * and so do skinny products (m <= LMF_SKINNY_M: a batched decode step), one vector per row
 * of A with the one-vector arithmetic, so that a row's result does not depend on m;
 * the dot form (y = M x, nn.Linear's x W^T) reads large matrices with the prefetch strategy
 * measured fastest for their shape on this host (tune.c).
 *
 * Threads: tasks are (batch, block of M or N); each task packs its own panels into the
 * running thread's scratch buffers (allocated once and grown, never per call).
 *
 * The grouped GEMM of the mixture-of-experts layers (GroupedGemmParams) runs the same blocked
 * product over each expert's contiguous row group, all groups in one parallel loop.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>
#include <time.h>

#if VW == 16
/* 14 x 32: 28 zmm accumulators + 2 B vectors + 1 broadcast of Zen 4/5's 32 registers */
#define MR 14
#ifndef MCF
#define MCF 24
#endif
#define MC (MR * MCF)
#else
/* 6 x 16 (AVX2) or 6 x 8 (SSE): 12 accumulators + 2 B + 1 broadcast of 16 registers */
#define MR 6
#ifndef MCF
#define MCF 24
#endif
#define MC (MR * MCF)
#endif
#define NR (2 * VW)
/* Products with at most this many rows run as GEMVs over one read of B (batch invariance
 * for batched decoding: src/generate/batch-engine.ts relies on it up to this batch). */
#ifndef LMF_SKINNY_M
#define LMF_SKINNY_M 64
#endif
#ifndef KC
#define KC 256
#endif
#ifndef NC
#define NC 3072
#endif

/* ---- packing -------------------------------------------------------------------------- */

/* op(A)(i, p) = a[i * rs + p * cs]; writes ceil(mc / MR) panels of (kc, MR), zero-padded. */
static void pack_a(long mc, long kc, const float *a, long rs, long cs, float *dst) {
  for (long ir = 0; ir < mc; ir += MR) {
    long mr = mc - ir < MR ? mc - ir : MR;
    if (rs == 1) {
      /* A stored transposed: each p gives MR consecutive values */
      for (long p = 0; p < kc; p++) {
        const float *src = a + ir + p * cs;
        float *d = dst + p * MR;
        long i = 0;
        for (; i < mr; i++) d[i] = src[i];
        for (; i < MR; i++) d[i] = 0;
      }
    } else {
      for (long i = 0; i < MR; i++) {
        if (i < mr) {
          const float *src = a + (ir + i) * rs;
          for (long p = 0; p < kc; p++) dst[p * MR + i] = src[p * cs];
        } else {
          for (long p = 0; p < kc; p++) dst[p * MR + i] = 0;
        }
      }
    }
    dst += MR * kc;
  }
}

/* op(B)(p, j) = b[p * rs + j * cs]; writes ceil(nc / NR) panels of (kc, NR), zero-padded. */
static void pack_b(long kc, long nc, const float *b, long rs, long cs, float *dst) {
  for (long jr = 0; jr < nc; jr += NR) {
    long nr = nc - jr < NR ? nc - jr : NR;
    if (cs == 1 && nr == NR) {
      for (long p = 0; p < kc; p++) {
        const float *src = b + p * rs + jr;
        vstore(dst + p * NR, vload(src));
        vstore(dst + p * NR + VW, vload(src + VW));
      }
    } else if (cs == 1) {
      for (long p = 0; p < kc; p++) {
        const float *src = b + p * rs + jr;
        long j = 0;
        for (; j < nr; j++) dst[p * NR + j] = src[j];
        for (; j < NR; j++) dst[p * NR + j] = 0;
      }
    } else {
      for (long j = 0; j < NR; j++) {
        if (j < nr) {
          const float *src = b + (jr + j) * cs;
          for (long p = 0; p < kc; p++) dst[p * NR + j] = src[p * rs];
        } else {
          for (long p = 0; p < kc; p++) dst[p * NR + j] = 0;
        }
      }
    }
    dst += NR * kc;
  }
}

/* ---- micro-kernel ------------------------------------------------------------------ */

/*
 * c (MR, NR) = alpha * a (MR, kc) b (kc, NR) + beta * c, a and b packed panels.
 * beta == 0 never reads c. The accumulators live in registers for the whole k loop.
 */
static inline __attribute__((always_inline)) void micro_kernel(long kc, const float *restrict a,
                                                               const float *restrict b, float *c, long ldc,
                                                               float alpha, float beta) {
  vf c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) c0[i] = c1[i] = (vf){0};
  /* The C tile is read (beta != 0, and every k block after the first) and written only
   * after the k loop: fetching it now hides its misses behind the loop (+10% at 4096^3). */
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    __builtin_prefetch(c + i * ldc, 1, 3);
    __builtin_prefetch(c + i * ldc + VW, 1, 3);
  }
  for (long p = 0; p < kc; p++) {
    vf b0 = vload(b), b1 = vload(b + VW);
    __builtin_prefetch(a + 8 * MR);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      vf ai = vsplat(a[i]);
      c0[i] += ai * b0;
      c1[i] += ai * b1;
    }
    a += MR;
    b += NR;
  }
  if (beta == 0) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      vstore(c + i * ldc, alpha * c0[i]);
      vstore(c + i * ldc + VW, alpha * c1[i]);
    }
  } else {
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      vstore(c + i * ldc, beta * vload(c + i * ldc) + alpha * c0[i]);
      vstore(c + i * ldc + VW, beta * vload(c + i * ldc + VW) + alpha * c1[i]);
    }
  }
}

/* ---- blocked product of one sub-matrix -------------------------------------------------- */

typedef struct {
  const float *a; /* op(A)(i, p) = a[i * ars + p * acs] */
  long ars, acs;
  const float *b; /* op(B)(p, j) = b[p * brs + j * bcs] */
  long brs, bcs;
  float *c;
  long ldc, m, n, k;
  float alpha, beta;
} block_job;

static void edge_tile(long kc, const float *pa, const float *pb, float *c, long ldc, long mr, long nr,
                      float alpha, float beta) {
  float tmp[MR * NR] __attribute__((aligned(64)));
  micro_kernel(kc, pa, pb, tmp, NR, 1.0f, 0.0f);
  for (long i = 0; i < mr; i++)
    for (long j = 0; j < nr; j++) {
      float v = alpha * tmp[i * NR + j];
      c[i * ldc + j] = beta == 0 ? v : beta * c[i * ldc + j] + v;
    }
}

static void gemm_block(const block_job *g, int tid) {
  (void)tid;
  long kcmax = g->k < KC ? g->k : KC;
  long ncmax = g->n < NC ? g->n : NC;
  long mcmax = g->m < MC ? g->m : MC;
  float *pa = lmf_scratch(0, (size_t)((mcmax + MR - 1) / MR * MR * kcmax));
  float *pb = lmf_scratch(1, (size_t)((ncmax + NR - 1) / NR * NR * kcmax));
  if (pa == NULL || pb == NULL) abort(); /* out of memory while growing scratch: nothing sane to do */
  for (long jc = 0; jc < g->n; jc += NC) {
    long nc = g->n - jc < NC ? g->n - jc : NC;
    for (long pc = 0; pc < g->k; pc += KC) {
      long kc = g->k - pc < KC ? g->k - pc : KC;
      float beta = pc == 0 ? g->beta : 1.0f;
      pack_b(kc, nc, g->b + pc * g->brs + jc * g->bcs, g->brs, g->bcs, pb);
      for (long ic = 0; ic < g->m; ic += MC) {
        long mc = g->m - ic < MC ? g->m - ic : MC;
        pack_a(mc, kc, g->a + ic * g->ars + pc * g->acs, g->ars, g->acs, pa);
        for (long jr = 0; jr < nc; jr += NR) {
          long nr = nc - jr < NR ? nc - jr : NR;
          const float *pbj = pb + jr * kc;
          for (long ir = 0; ir < mc; ir += MR) {
            long mr = mc - ir < MR ? mc - ir : MR;
            float *c = g->c + (ic + ir) * g->ldc + jc + jr;
            if (mr == MR && nr == NR)
              micro_kernel(kc, pa + ir * kc, pbj, c, g->ldc, g->alpha, beta);
            else
              edge_tile(kc, pa + ir * kc, pbj, c, g->ldc, mr, nr, g->alpha, beta);
          }
        }
      }
    }
  }
}

/* ---- matrix-vector ----------------------------------------------------------------- */

/*
 * y[r * incy] = alpha * dot(M[r, :cols], x) + beta * y[r * incy] for r in [r0, r1), the
 * matrix prefetched as `strategy` says (a constant once inlined: one loop per strategy).
 * The strategies differ only in prefetch hints, so they give bit-identical results.
 */
static inline __attribute__((always_inline)) void gemv_n_rows_as(int strategy, long r0, long r1, long cols,
                                                                 const float *M, long ld, const float *x,
                                                                 float *y, long incy, float alpha, float beta) {
  long r = r0;
  for (; r + 4 <= r1; r += 4) {
    const float *m0 = M + r * ld, *m1 = m0 + ld, *m2 = m1 + ld, *m3 = m2 + ld;
    vf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    long j = 0;
    for (; j + VW <= cols; j += VW) {
      vf xv = vload(x + j);
      /* The next four rows: rows of a few hundred floats are streams too short for the
       * hardware prefetcher to lock on to. */
      if (strategy == LMF_GEMV_STREAM) {
        __builtin_prefetch(m0 + 4 * ld + j, 0, 0);
        __builtin_prefetch(m1 + 4 * ld + j, 0, 0);
        __builtin_prefetch(m2 + 4 * ld + j, 0, 0);
        __builtin_prefetch(m3 + 4 * ld + j, 0, 0);
      } else {
        __builtin_prefetch(m0 + 4 * ld + j, 0, 3);
        __builtin_prefetch(m1 + 4 * ld + j, 0, 3);
        __builtin_prefetch(m2 + 4 * ld + j, 0, 3);
        __builtin_prefetch(m3 + 4 * ld + j, 0, 3);
      }
      s0 += vload(m0 + j) * xv;
      s1 += vload(m1 + j) * xv;
      s2 += vload(m2 + j) * xv;
      s3 += vload(m3 + j) * xv;
    }
    float t0 = vsum(s0), t1 = vsum(s1), t2 = vsum(s2), t3 = vsum(s3);
    for (; j < cols; j++) {
      t0 += m0[j] * x[j];
      t1 += m1[j] * x[j];
      t2 += m2[j] * x[j];
      t3 += m3[j] * x[j];
    }
    float t[4] = {t0, t1, t2, t3};
    for (int q = 0; q < 4; q++) {
      float *yq = y + (r + q) * incy;
      *yq = beta == 0 ? alpha * t[q] : alpha * t[q] + beta * *yq;
    }
  }
  for (; r < r1; r++) {
    const float *m0 = M + r * ld;
    vf s0 = {0}, s1 = {0};
    long j = 0;
    for (; j + 2 * VW <= cols; j += 2 * VW) {
      s0 += vload(m0 + j) * vload(x + j);
      s1 += vload(m0 + j + VW) * vload(x + j + VW);
    }
    float t = vsum(s0 + s1);
    for (; j < cols; j++) t += m0[j] * x[j];
    float *yr = y + r * incy;
    *yr = beta == 0 ? alpha * t : alpha * t + beta * *yr;
  }
}

static void gemv_n_rows(int strategy, long r0, long r1, long cols, const float *M, long ld, const float *x,
                        float *y, long incy, float alpha, float beta) {
  if (strategy == LMF_GEMV_STREAM)
    gemv_n_rows_as(LMF_GEMV_STREAM, r0, r1, cols, M, ld, x, y, incy, alpha, beta);
  else
    gemv_n_rows_as(LMF_GEMV_KEEP, r0, r1, cols, M, ld, x, y, incy, alpha, beta);
}

/* acc[j] += sum_q x8[q] M[q, j] over eight rows of M (ld apart), j in [0, w): the one 8-row step
 * of the axpy form, inlined into the one-vector and the several-vector loops alike, so that an
 * output gets the same arithmetic in both. Columns past the last whole vector take the scalar
 * loop; callers start blocks at multiples of VW, so which columns do depends on j1 only. */
static inline __attribute__((always_inline)) void axpy_rows8(float *acc, const float *m0, long ld,
                                                             const float *x8, long w) {
  vf v[8];
  for (int q = 0; q < 8; q++) v[q] = vsplat(x8[q]);
  long j = 0;
  for (; j + VW <= w; j += VW) {
    vf s = vload(acc + j);
    s += v[0] * vload(m0 + j) + v[1] * vload(m0 + ld + j);
    s += v[2] * vload(m0 + 2 * ld + j) + v[3] * vload(m0 + 3 * ld + j);
    s += v[4] * vload(m0 + 4 * ld + j) + v[5] * vload(m0 + 5 * ld + j);
    s += v[6] * vload(m0 + 6 * ld + j) + v[7] * vload(m0 + 7 * ld + j);
    vstore(acc + j, s);
  }
  for (; j < w; j++)
    for (int q = 0; q < 8; q++) acc[j] += x8[q] * m0[q * ld + j];
}

/* acc[j] += x0 M[0, j]: the rows left after the 8-row steps. */
static inline __attribute__((always_inline)) void axpy_row(float *acc, const float *m0, float x0, long w) {
  for (long j = 0; j < w; j++) acc[j] += x0 * m0[j];
}

/* y[j * incy] = alpha * acc[j] + beta * y[j * incy] for j in [0, w). */
static inline __attribute__((always_inline)) void store_acc(float *y, long incy, const float *acc, long w,
                                                            float alpha, float beta) {
  for (long j = 0; j < w; j++) {
    float *yj = y + j * incy;
    *yj = beta == 0 ? alpha * acc[j] : alpha * acc[j] + beta * *yj;
  }
}

/*
 * y[j * incy] = alpha * sum_r M[r, j] x[r] + beta * y[j * incy] for j in [j0, j1).
 * Eight rows of M at a time are streamed over a wide column block (W floats, so each
 * row segment is a long contiguous run the prefetcher follows) into an accumulator that
 * stays in L2; eight rows per pass keep the accumulator's own traffic small.
 */
static void gemv_t_cols(long j0, long j1, long rows, const float *M, long ld, const float *x, float *y,
                        long incy, float alpha, float beta) {
  enum { W = 16384 };
  float *acc = lmf_scratch(2, W);
  if (acc == NULL) abort();
  for (long jb = j0; jb < j1; jb += W) {
    long w = j1 - jb < W ? j1 - jb : W;
    memset(acc, 0, (size_t)w * 4);
    long r = 0;
    for (; r + 8 <= rows; r += 8) axpy_rows8(acc, M + r * ld + jb, ld, x + r, w);
    for (; r < rows; r++) axpy_row(acc, M + r * ld + jb, x[r], w);
    store_acc(y + jb * incy, incy, acc, w, alpha, beta);
  }
}

/*
 * The axpy form for nx vectors (x + q * ldx -> y + q * ldy): each block of 8 rows by TB
 * columns of M is read from memory once and applied, from L1, to a group of up to TQ
 * vectors, one accumulator block per vector. Every output takes gemv_t_cols' steps in
 * its order (the same 8-row steps, the same tail rows, the same vector/scalar columns:
 * blocks start at j0 plus multiples of TB, a multiple of VW), so it gets the bits of a
 * one-vector call.
 */
static void gemv_t_multi(long j0, long j1, long rows, const float *M, long ld, const float *x, long ldx,
                         float *y, long ldy, long incy, long nx, float alpha, float beta) {
  enum { TB = 512, TQ = 8 };
  float *acc = lmf_scratch(2, TQ * TB);
  if (acc == NULL) abort();
  for (long jb = j0; jb < j1; jb += TB) {
    long w = j1 - jb < TB ? j1 - jb : TB;
    for (long q0 = 0; q0 < nx; q0 += TQ) {
      long nq = nx - q0 < TQ ? nx - q0 : TQ;
      const float *xq = x + q0 * ldx;
      memset(acc, 0, (size_t)(nq * TB) * 4);
      long r = 0;
      for (; r + 8 <= rows; r += 8)
        for (long q = 0; q < nq; q++) axpy_rows8(acc + q * TB, M + r * ld + jb, ld, xq + q * ldx + r, w);
      for (; r < rows; r++)
        for (long q = 0; q < nq; q++) axpy_row(acc + q * TB, M + r * ld + jb, xq[q * ldx + r], w);
      for (long q = 0; q < nq; q++)
        store_acc(y + (q0 + q) * ldy + jb * incy, incy, acc + q * TB, w, alpha, beta);
    }
  }
}

typedef struct {
  int trans; /* 0: y = M x (dots over rows of M); 1: y = M^T x (axpy over rows of M) */
  long rows, cols, out, chunk;
  const float *M;
  long ld;
  const float *x;
  float *y;
  long incy;
  float alpha, beta;
  int strategy; /* LMF_GEMV_*, for trans == 0 */
  long nx;       /* vectors: x + q * ldx -> y + q * ldy for q < nx (1 for a plain GEMV) */
  long ldx, ldy;
} gemv_job;

/*
 * Several vectors against one matrix (a skinny GEMM: a decode step of a few sequences), each
 * output computed by exactly the arithmetic of the one-vector GEMV: a block of the matrix
 * (4 rows of the dot form, a column block of the axpy form) is read once from memory and
 * applied to every vector while it is in cache. Row r of the result therefore does not
 * depend on how many rows the call has: batched decoding gives each sequence the bits it
 * gets alone (batch invariance).
 */
static void gemv_task(void *ctx, long task, int tid) {
  (void)tid;
  const gemv_job *g = ctx;
  long o0 = task * g->chunk, o1 = o0 + g->chunk < g->out ? o0 + g->chunk : g->out;
  if (g->trans) {
    if (g->nx == 1)
      gemv_t_cols(o0, o1, g->rows, g->M, g->ld, g->x, g->y, g->incy, g->alpha, g->beta);
    else
      gemv_t_multi(o0, o1, g->rows, g->M, g->ld, g->x, g->ldx, g->y, g->ldy, g->incy, g->nx, g->alpha, g->beta);
  } else {
    /* Blocks of 4 rows, as gemv_n_rows takes them from o0 (a multiple of 4): the same rows
     * run its 4-row loop and its tail loop as in a one-vector call. */
    long step = g->nx == 1 ? o1 - o0 : 4;
    for (long r = o0; r < o1; r += step) {
      long r1 = r + step < o1 ? r + step : o1;
      for (long q = 0; q < g->nx; q++)
        gemv_n_rows(g->strategy, r, r1, g->cols, g->M, g->ld, g->x + q * g->ldx, g->y + q * g->ldy, g->incy,
                    g->alpha, g->beta);
    }
  }
}

/* Matrices smaller than this are not timed: they sit in L2 or L3, where the prefetch hint
 * hardly matters and a run of a few microseconds measures noise. */
#ifndef GEMV_MEASURE_BYTES
#define GEMV_MEASURE_BYTES (1.0 * 1024 * 1024)
#endif
#define GEMV_MEASURE_ROUNDS 4

/* CPU time of the calling thread: unlike wall time it does not count the time this thread
 * spends descheduled, which on a machine shared with other work would decide the choice. */
static double thread_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Times every strategy on g's own matrix (into a scratch y, so the caller's is untouched),
 * interleaved over a few rounds so that a burst of load from elsewhere on the machine hits
 * all strategies alike; each strategy's best time counts, ties go to the lower number. The
 * calling thread runs its share of the tasks and then waits for the others' (spinning, so
 * that wait is CPU time too). */
static int gemv_measure(const gemv_job *g0, long tasks) {
  float *y = malloc((size_t)g0->out * sizeof(float));
  if (y == NULL) return LMF_GEMV_KEEP;
  gemv_job g = *g0;
  g.nx = 1;
  g.y = y;
  g.incy = 1;
  g.beta = 0;
  double best[LMF_GEMV_STRATEGIES];
  for (int s = 0; s < LMF_GEMV_STRATEGIES; s++) best[s] = 1e30;
  for (int round = 0; round < GEMV_MEASURE_ROUNDS; round++)
    for (int s = 0; s < LMF_GEMV_STRATEGIES; s++) {
      g.strategy = s;
      double t0 = thread_seconds();
      lmf_parallel(tasks, gemv_task, &g);
      double t = thread_seconds() - t0;
      if (t < best[s]) best[s] = t;
    }
  free(y);
  int pick = 0;
  for (int s = 1; s < LMF_GEMV_STRATEGIES; s++)
    if (best[s] < best[pick]) pick = s;
  return pick;
}

/* The strategy for y = M x of g's shape: the forced one, else the one measured for this
 * shape, ISA and thread count (measured now, on first use). */
static int gemv_strategy(const gemv_job *g, long tasks) {
  int forced = lmf_gemv_forced();
  if (forced >= 0) return forced;
  if ((double)g->rows * (double)g->ld * 4.0 < GEMV_MEASURE_BYTES) return LMF_GEMV_KEEP;
  lmf_gemv_key key = {LMF_ISA_NAME, g->rows, g->cols, g->ld, lmf_threads()};
  int s = lmf_gemv_lookup(&key);
  if (s < 0) {
    s = gemv_measure(g, tasks);
    lmf_gemv_store(&key, s);
  }
  return s;
}

#ifndef GEMV_TASK_MACS
#define GEMV_TASK_MACS 8192
#endif
#ifndef GEMV_TASKS_PER_THREAD
#define GEMV_TASKS_PER_THREAD 4
#endif

/* nx matrix-vector products with one matrix: vector q is x + q * ldx (elements incx apart,
 * copied to contiguous scratch when strided), its result y + q * ldy. */
static void gemv(int trans, long rows, long cols, const float *M, long ld, const float *x, long incx, float *y,
                 long incy, float alpha, float beta, long nx, long ldx, long ldy) {
  long len = trans ? rows : cols;
  if (incx != 1) {
    float *xs = lmf_scratch(3, (size_t)(len * nx));
    if (xs == NULL) abort();
    for (long q = 0; q < nx; q++)
      for (long i = 0; i < len; i++) xs[q * len + i] = x[q * ldx + i * incx];
    x = xs;
    ldx = len;
  }
  gemv_job g = {trans, rows,          cols, trans ? cols : rows, 0,  M,  ld, x, y, incy, alpha, beta,
                LMF_GEMV_KEEP, nx, ldx, ldy};
  /* Several tasks per thread of at least GEMV_TASK_MACS multiply-adds each: a thread that
   * starts late (woken, or descheduled on a busy machine) then holds up at most one small
   * task instead of half the product. Row chunks are a multiple of the 4-row block (so
   * which rows take the 1-row tail loop does not depend on the thread count), column
   * chunks a multiple of VW. */
  long per_out = trans ? rows : cols, unit = trans ? VW : 4;
  long grain = (GEMV_TASK_MACS + per_out - 1) / (per_out > 0 ? per_out : 1);
  long threads = lmf_threads(), tasks = threads == 1 ? 1 : g.out / grain;
  if (tasks > threads * GEMV_TASKS_PER_THREAD) tasks = threads * GEMV_TASKS_PER_THREAD;
  if (tasks < 1) tasks = 1;
  g.chunk = ((g.out + tasks - 1) / tasks + unit - 1) / unit * unit;
  tasks = (g.out + g.chunk - 1) / g.chunk;
  if (!trans) g.strategy = gemv_strategy(&g, tasks);
  lmf_parallel(tasks, gemv_task, &g);
}

/* ---- entry point --------------------------------------------------------------------- */

typedef struct {
  const float *a, *b;
  float *c;
  const lmf_gemm_params *p;
  long splits; /* sub-matrices per batch matrix */
  int split_m; /* split along M (else N) */
  long chunk;
} gemm_job;

static void gemm_task(void *ctx, long task, int tid) {
  const gemm_job *j = ctx;
  const lmf_gemm_params *p = j->p;
  long bi = task / j->splits, part = task % j->splits;
  block_job g;
  g.a = j->a + p->offA + bi * p->strideA;
  g.ars = p->transA ? 1 : p->lda;
  g.acs = p->transA ? p->lda : 1;
  g.b = j->b + p->offB + bi * p->strideB;
  g.brs = p->transB ? 1 : p->ldb;
  g.bcs = p->transB ? p->ldb : 1;
  g.c = j->c + p->offC + bi * p->strideC;
  g.ldc = p->ldc;
  g.m = p->m;
  g.n = p->n;
  g.k = p->k;
  g.alpha = p->alpha;
  g.beta = p->beta;
  long lo = part * j->chunk;
  if (j->split_m) {
    long hi = lo + j->chunk < p->m ? lo + j->chunk : p->m;
    g.a += lo * g.ars;
    g.c += lo * g.ldc;
    g.m = hi - lo;
  } else {
    long hi = lo + j->chunk < p->n ? lo + j->chunk : p->n;
    g.b += lo * g.bcs;
    g.c += lo;
    g.n = hi - lo;
  }
  if (g.m > 0 && g.n > 0) gemm_block(&g, tid);
}

static void scale_c(float *c, const lmf_gemm_params *p) {
  for (long bi = 0; bi < p->batch; bi++)
    for (long i = 0; i < p->m; i++) {
      float *row = c + p->offC + bi * p->strideC + i * p->ldc;
      for (long j = 0; j < p->n; j++) row[j] = p->beta == 0 ? 0.0f : p->beta * row[j];
    }
}

void LMF_FN(lmf_gemm)(const float *a, const float *b, float *c, const lmf_gemm_params *p) {
  if (p->batch <= 0 || p->m <= 0 || p->n <= 0) return;
  if (p->k <= 0 || p->alpha == 0) {
    scale_c(c, p);
    return;
  }
  /* Skinny products of activations by weights (transA == 0: a decode step's projections)
   * take the GEMV arithmetic; a weight gradient (x^T dy, transA) keeps the blocked kernel. */
  if ((p->m <= LMF_SKINNY_M && !p->transA) || p->m == 1 || p->n == 1) {
    for (long bi = 0; bi < p->batch; bi++) {
      const float *A = a + p->offA + bi * p->strideA;
      const float *B = b + p->offB + bi * p->strideB;
      float *C = c + p->offC + bi * p->strideC;
      if (p->n == 1 && p->m > 1) {
        /* C[i, 0] = sum_p op(A)[i, p] op(B)[p, 0]: M = A */
        long incx = p->transB ? 1 : p->ldb;
        if (p->transA)
          gemv(1, p->k, p->m, A, p->lda, B, incx, C, p->ldc, p->alpha, p->beta, 1, 0, 0);
        else
          gemv(0, p->m, p->k, A, p->lda, B, incx, C, p->ldc, p->alpha, p->beta, 1, 0, 0);
      } else {
        /* C[i, j] = sum_p op(A)[i, p] op(B)[p, j] for each of the m rows: M = B, x = row i of op(A) */
        long incx = p->transA ? p->lda : 1, ldx = p->transA ? 1 : p->lda;
        if (p->transB)
          gemv(0, p->n, p->k, B, p->ldb, A, incx, C, 1, p->alpha, p->beta, p->m, ldx, p->ldc);
        else
          gemv(1, p->k, p->n, B, p->ldb, A, incx, C, 1, p->alpha, p->beta, p->m, ldx, p->ldc);
      }
    }
    return;
  }
  gemm_job j = {a, b, c, p, 1, 1, p->m};
  long threads = lmf_threads();
  /* Split each matrix when there are fewer matrices than threads, along the larger of M and N
   * (each part packs the whole of the other operand, so the smaller one is duplicated), and
   * only while parts keep ~1 MFLOP of work. */
  if (p->batch < threads) {
    long want = (threads + p->batch - 1) / p->batch;
    j.split_m = p->m >= p->n;
    long dim = j.split_m ? p->m : p->n, unit = j.split_m ? MR : NR;
    long units = (dim + unit - 1) / unit;
    double flops = 2.0 * p->m * p->n * p->k;
    while (want > 1 && flops / want < 1e6) want--;
    if (want > units) want = units;
    j.splits = want;
    j.chunk = (units + want - 1) / want * unit;
    j.splits = (dim + j.chunk - 1) / j.chunk;
  }
  lmf_parallel(p->batch * j.splits, gemm_task, &j);
}

/* ---- grouped GEMM (mixture of experts) ------------------------------------------------------ */

/* Groups reordered largest first (an insertion sort into a stack array) for at most this many groups; beyond, in order. */
#define GROUPED_ORDER_MAX 256

typedef struct {
  const float *a, *b;
  float *c;
  const int32_t *offsets;
  const lmf_grouped_gemm_params *p;
  long parts;          /* tasks per group */
  const int32_t *order; /* group of each task slot, largest first; NULL: in order */
} grouped_job;

/* rows of C = beta * C: a product with an empty contraction (an expert no token chose) */
static void scale_rows(float *c, long ldc, long m, long n, float beta) {
  for (long i = 0; i < m; i++)
    for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0.0f : beta * c[i * ldc + j];
}

/* The block job of group g's whole product (before any split). */
static block_job group_job(const grouped_job *j, long g) {
  const lmf_grouped_gemm_params *p = j->p;
  long r0 = j->offsets[g], rows = j->offsets[g + 1] - r0;
  block_job bj;
  if (p->inner) {
    /* op(A)(i, q) = A[r0 + q, i]: the group's rows of A read transposed */
    bj.a = j->a + p->offA + r0 * p->lda;
    bj.ars = 1;
    bj.acs = p->lda;
    bj.b = j->b + p->offB + r0 * p->ldb;
    bj.brs = p->ldb;
    bj.bcs = 1;
    bj.c = j->c + p->offC + g * p->strideC;
    bj.m = p->m;
    bj.k = rows;
  } else {
    bj.a = j->a + p->offA + r0 * p->lda;
    bj.ars = p->lda;
    bj.acs = 1;
    bj.b = j->b + p->offB + g * p->strideB;
    bj.brs = p->transB ? 1 : p->ldb;
    bj.bcs = p->transB ? p->ldb : 1;
    bj.c = j->c + p->offC + r0 * p->ldc;
    bj.m = rows;
    bj.k = p->k;
  }
  bj.ldc = p->ldc;
  bj.n = p->n;
  bj.alpha = p->alpha;
  bj.beta = p->beta;
  return bj;
}

/* Part `part` of a group: a block of C's rows or columns, along the larger of the two (each
 * part packs the whole of the other operand, so the smaller is the one duplicated), run by
 * the same blocked product as one GEMM. */
static void grouped_task(void *ctx, long task, int tid) {
  const grouped_job *j = ctx;
  long slot = task / j->parts, part = task % j->parts;
  long g = j->order == NULL ? slot : j->order[slot];
  block_job bj = group_job(j, g);
  int split_m = bj.m >= bj.n;
  long dim = split_m ? bj.m : bj.n, unit = split_m ? MR : NR;
  long chunk = ((dim + j->parts - 1) / j->parts + unit - 1) / unit * unit;
  long lo = part * chunk, hi = lo + chunk < dim ? lo + chunk : dim;
  if (lo >= hi) return;
  if (split_m) {
    bj.a += lo * bj.ars;
    bj.c += lo * bj.ldc;
    bj.m = hi - lo;
  } else {
    bj.b += lo * bj.bcs;
    bj.c += lo;
    bj.n = hi - lo;
  }
  if (bj.k <= 0 || bj.alpha == 0)
    scale_rows(bj.c, bj.ldc, bj.m, bj.n, bj.beta);
  else
    gemm_block(&bj, tid);
}

/*
 * Every group's product in one parallel loop. Groups run whole, largest first, so that the
 * task counter balances groups of uneven size (experts with more tokens); a group is split
 * only when there are fewer than two groups per thread, and only while each part keeps
 * ~1 MFLOP (a part repacks the operand it shares with the other parts).
 */
void LMF_FN(grouped_gemm)(const float *a, const float *b, float *c, const int32_t *offsets,
                          const lmf_grouped_gemm_params *p) {
  long G = p->groups;
  if (G <= 0 || p->n <= 0 || (p->inner && p->m <= 0)) return;
  long rows = offsets[G] - offsets[0];
  double flops = 2.0 * (double)rows * (double)p->n * (double)(p->inner ? p->m : p->k);
  long threads = lmf_threads();
  long parts = (2 * threads + G - 1) / G;
  while (parts > 1 && flops / (double)(parts * G) < 1e6) parts--;
  int32_t order[GROUPED_ORDER_MAX];
  grouped_job j = {a, b, c, offsets, p, parts, NULL};
  if (threads > 1 && G <= GROUPED_ORDER_MAX) {
    /* insertion sort by rows, descending (stable: equal groups stay in order) */
    for (long g = 0; g < G; g++) {
      long size = offsets[g + 1] - offsets[g], at = g;
      while (at > 0 && offsets[order[at - 1] + 1] - offsets[order[at - 1]] < size) {
        order[at] = order[at - 1];
        at--;
      }
      order[at] = (int32_t)g;
    }
    j.order = order;
  }
  lmf_parallel(G * parts, grouped_task, &j);
}
