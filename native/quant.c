/*
 * Quantized matrix products over GGUF's block formats, as ggml computes them
 * (ggml-quants.c: quantize_row_q8_0, ggml_vec_dot_q8_0_q8_0, ggml_vec_dot_q4_0_q8_0):
 *   y (M, N) = x (M, K) W^T,  W (N, K) in Q8_0 (34-byte blocks: fp16 d, 32 int8) or Q4_0
 *   (18-byte blocks: fp16 d, 16 bytes of nibbles, w = d * (nibble - 8)), read in place.
 * Each row of x is first quantized per 32-value block to Q8_0 activations (d = amax / 127,
 * rounded to fp16 as ggml stores it; q = roundf(x / d)); each weight block and activation
 * block then give an exact integer dot product sumi, and y accumulates sumi * dW * dX in
 * float32. One call is a decode GEMV (M = 1) or a prefill GEMM (M = T tokens).
 *
 * Integer dot products per instruction set: AVX-512 VNNI (vpdpbusd, 256-bit, chosen at run
 * time where the CPU has it), AVX2 (vpmaddubsw + vpmaddwd), portable C. The x86 paths use
 * ggml's sign trick: |w| (unsigned) times sign(w) * a (signed) = w * a, with no int16
 * saturation since |w| <= 128 and |a| <= 127. The integer sums are exact everywhere; the
 * float accumulation order differs by ISA (lanes of a block summed after scaling), so
 * results agree with the JS reference (src/backend/js/quant.ts) to float rounding.
 *
 * Legend: M rows of x, N outputs (rows of W), K inputs (a multiple of 32), B = K / 32 blocks.
 */
#include "lmf.h"
#include "simd.h"

#include <stdlib.h>

#define QK 32

typedef struct {
  uint16_t d;
  int8_t qs[QK];
} __attribute__((packed)) block_q8_0;

typedef struct {
  uint16_t d;
  uint8_t qs[QK / 2];
} __attribute__((packed)) block_q4_0;

_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 blocks are 34 bytes");
_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 blocks are 18 bytes");

/* ---- fp16 ------------------------------------------------------------------------------ */

#if defined(__F16C__)
static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }
static inline uint16_t float_to_half(float f) { return (uint16_t)_cvtss_sh(f, 0); /* nearest even */ }
#else
static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) bits = sign | 0x7f800000u | (man << 13);
  else if (exp != 0) bits = sign | ((exp + 112) << 23) | (man << 13);
  else if (man == 0) bits = sign;
  else { /* subnormal: normalise */
    int e = -1;
    do { man <<= 1; e++; } while ((man & 0x400) == 0);
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}
/* Round to nearest even, as GGML_FP32_TO_FP16 (inputs here are finite and >= 0). */
static inline uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520: inf (NaN does not occur) */
  if (ax < 0x38800000u) { /* below 2^-14: a subnormal half, by float addition of 0.5 (rounds to even) */
    float a;
    memcpy(&a, &ax, 4);
    a += 0.5f;
    uint32_t b;
    memcpy(&b, &a, 4);
    return (uint16_t)(sign | (b - 0x3f000000u));
  }
  uint32_t odd = (ax >> 13) & 1;
  ax += 0xc8000fffu + odd; /* rebias the exponent (-112 << 23) and round */
  return (uint16_t)(sign | (ax >> 13));
}
#endif

/* ---- activations ------------------------------------------------------------------------ */

/* One row of K floats to int8 q[K] and B block scales (fp16-rounded, as floats). */
static void quantize_row(const float *x, long K, int8_t *q, float *d) {
  for (long b = 0; b < K / QK; b++) {
    const float *xb = x + b * QK;
    float amax = 0;
    for (int j = 0; j < QK; j++) {
      float a = fabsf(xb[j]);
      amax = a > amax ? a : amax;
    }
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    for (int j = 0; j < QK; j++) q[b * QK + j] = (int8_t)roundf(xb[j] * id);
    d[b] = half_to_float(float_to_half(db));
  }
}

typedef struct {
  const float *x;
  long K;
  int8_t *q;
  float *d;
} quantize_job;

static void quantize_range(void *ctx, long lo, long hi) {
  const quantize_job *j = ctx;
  for (long m = lo; m < hi; m++) quantize_row(j->x + m * j->K, j->K, j->q + m * j->K, j->d + m * (j->K / QK));
}

/* ---- block dot products ------------------------------------------------------------------ */

#if defined(__AVX2__)
/* The 32 signed weights of a block as bytes: Q8_0 as stored, Q4_0 unpacked (ggml's
 * bytes_from_nibbles_32: the low nibbles are weights 0..15, the high ones 16..31). */
static inline __m256i weights_q8(const block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }
static inline __m256i weights_q4(const block_q4_0 *b) {
  const __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

/* 8 int32 partial sums of w . a over one block (exact). */
#if defined(__AVX512F__)
__attribute__((target("avx512vnni,avx512vl"))) static inline __m256i dot_vnni(__m256i w, __m256i a) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}
#endif
static inline __m256i dot_avx2(__m256i w, __m256i a) {
  const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* dot(W row, activation row) over B blocks, 4 weight rows at a time sharing each activation
 * load: y[r] for rows w, w + stride, ... (r < R <= 4). DOT is dot_vnni or dot_avx2. */
#define ROWS_KERNEL(NAME, BLOCK, WEIGHTS, DOT, ATTR)                                                       \
  ATTR static void NAME(const uint8_t *w, long stride, int R, const int8_t *q, const float *d, long B,  \
                        float *y) {                                                                     \
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
    for (long b = 0; b < B; b++) {                                                                      \
      const __m256i a = _mm256_loadu_si256((const __m256i *)(q + b * QK));                              \
      for (int r = 0; r < R; r++) {                                                                     \
        const BLOCK *blk = (const BLOCK *)(w + r * stride) + b;                                         \
        const __m256 s = _mm256_set1_ps(half_to_float(blk->d) * d[b]);                                  \
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(DOT(WEIGHTS(blk), a)), s, acc[r]);                  \
      }                                                                                                 \
    }                                                                                                   \
    for (int r = 0; r < R; r++) y[r] = hsum8(acc[r]);                                                   \
  }

ROWS_KERNEL(rows_q8_avx2, block_q8_0, weights_q8, dot_avx2, )
ROWS_KERNEL(rows_q4_avx2, block_q4_0, weights_q4, dot_avx2, )
#if defined(__AVX512F__)
ROWS_KERNEL(rows_q8_vnni, block_q8_0, weights_q8, dot_vnni, __attribute__((target("avx512vnni,avx512vl"))))
ROWS_KERNEL(rows_q4_vnni, block_q4_0, weights_q4, dot_vnni, __attribute__((target("avx512vnni,avx512vl"))))
#endif

#else /* portable */

static inline int32_t block_dot_q8(const block_q8_0 *blk, const int8_t *a) {
  int32_t s = 0;
  for (int j = 0; j < QK; j++) s += blk->qs[j] * a[j];
  return s;
}
static inline int32_t block_dot_q4(const block_q4_0 *blk, const int8_t *a) {
  int32_t s = 0;
  for (int j = 0; j < QK / 2; j++)
    s += ((blk->qs[j] & 15) - 8) * a[j] + ((blk->qs[j] >> 4) - 8) * a[j + QK / 2];
  return s;
}
#define ROWS_KERNEL(NAME, BLOCK, BLOCK_DOT)                                                                \
  static void NAME(const uint8_t *w, long stride, int R, const int8_t *q, const float *d, long B,         \
                   float *y) {                                                                           \
    for (int r = 0; r < R; r++) {                                                                        \
      const BLOCK *blk = (const BLOCK *)(w + r * stride);                                                \
      float acc = 0;                                                                                     \
      for (long b = 0; b < B; b++) acc += (float)BLOCK_DOT(blk + b, q + b * QK) * (half_to_float(blk[b].d) * d[b]); \
      y[r] = acc;                                                                                        \
    }                                                                                                    \
  }
ROWS_KERNEL(rows_q8_portable, block_q8_0, block_dot_q8)
ROWS_KERNEL(rows_q4_portable, block_q4_0, block_dot_q4)
#endif

typedef void (*rows_fn)(const uint8_t *w, long stride, int R, const int8_t *q, const float *d, long B, float *y);

static rows_fn rows_kernel(int type) {
#if defined(__AVX512F__)
  if (__builtin_cpu_supports("avx512vnni")) return type == LMF_Q8_0 ? rows_q8_vnni : rows_q4_vnni;
  return type == LMF_Q8_0 ? rows_q8_avx2 : rows_q4_avx2;
#elif defined(__AVX2__)
  return type == LMF_Q8_0 ? rows_q8_avx2 : rows_q4_avx2;
#else
  return type == LMF_Q8_0 ? rows_q8_portable : rows_q4_portable;
#endif
}

/* ---- the product --------------------------------------------------------------------------- */

typedef struct {
  rows_fn rows;
  const uint8_t *w;
  const int8_t *q;
  const float *d;
  float *y;
  long M, N, K, row_bytes, chunk;
} matmul_job;

/* Outputs [n0, n1) for every row of x: 4 weight rows at a time, each group reused from L1
 * across the M activation rows. */
static void matmul_task(void *ctx, long task, int tid) {
  (void)tid;
  const matmul_job *j = ctx;
  const long n0 = task * j->chunk, n1 = n0 + j->chunk < j->N ? n0 + j->chunk : j->N, B = j->K / QK;
  float out[4];
  for (long n = n0; n < n1; n += 4) {
    const int R = n1 - n < 4 ? (int)(n1 - n) : 4;
    for (long m = 0; m < j->M; m++) {
      j->rows(j->w + n * j->row_bytes, j->row_bytes, R, j->q + m * j->K, j->d + m * B, B, out);
      for (int r = 0; r < R; r++) j->y[m * j->N + n + r] = out[r];
    }
  }
}

/* Multiply-adds per task at least (an int8 block costs a few instructions). */
#define QUANT_TASK_MACS 32768

void LMF_FN(quant_matmul)(int type, const uint8_t *w, const float *x, float *y, long M, long N, long K) {
  /* (the manifest's m, n, k) */
  if (M <= 0 || N <= 0) return;
  const long B = K / QK;
  int8_t *q = (int8_t *)lmf_scratch(1, (size_t)(M * K + 3) / 4);
  float *d = lmf_scratch(2, (size_t)(M * B > 0 ? M * B : 1));
  if (q == NULL || d == NULL) abort();
  quantize_job qj = {x, K, q, d};
  lmf_parallel_range(M, K > 0 ? 65536 / K + 1 : M, quantize_range, &qj);
  const long bytes = type == LMF_Q8_0 ? (long)sizeof(block_q8_0) : (long)sizeof(block_q4_0);
  matmul_job j = {rows_kernel(type), w, q, d, y, M, N, K, B * bytes, N};
  long threads = lmf_threads(), tasks = threads == 1 ? 1 : (M * N * K) / QUANT_TASK_MACS;
  if (tasks > threads * 4) tasks = threads * 4;
  if (tasks < 1) tasks = 1;
  j.chunk = ((N + tasks - 1) / tasks + 3) / 4 * 4; /* whole 4-row groups */
  tasks = (N + j.chunk - 1) / j.chunk;
  lmf_parallel(tasks, matmul_task, &j);
}
