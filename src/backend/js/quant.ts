/**
 * The quantized matrix product y = x W^T with W stored as GGUF's Q8_0 or Q4_0 blocks, as
 * ggml computes it (ggml-quants.c: quantize_row_q8_0_ref, ggml_vec_dot_q8_0_q8_0,
 * ggml_vec_dot_q4_0_q8_0): each row of x is quantized per 32-value block to Q8_0 (scale
 * d = amax / 127 kept as fp16, q = round(x / d)), every block pair gives an exact integer
 * dot product sumi, and y = sum over blocks of sumi * (dW * dX) in float32, block by block.
 *
 * Block layouts (little-endian; 32 weights each):
 *   Q8_0  34 bytes: d (fp16), qs[32] int8;      w = d * q
 *   Q4_0  18 bytes: d (fp16), qs[16] nibbles;   w[j] = d * ((qs[j] & 15) - 8), w[j + 16] = d * ((qs[j] >> 4) - 8)
 *
 * Legend: M rows of x, N rows of W (outputs), K inputs (a multiple of 32); x (M, K),
 * W (N, K / 32 blocks), y (M, N). float64 x quantizes and accumulates in float64.
 */
import type { F } from '../../tensor/backend.js';
import type { QuantOp } from '../../tensor/kernels.gen.js';
import { quantBlockBytes } from '../../tensor/ops/quantized-matmul.js';
import { halfToNumber, numberToHalf } from '../../util/half.js';

const exact = (v: number): number => v;

/** C's roundf: halves away from zero. */
const roundAway = (v: number): number => (v < 0 ? -Math.round(-v) : Math.round(v));

/**
 * Row m of x as Q8_0 activations: q (K int8 values) and the fp16-rounded scale of each
 * block, as quantize_row_q8_0_ref (the scale's inverse is taken before the fp16 rounding).
 */
export function quantizeActivations(
  x: F,
  from: number,
  K: number,
  q: Int8Array,
  scales: Float64Array,
  round: (v: number) => number,
): void {
  for (let b = 0; b < K / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[from + 32 * b + j]!));
    const d = round(amax / 127);
    const id = d !== 0 ? round(1 / d) : 0;
    for (let j = 0; j < 32; j++) {
      q[32 * b + j] = Math.max(-128, Math.min(127, roundAway(round(x[from + 32 * b + j]! * id))));
    }
    scales[b] = round === exact ? d : halfToNumber(numberToHalf(d));
  }
}

/** The integer dot product of weight block `at` (of `type`) with 32 activations q[o, o + 32). */
function blockDot(type: QuantOp, w: Uint8Array, at: number, q: Int8Array, o: number): number {
  let sumi = 0;
  if (type === 'q8_0') {
    for (let j = 0; j < 32; j++) sumi += ((w[at + 2 + j]! << 24) >> 24) * q[o + j]!;
  } else {
    for (let j = 0; j < 16; j++) {
      const byte = w[at + 2 + j]!;
      sumi += ((byte & 15) - 8) * q[o + j]! + ((byte >> 4) - 8) * q[o + 16 + j]!;
    }
  }
  return sumi;
}

export function quantMatmul(type: QuantOp, w: Uint8Array, x: F, y: F, M: number, N: number, K: number): void {
  const round = y instanceof Float32Array ? Math.fround : exact;
  const bytes = quantBlockBytes[type];
  const blocks = K / 32;
  const q = new Int8Array(K);
  const scales = new Float64Array(blocks);
  for (let m = 0; m < M; m++) {
    quantizeActivations(x, m * K, K, q, scales, round);
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b < blocks; b++) {
        const at = (n * blocks + b) * bytes;
        const dw = halfToNumber(w[at]! | (w[at + 1]! << 8));
        acc = round(acc + round(blockDot(type, w, at, q, 32 * b) * round(dw * scales[b]!)));
      }
      y[m * N + n] = acc;
    }
  }
}
