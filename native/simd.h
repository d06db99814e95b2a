/*
 * Vector types and float32 math shared by the per-ISA kernel sources.
 *
 * One source serves every instruction set: GCC vector extensions sized by the ISA the file
 * is compiled for (16 floats with AVX-512, 8 with AVX2, 4 otherwise), and scalar math
 * functions written branch-free so that loops calling them auto-vectorise.
 */
#ifndef LMF_SIMD_H
#define LMF_SIMD_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if defined(__AVX512F__)
#define VW 16
#elif defined(__AVX2__)
#define VW 8
#else
#define VW 4
#endif

/* vf: VW floats; may_alias + aligned(4) make unaligned loads/stores through it legal. */
typedef float vf __attribute__((vector_size(VW * 4), aligned(4), may_alias));
typedef double vd __attribute__((vector_size(VW * 4), aligned(8), may_alias)); /* VW/2 doubles */
typedef int32_t vi __attribute__((vector_size(VW * 4)));

static inline vf vload(const float *p) { return *(const vf *)p; }
static inline void vstore(float *p, vf v) { *(vf *)p = v; }
/* A broadcast. (vf){0} + x would cost an add (0 + x is not x for x = -0), and a fill loop
 * compiles to shuffles; the intrinsic is one vbroadcastss. */
static inline vf vsplat(float x) {
#if defined(__AVX512F__)
  return (vf)_mm512_set1_ps(x);
#elif defined(__AVX__)
  return (vf)_mm256_set1_ps(x);
#elif defined(__SSE__)
  return (vf)_mm_set1_ps(x);
#else
  vf v;
  for (int i = 0; i < VW; i++) v[i] = x;
  return v;
#endif
}

static inline float vsum(vf v) {
  float s = 0;
  for (int i = 0; i < VW; i++) s += v[i];
  return s;
}

static inline float vmaxh(vf v) {
  float m = v[0];
  for (int i = 1; i < VW; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/* a where mask m is set (all ones), else b */
static inline vf vsel(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }

/*
 * e^(x - n ln2) for n = fn = round(x / ln2): Cody-Waite reduction (ln2 split in two so that
 * r keeps full precision) and the degree-6 Cephes expf polynomial. Shared by both vexp paths.
 */
static inline vf vexp_reduced(vf x, vf fn) {
  vf r = x - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  vf r2 = r * r;
  vf p = vsplat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.0f;
  return p;
}

/*
 * exp with ~1 ulp error: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-6 polynomial
 * (Cephes expf coefficients), times 2^n built in the exponent bits. Written on whole
 * vectors with masks (GCC does not if-convert the scalar form into a vector loop).
 * NaN propagates, large x gives inf, very negative x gives 0.
 */
static inline vf vexp(vf x) {
#if defined(__AVX512F__)
  /* AVX-512: the same reduction and polynomial, with rounding by vrndscaleps and the 2^n
   * scaling by vscalefps (which saturates to inf / 0 itself). The clamp only keeps r finite
   * for infinite x; max(lo, x) and min(hi, .) return x when x is NaN (x86 returns the second
   * operand), so NaN propagates. e^-104 is below the smallest denormal. */
  __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), (__m512)x));
  vf fn = (vf)_mm512_roundscale_ps((__m512)((vf)xc * 1.44269504088896341f),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  vf p = vexp_reduced((vf)xc, fn);
  return (vf)_mm512_scalef_ps((__m512)p, (__m512)fn);
#else
  const vf hi = vsplat(88.72283935546875f), lo = vsplat(-87.33654022216796875f);
  vf xc = vsel(x > hi, hi, x);
  xc = vsel(xc < lo, lo, xc);
  vf t = xc * 1.44269504088896341f;
  /* round to nearest: truncate t +- 0.5 (vectorises without SSE4.1's roundps) */
  vi n = __builtin_convertvector(t + vsel(t >= 0, vsplat(0.5f), vsplat(-0.5f)), vi);
  vf fn = __builtin_convertvector(n, vf);
  vf p = vexp_reduced(xc, fn);
  /* 2^n in two halves so that n = 128 (x near hi) does not overflow the exponent field */
  vi n1 = n >> 1, n2 = n - n1;
  vf y = p * (vf)((n1 + 127) << 23) * (vf)((n2 + 127) << 23);
  y = vsel(x > hi, vsplat(INFINITY), y);
  y = vsel(x < lo, vsplat(0.0f), y);
  return vsel(x != x, x, y);
#endif
}

/* 1 / (1 + e^-x) */
static inline vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

/*
 * tanh: odd Taylor polynomial for |x| < 0.4 (where 1 - 2/(e^2x + 1) would cancel), else
 * 1 - 2/(e^2|x| + 1) with the sign restored. Relative error a few ulp.
 */
static inline vf vtanh(vf x) {
  vf ax = vsel(x < 0, -x, x);
  vf x2 = x * x;
  /* x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925 + 21844x^13/6081075 */
  vf p = vsplat(3.5921280365717e-3f);
  p = p * x2 - 8.8632355299021966e-3f;
  p = p * x2 + 2.1869488536155203e-2f;
  p = p * x2 - 5.3968253968253971e-2f;
  p = p * x2 + 1.3333333333333333e-1f;
  p = p * x2 - 3.3333333333333333e-1f;
  vf small = x + x * x2 * p;
  vf big = 1.0f - 2.0f / (vexp(2.0f * ax) + 1.0f);
  big = vsel(x < 0, -big, big);
  return vsel(ax < 0.4f, small, big);
}

/*
 * Phi(x) = (1 + erf(x / sqrt 2)) / 2 from erfc(z), z = |x| / sqrt 2, by Numerical
 * Recipes' Chebyshev fit (|error| < 1.2e-7, the one the JS reference uses); taken from
 * erfc on the negative side so that GELU of large negative x keeps its relative precision.
 */
static inline vf vphi(vf x) {
  vf z = vsel(x < 0, -x, x) * 0.70710678118654752f;
  vf t = 1.0f / (1.0f + 0.5f * z);
  vf p = vsplat(0.17087277f);
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  vf r = t * vexp(-z * z + p);
  return vsel(x >= 0, 1.0f - 0.5f * r, 0.5f * r);
}

static inline float lmf_expf(float x) { return vexp(vsplat(x))[0]; }

/*
 * y[i] = EXPR over n elements, EXPR written in terms of vf values loaded from the named
 * inputs; the tail runs the same vector code on a zero-padded copy.
 */
#define VMAP1(n, y, x, EXPR)                                                                               \
  do {                                                                                                     \
    long i_ = 0;                                                                                           \
    for (; i_ + VW <= (n); i_ += VW) {                                                                     \
      vf X = vload((x) + i_);                                                                              \
      vstore((y) + i_, (EXPR));                                                                            \
    }                                                                                                      \
    if (i_ < (n)) {                                                                                        \
      float tx_[VW] = {0}, ty_[VW];                                                                        \
      memcpy(tx_, (x) + i_, (size_t)((n)-i_) * 4);                                                         \
      vf X = vload(tx_);                                                                                   \
      vstore(ty_, (EXPR));                                                                                 \
      memcpy((y) + i_, ty_, (size_t)((n)-i_) * 4);                                                         \
    }                                                                                                      \
  } while (0)

#define VMAP3(n, out, x, y, dy, EXPR)                                                                      \
  do {                                                                                                     \
    long i_ = 0;                                                                                           \
    for (; i_ + VW <= (n); i_ += VW) {                                                                     \
      vf X = vload((x) + i_), Y = vload((y) + i_), DY = vload((dy) + i_);                                  \
      (void)X, (void)Y;                                                                                    \
      vstore((out) + i_, (EXPR));                                                                          \
    }                                                                                                      \
    if (i_ < (n)) {                                                                                        \
      float tx_[VW] = {0}, tyy_[VW] = {0}, tdy_[VW] = {0}, to_[VW];                                        \
      memcpy(tx_, (x) + i_, (size_t)((n)-i_) * 4);                                                         \
      memcpy(tyy_, (y) + i_, (size_t)((n)-i_) * 4);                                                        \
      memcpy(tdy_, (dy) + i_, (size_t)((n)-i_) * 4);                                                       \
      vf X = vload(tx_), Y = vload(tyy_), DY = vload(tdy_);                                                \
      (void)X, (void)Y;                                                                                    \
      vstore(to_, (EXPR));                                                                                 \
      memcpy((out) + i_, to_, (size_t)((n)-i_) * 4);                                                       \
    }                                                                                                      \
  } while (0)

/* ---- row helpers for explicit-vector reductions ------------------------------------ */

static inline vf vmax(vf a, vf b) {
#if defined(__AVX512F__)
  return (vf)_mm512_max_ps((__m512)a, (__m512)b);
#elif defined(__AVX__)
  return (vf)_mm256_max_ps((__m256)a, (__m256)b);
#elif defined(__SSE__)
  return (vf)_mm_max_ps((__m128)a, (__m128)b);
#else
  vf r;
  for (int i = 0; i < VW; i++) r[i] = a[i] > b[i] ? a[i] : b[i];
  return r;
#endif
}

/* lane-wise square root (correctly rounded, as sqrtf) */
static inline vf vsqrt(vf a) {
#if defined(__AVX512F__)
  return (vf)_mm512_sqrt_ps((__m512)a);
#elif defined(__AVX__)
  return (vf)_mm256_sqrt_ps((__m256)a);
#elif defined(__SSE__)
  return (vf)_mm_sqrt_ps((__m128)a);
#else
  vf r;
  for (int i = 0; i < VW; i++) r[i] = sqrtf(a[i]);
  return r;
#endif
}

/* max of x[0..n) (n >= 1); NaN handling is unspecified (callers produce NaN anyway). */
static inline float row_max(const float *x, long n) {
  long j = 0;
  float m = x[0];
  if (n >= VW) {
    vf a = vload(x);
    for (j = VW; j + VW <= n; j += VW) a = vmax(a, vload(x + j));
    m = vmaxh(a);
  }
  for (; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* sum of x[0..n) in float lanes, flushed to double every 1024 elements so that long rows
 * keep float64-like accuracy (the JS reference sums in float64). */
static inline double row_sum(const float *x, long n) {
  double s = 0;
  long j = 0;
  while (j + 2 * VW <= n) {
    long end = j + 1024 < n ? j + 1024 : n;
    vf a = {0}, b = {0};
    for (; j + 2 * VW <= end; j += 2 * VW) {
      a += vload(x + j);
      b += vload(x + j + VW);
    }
    s += (double)vsum(a + b);
  }
  for (; j < n; j++) s += x[j];
  return s;
}

/* dot(x, y) over n, with the same blocking as row_sum. */
static inline double row_dot(const float *x, const float *y, long n) {
  double s = 0;
  long j = 0;
  while (j + 2 * VW <= n) {
    long end = j + 1024 < n ? j + 1024 : n;
    vf a = {0}, b = {0};
    for (; j + 2 * VW <= end; j += 2 * VW) {
      a += vload(x + j) * vload(y + j);
      b += vload(x + j + VW) * vload(y + j + VW);
    }
    s += (double)vsum(a + b);
  }
  for (; j < n; j++) s += x[j] * y[j];
  return s;
}

/* float dot product for short rows (attention head size): no double flush. */
static inline float dotf(const float *x, const float *y, long n) {
  vf a = {0};
  long j = 0;
  for (; j + VW <= n; j += VW) a += vload(x + j) * vload(y + j);
  float s = vsum(a);
  for (; j < n; j++) s += x[j] * y[j];
  return s;
}

/* sum over j of exp(x[j] - shift), exps computed in vectorisable chunks. */
static inline double row_sum_exp(const float *x, long n, float shift) {
  float buf[256] __attribute__((aligned(64)));
  double s = 0;
  for (long j0 = 0; j0 < n; j0 += 256) {
    long w = n - j0 < 256 ? n - j0 : 256;
    VMAP1(w, buf, x + j0, vexp(X - shift));
    s += row_sum(buf, w);
  }
  return s;
}

#endif
