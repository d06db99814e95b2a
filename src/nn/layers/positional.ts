/**
 * Positional encodings, selected by a discriminated union:
 * - learned: a trained (blockSize, C) table added to the token embeddings (GPT-2's wpe);
 * - sinusoidal: the fixed table of Vaswani et al. (2017), sec. 3.5, added likewise;
 * - rope: rotary embeddings (Su et al., 2021) applied to queries and keys, in the Hugging
 *   Face Llama convention (rotate_half: the two halves of each head, not interleaved pairs).
 *
 * RoPE is composed from differentiable ops (narrow, concat, mul, add) over precomputed
 * cos/sin tables, so autograd needs no extra rule.
 *
 * Legend: B batch, T time, C channels, nH heads, hs head size, P positions (table rows).
 */
import {
  type Tensor,
  type FloatDType,
  Tensor as TensorClass,
  add,
  mul,
  narrow,
  concat,
  keep,
} from '../../tensor/index.js';
import { ShapeError } from '../../util/errors.js';

export type PositionalEncoding =
  | { readonly kind: 'learned' }
  | { readonly kind: 'sinusoidal' }
  | { readonly kind: 'rope'; readonly theta: number };

/** PE[p, 2i] = sin(p / 10000^(2i/C)), PE[p, 2i+1] = cos(p / 10000^(2i/C)); a (P, C) constant. */
export function sinusoidalTable(positions: number, dim: number): Tensor {
  const table = TensorClass.empty([positions, dim], 'float32', false);
  const data = table.values();
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < dim; i += 2) {
      const angle = p / Math.pow(10000, i / dim);
      data[p * dim + i] = Math.sin(angle);
      if (i + 1 < dim) data[p * dim + i + 1] = Math.cos(angle);
    }
  }
  return keep(table);
}

/** Rows [offset, offset + T) of a (P, C) table, checked against its length. */
export function positionRows(table: Tensor, offset: number, T: number, where: string): Tensor {
  const P = table.shape[0]!;
  if (offset + T > P) {
    throw new ShapeError('sequence runs past the last position', {
      where,
      expected: `offset + T <= ${P} (blockSize)`,
      actual: `offset ${offset} + T ${T}`,
      hint: 'crop the context to blockSize tokens or raise blockSize',
    });
  }
  return narrow(table, 0, offset, T); // (T, C)
}

/**
 * Rotary embedding tables for one head size, as HF LlamaRotaryEmbedding builds them:
 * inv_freq[i] = theta^(-2i/hs), angle[p, i] = p * inv_freq[i], both halves of a head
 * sharing the frequencies: cos = cat(cos(angle), cos(angle)).
 */
export class RotaryEmbedding {
  readonly headSize: number;
  readonly cos: Tensor; // (P, hs)
  /** sin with the first half negated, so that rotate_half(x) * sin = cat(x2, x1) * signedSin. */
  readonly signedSin: Tensor; // (P, hs)

  /** `dtype` float64 serves finite-difference gradient checks. */
  constructor(headSize: number, positions: number, theta: number, dtype: FloatDType = 'float32') {
    if (headSize % 2 !== 0) {
      throw new ShapeError('RoPE needs an even head size', { where: 'RotaryEmbedding', actual: headSize });
    }
    this.headSize = headSize;
    const half = headSize / 2;
    const cos = TensorClass.empty([positions, headSize], dtype, false);
    const sin = TensorClass.empty([positions, headSize], dtype, false);
    const c = cos.values();
    const s = sin.values();
    for (let p = 0; p < positions; p++) {
      for (let i = 0; i < half; i++) {
        // HF computes inv_freq in float32 and the angle as a float32 product; Math.fround
        // keeps the tables bit-compatible with that (angles up to ~P radians lose ~1e-7 rel).
        const invFreq = Math.fround(1 / Math.pow(theta, (2 * i) / headSize));
        const angle = Math.fround(p * invFreq);
        c[p * headSize + i] = c[p * headSize + half + i] = Math.cos(angle);
        s[p * headSize + i] = -Math.sin(angle);
        s[p * headSize + half + i] = Math.sin(angle);
      }
    }
    this.cos = keep(cos);
    this.signedSin = keep(sin);
  }

  get positions(): number {
    return this.cos.shape[0]!;
  }

  /**
   * x (B, nH, T, hs) at positions [offset, offset + T) -> rotated (B, nH, T, hs).
   * HF: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1).
   */
  apply(x: Tensor, offset: number): Tensor {
    const T = x.shape[2]!;
    const half = this.headSize / 2;
    const cos = positionRows(this.cos, offset, T, 'RotaryEmbedding.apply'); // (T, hs)
    const sin = narrow(this.signedSin, 0, offset, T); // (T, hs)
    const x1 = narrow(x, -1, 0, half); // (B, nH, T, hs/2)
    const x2 = narrow(x, -1, half, half); // (B, nH, T, hs/2)
    const swapped = concat([x2, x1], -1); // (B, nH, T, hs)
    return add(mul(x, cos), mul(swapped, sin)); // (B, nH, T, hs)
  }

  dispose(): void {
    this.cos.dispose();
    this.signedSin.dispose();
  }
}
