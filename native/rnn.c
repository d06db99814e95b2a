/*
 * The pointwise part of one LSTM / GRU step, fused (PyTorch's nn.LSTM and nn.GRU, gate
 * orders i, f, g, o and r, z, n): the matrix products are GEMMs issued by the TS op
 * (src/tensor/ops/rnn.ts); one pass here replaces the ~12 elementwise kernels (sigmoid,
 * tanh, mul, add per gate) a step would otherwise take. Formulas and their derivation:
 * src/backend/js/rnn.ts, the reference these kernels are tested against.
 *
 *   LSTM:  i, f, o = s(a), g = tanh(a);  c = f cPrev + i g;  h = o tanh(c)
 *   GRU:   r = s(xr + hr), z = s(xz + hz), n = tanh(xn + r hn);  h = (1 - z) n + z hPrev
 *
 * Legend: B rows (batch), H hidden size; a (B, kH) array holds each row's k gates in turn.
 * Rows are split over threads when a step is large (~16K elements a task); the H loop is
 * vectorised, its tail running the same vector code on a zero-padded copy.
 */
#include "lmf.h"
#include "simd.h"

/* The arrays of one row a kernel reads (src) and writes (dst), each H floats from its pointer. */
#define MAXV 10
typedef struct {
  const float *src[MAXV];
  float *dst[MAXV];
  int nsrc, ndst;
} lanes;

static inline long grain_for(long H, long gates) { return 16384 / (gates * H + 1) + 1; }

/* Runs `fn` on VW-wide steps of rows [0, H): nsrc inputs and ndst outputs, the tail padded. */
static inline void run_lanes(const lanes *l, long H, void (*fn)(const vf *, vf *)) {
  for (long k = 0; k < H; k += VW) {
    const long n = H - k < VW ? H - k : VW;
    vf in[MAXV], out[MAXV];
    if (n == VW) {
      for (int q = 0; q < l->nsrc; q++) in[q] = vload(l->src[q] + k);
    } else {
      float t[VW] = {0};
      for (int q = 0; q < l->nsrc; q++) {
        memcpy(t, l->src[q] + k, (size_t)n * 4);
        in[q] = vload(t);
      }
    }
    fn(in, out);
    if (n == VW) {
      for (int q = 0; q < l->ndst; q++) vstore(l->dst[q] + k, out[q]);
    } else {
      float t[VW];
      for (int q = 0; q < l->ndst; q++) {
        vstore(t, out[q]);
        memcpy(l->dst[q] + k, t, (size_t)n * 4);
      }
    }
  }
}

/* ---- LSTM ------------------------------------------------------------------------------ */

/* in: ai af ag ao cPrev; out: i f g o c h (the gates overwrite their pre-activations) */
static inline void lstm_fwd_vec(const vf *in, vf *out) {
  vf i = vsigmoid(in[0]), f = vsigmoid(in[1]), g = vtanh(in[2]), o = vsigmoid(in[3]);
  vf c = f * in[4] + i * g;
  out[0] = i;
  out[1] = f;
  out[2] = g;
  out[3] = o;
  out[4] = c;
  out[5] = o * vtanh(c);
}

/* in: i f g o cPrev c dhOut dhNext dc; out: dai daf dag dao dcPrev */
static inline void lstm_bwd_vec(const vf *in, vf *out) {
  vf i = in[0], f = in[1], g = in[2], o = in[3], cp = in[4], tc = vtanh(in[5]);
  vf dh = in[6] + in[7];
  vf dc = in[8] + dh * o * (1.0f - tc * tc);
  out[0] = dc * g * i * (1.0f - i);
  out[1] = dc * cp * f * (1.0f - f);
  out[2] = dc * i * (1.0f - g * g);
  out[3] = dh * tc * o * (1.0f - o);
  out[4] = dc * f;
}

typedef struct {
  float *gates;
  const float *cPrev;
  float *c, *h;
  long H;
} lstm_fwd_job;

static void lstm_fwd_rows(void *ctx, long lo, long hi) {
  const lstm_fwd_job *j = ctx;
  const long H = j->H;
  for (long b = lo; b < hi; b++) {
    float *a = j->gates + b * 4 * H;
    lanes l = {{a, a + H, a + 2 * H, a + 3 * H, j->cPrev + b * H}, {a, a + H, a + 2 * H, a + 3 * H, j->c + b * H, j->h + b * H}, 5, 6};
    run_lanes(&l, H, lstm_fwd_vec);
  }
}

void LMF_FN(lstm_cell_forward)(float *gates, const float *cPrev, float *c, float *h, long B, long H) {
  lstm_fwd_job j = {gates, cPrev, c, h, H};
  lmf_parallel_range(B, grain_for(H, 4), lstm_fwd_rows, &j);
}

typedef struct {
  const float *gates, *cPrev, *c, *dhOut, *dhNext;
  float *dc, *dGates;
  long H;
} lstm_bwd_job;

static void lstm_bwd_rows(void *ctx, long lo, long hi) {
  const lstm_bwd_job *j = ctx;
  const long H = j->H;
  for (long b = lo; b < hi; b++) {
    const float *a = j->gates + b * 4 * H;
    float *da = j->dGates + b * 4 * H;
    lanes l = {{a, a + H, a + 2 * H, a + 3 * H, j->cPrev + b * H, j->c + b * H, j->dhOut + b * H, j->dhNext + b * H, j->dc + b * H},
               {da, da + H, da + 2 * H, da + 3 * H, j->dc + b * H},
               9,
               5};
    run_lanes(&l, H, lstm_bwd_vec);
  }
}

void LMF_FN(lstm_cell_backward)(const float *gates, const float *cPrev, const float *c, const float *dhOut,
                                const float *dhNext, float *dc, float *dGates, long B, long H) {
  lstm_bwd_job j = {gates, cPrev, c, dhOut, dhNext, dc, dGates, H};
  lmf_parallel_range(B, grain_for(H, 4), lstm_bwd_rows, &j);
}

/* ---- GRU ------------------------------------------------------------------------------- */

typedef struct {
  const float *xg, *hg, *hPrev;
  float *gates, *h;
  long H;
} gru_fwd_job;

/* in: xr xz xn hr hz hn hPrev; out: r z n h */
static inline void gru_fwd_vec(const vf *in, vf *out) {
  vf r = vsigmoid(in[0] + in[3]);
  vf z = vsigmoid(in[1] + in[4]);
  vf n = vtanh(in[2] + r * in[5]);
  out[0] = r;
  out[1] = z;
  out[2] = n;
  out[3] = (1.0f - z) * n + z * in[6];
}

/* in: r z n hn hPrev dhOut dhNext; out: dxr dxz dxn dhn dhPrev (dhr = dxr, dhz = dxz) */
static inline void gru_bwd_vec(const vf *in, vf *out) {
  vf r = in[0], z = in[1], n = in[2];
  vf dh = in[5] + in[6];
  vf dan = dh * (1.0f - z) * (1.0f - n * n);
  out[0] = dan * in[3] * r * (1.0f - r);
  out[1] = dh * (in[4] - n) * z * (1.0f - z);
  out[2] = dan;
  out[3] = dan * r;
  out[4] = dh * z;
}

static void gru_fwd_rows(void *ctx, long lo, long hi) {
  const gru_fwd_job *j = ctx;
  const long H = j->H;
  for (long b = lo; b < hi; b++) {
    const float *x = j->xg + b * 3 * H, *hg = j->hg + b * 3 * H;
    float *g = j->gates + b * 3 * H;
    lanes l = {{x, x + H, x + 2 * H, hg, hg + H, hg + 2 * H, j->hPrev + b * H}, {g, g + H, g + 2 * H, j->h + b * H}, 7, 4};
    run_lanes(&l, H, gru_fwd_vec);
  }
}

void LMF_FN(gru_cell_forward)(const float *xg, const float *hg, const float *hPrev, float *gates, float *h, long B,
                              long H) {
  gru_fwd_job j = {xg, hg, hPrev, gates, h, H};
  lmf_parallel_range(B, grain_for(H, 3), gru_fwd_rows, &j);
}

typedef struct {
  const float *gates, *hg, *hPrev, *dhOut, *dhNext;
  float *dxg, *dhg, *dhPrev;
  long H;
} gru_bwd_job;

static void gru_bwd_rows(void *ctx, long lo, long hi) {
  const gru_bwd_job *j = ctx;
  const long H = j->H;
  for (long b = lo; b < hi; b++) {
    const float *g = j->gates + b * 3 * H;
    float *dx = j->dxg + b * 3 * H, *dhg = j->dhg + b * 3 * H;
    lanes l = {{g, g + H, g + 2 * H, j->hg + b * 3 * H + 2 * H, j->hPrev + b * H, j->dhOut + b * H, j->dhNext + b * H},
               {dx, dx + H, dx + 2 * H, dhg + 2 * H, j->dhPrev + b * H},
               7,
               5};
    run_lanes(&l, H, gru_bwd_vec);
    /* dhr = dxr, dhz = dxz: the reset and update pre-activations add x and h parts */
    memcpy(dhg, dx, (size_t)(2 * H) * 4);
  }
}

void LMF_FN(gru_cell_backward)(const float *gates, const float *hg, const float *hPrev, const float *dhOut,
                               const float *dhNext, float *dxg, float *dhg, float *dhPrev, long B, long H) {
  gru_bwd_job j = {gates, hg, hPrev, dhOut, dhNext, dxg, dhg, dhPrev, H};
  lmf_parallel_range(B, grain_for(H, 3), gru_bwd_rows, &j);
}
