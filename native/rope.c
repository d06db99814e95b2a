/*
 * Rotary position embedding, rotate_half convention (HF Llama; Su et al., 2021), fused:
 * the composed form is 10 tensor ops per call (two narrows, a concat, two muls and an add
 * over cat(cos, cos) / signed sin tables); this is one pass over x.
 *
 *   forward:  y1 = x1 cos - x2 sin,  y2 = x2 cos + x1 sin   (x1, x2 the halves of a row)
 *   inverse:  y1 = x1 cos + x2 sin,  y2 = x2 cos - x1 sin   (the backward: dx = R(-a) dy)
 *
 * Legend: R rows of heads (B * nH), T time, hs head size; x, y (R, T, hs); cos, sin (P, hs/2),
 * row t of x at table row pos0 + t. Same semantics as src/backend/js/rope.ts.
 *
 * fp-contract=off: every product and sum is rounded on its own, as in the composed mul/add
 * kernels, so the fused result equals the composed one bit for bit on every ISA (an FMA
 * would round x1 cos - x2 sin once instead of three times).
 */
#pragma GCC optimize("fp-contract=off")
#include "lmf.h"
#include "simd.h"

typedef struct {
  const float *x, *cos, *sin;
  float *y;
  long T, hs, pos0;
  float sign; /* +1 forward, -1 inverse: multiplies sin */
} rope_job;

static void rope_range(void *ctx, long lo, long hi) {
  const rope_job *j = ctx;
  const long half = j->hs / 2;
  for (long row = lo; row < hi; row++) {
    const float *x = j->x + row * j->hs;
    float *y = j->y + row * j->hs;
    const long pos = j->pos0 + row % j->T;
    const float *c = j->cos + pos * half, *s = j->sin + pos * half;
    long i = 0;
    const vf sign = vsplat(j->sign);
    for (; i + VW <= half; i += VW) {
      vf x1 = vload(x + i), x2 = vload(x + half + i), cv = vload(c + i), sv = vload(s + i) * sign;
      vstore(y + i, x1 * cv - x2 * sv);
      vstore(y + half + i, x2 * cv + x1 * sv);
    }
    for (; i < half; i++) {
      float x1 = x[i], x2 = x[half + i], cv = c[i], sv = s[i] * j->sign;
      y[i] = x1 * cv - x2 * sv;
      y[half + i] = x2 * cv + x1 * sv;
    }
  }
}

void LMF_FN(rope)(const float *x, const float *cos, const float *sin, float *y, long R, long T, long hs, long pos0,
                  int inverse) {
  rope_job j = {x, cos, sin, y, T, hs, pos0, inverse ? -1.0f : 1.0f};
  /* ~16K elements per task: a decode step's few heads stay on the calling thread */
  long grain = hs > 0 ? 16384 / hs + 1 : 1;
  lmf_parallel_range(R * T, grain, rope_range, &j);
}
