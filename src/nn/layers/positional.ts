/**
 * Positional encodings, selected by a discriminated union:
 * - learned: a trained (blockSize, C) table added to the token embeddings (GPT-2's wpe);
 * - sinusoidal: the fixed table of Vaswani et al. (2017), sec. 3.5, added likewise;
 * - rope: rotary embeddings (Su et al., 2021) applied to queries and keys, in the Hugging
 *   Face Llama convention (rotate_half: the two halves of each head, not interleaved pairs).
 *
 * RoPE runs as one fused op (src/tensor/ops/rope.ts: a kernel of the manifest, with its own
 * backward rule) over precomputed (P, hs/2) cos/sin tables; it equals the composed
 * definition x * cat(cos, cos) + rotate_half(x) * cat(sin, sin) bit for bit in float32.
 * The tables come from inverse frequencies: theta^(-2i/hs), optionally rescaled for longer
 * contexts as Hugging Face's modeling_rope_utils.py does ('linear': Chen et al., 2023,
 * position interpolation; 'llama3': Llama 3.1's per-band rule), see ropeInverseFrequencies.
 *
 * Legend: B batch, T time, C channels, nH heads, hs head size, P positions (table rows).
 */
import { type Tensor, type FloatDType, Tensor as TensorClass, narrow, keep } from '../../tensor/index.js';
import { rope } from '../../tensor/ops/rope.js';
import { ShapeError } from '../../util/errors.js';

export type PositionalEncoding =
  | { readonly kind: 'learned' }
  | { readonly kind: 'sinusoidal' }
  | { readonly kind: 'rope'; readonly theta: number; readonly scaling: RopeScaling };

/**
 * How RoPE's inverse frequencies are rescaled for a context longer than the one trained
 * on (HF's `rope_scaling` / `rope_parameters`, by its rope_type):
 * - none: theta^(-2i/hs) as in the paper (HF 'default');
 * - linear: every frequency divided by `factor` (positions interpolated);
 * - llama3: frequencies whose wavelength is shorter than originalMaxPositions /
 *   highFreqFactor are kept, those longer than originalMaxPositions / lowFreqFactor are
 *   divided by `factor`, and the band between is interpolated smoothly (Llama 3.1).
 */
export type RopeScaling =
  | { readonly kind: 'none' }
  | { readonly kind: 'linear'; readonly factor: number }
  | {
      readonly kind: 'llama3';
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositions: number;
    };

export const noRopeScaling: RopeScaling = Object.freeze({ kind: 'none' });

/**
 * The hs/2 inverse frequencies of RoPE with `theta` and `scaling`, as HF computes them in
 * float32 (modeling_rope_utils.py: _compute_default_rope_parameters,
 * _compute_linear_scaling_rope_parameters, _compute_llama3_parameters): every step of the
 * scaling is rounded to float32 (Math.fround) as torch's float32 tensor arithmetic is.
 *
 * @example
 * ropeInverseFrequencies(64, 500000, { kind: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
 */
export function ropeInverseFrequencies(headSize: number, theta: number, scaling: RopeScaling): Float32Array {
  const half = headSize / 2;
  const f = Math.fround;
  const out = new Float32Array(half);
  // theta^(-2i/hs) in double, rounded once (HF's float32 pow agrees to about one ulp).
  for (let i = 0; i < half; i++) out[i] = f(1 / Math.pow(theta, (2 * i) / headSize));
  switch (scaling.kind) {
    case 'none':
      return out;
    case 'linear':
      for (let i = 0; i < half; i++) out[i] = f(out[i]! / scaling.factor);
      return out;
    case 'llama3': {
      const { factor, lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: old } = scaling;
      const lowWavelen = f(old / low);
      const highWavelen = f(old / high);
      for (let i = 0; i < half; i++) {
        const inv = out[i]!;
        const wavelen = f(f(2 * Math.PI) / inv);
        if (wavelen > lowWavelen) {
          out[i] = f(inv / factor); // long wavelengths: interpolated
        } else if (!(wavelen < highWavelen)) {
          // The band between: (1 - s) * inv / factor + s * inv, s = (old / wavelen - low) / (high - low).
          const smooth = f(f(f(old / wavelen) - low) / f(high - low));
          out[i] = f(f(f(f(1 - smooth) * inv) / factor) + f(smooth * inv));
        }
      }
      return out;
    }
  }
}

/**
 * Where the sines and cosines of the sinusoidal table sit:
 * - interleaved (Vaswani et al. 2017, sec. 3.5): PE[p, 2i] = sin, PE[p, 2i+1] = cos;
 * - halves (Marian, HF MarianSinusoidalPositionalEmbedding): the ceil(C/2) sines first, then
 *   the floor(C/2) cosines, PE[p, i] = sin, PE[p, ceil(C/2) + i] = cos.
 * Both use the angle p / 10000^(2i/C) for frequency i.
 */
export type SinusoidLayout = 'interleaved' | 'halves';

/** The (P, C) constant sinusoidal table (see SinusoidLayout), computed in float64 and stored as float32. */
export function sinusoidalTable(
  positions: number,
  dim: number,
  layout: SinusoidLayout = 'interleaved',
): Tensor {
  const table = TensorClass.empty([positions, dim], 'float32', false);
  const data = table.values();
  const sines = Math.ceil(dim / 2);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; 2 * i < dim; i++) {
      const angle = p / Math.pow(10000, (2 * i) / dim);
      const [sinAt, cosAt] = layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, sines + i];
      data[p * dim + sinAt] = Math.sin(angle);
      if (2 * i + 1 < dim) data[p * dim + cosAt] = Math.cos(angle);
    }
  }
  return keep(table);
}

/** Throws unless positions [offset, offset + T) exist in a table of P rows. */
function checkPositions(P: number, offset: number, T: number, where: string): void {
  if (offset + T > P) {
    throw new ShapeError('sequence runs past the last position', {
      where,
      expected: `offset + T <= ${P} (blockSize)`,
      actual: `offset ${offset} + T ${T}`,
      hint: 'crop the context to blockSize tokens or raise blockSize',
    });
  }
}

/** Rows [offset, offset + T) of a (P, C) table, checked against its length. */
export function positionRows(table: Tensor, offset: number, T: number, where: string): Tensor {
  checkPositions(table.shape[0]!, offset, T, where);
  return narrow(table, 0, offset, T); // (T, C)
}

/**
 * Rotary embedding tables for one head size, as HF LlamaRotaryEmbedding builds them:
 * inv_freq[i] = theta^(-2i/hs) (or the rescaled frequencies of ropeInverseFrequencies),
 * angle[p, i] = p * inv_freq[i], both halves of a head sharing the frequencies (HF's
 * cat(cos(angle), cos(angle)); kept here once, (P, hs/2)).
 */
export class RotaryEmbedding {
  readonly headSize: number;
  readonly cos: Tensor; // (P, hs/2)
  readonly sin: Tensor; // (P, hs/2)

  /**
   * `frequencies` is theta (the paper's frequencies theta^(-2i/hs)) or the hs/2 inverse
   * frequencies themselves (ropeInverseFrequencies with a scaling). `dtype` float64
   * serves finite-difference gradient checks.
   */
  constructor(
    headSize: number,
    positions: number,
    frequencies: number | ArrayLike<number>,
    dtype: FloatDType = 'float32',
  ) {
    if (headSize % 2 !== 0) {
      throw new ShapeError('RoPE needs an even head size', { where: 'RotaryEmbedding', actual: headSize });
    }
    const half = headSize / 2;
    const invFreqs =
      typeof frequencies === 'number'
        ? ropeInverseFrequencies(headSize, frequencies, noRopeScaling)
        : frequencies;
    if (invFreqs.length !== half) {
      throw new ShapeError('one inverse frequency per pair of a head is needed', {
        where: 'RotaryEmbedding',
        expected: `${half} (head size ${headSize} / 2)`,
        actual: invFreqs.length,
      });
    }
    this.headSize = headSize;
    const cos = TensorClass.empty([positions, half], dtype, false);
    const sin = TensorClass.empty([positions, half], dtype, false);
    const c = cos.values();
    const s = sin.values();
    for (let p = 0; p < positions; p++) {
      for (let i = 0; i < half; i++) {
        // HF computes inv_freq in float32 and the angle as a float32 product; Math.fround
        // keeps the tables bit-compatible with that (angles up to ~P radians lose ~1e-7 rel).
        const angle = Math.fround(p * Math.fround(invFreqs[i]!));
        c[p * half + i] = Math.cos(angle);
        s[p * half + i] = Math.sin(angle);
      }
    }
    this.cos = keep(cos);
    this.sin = keep(sin);
  }

  get positions(): number {
    return this.cos.shape[0]!;
  }

  /**
   * x (B, nH, T, hs) at positions [offset, offset + T) -> rotated (B, nH, T, hs).
   * HF: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1).
   */
  apply(x: Tensor, offset: number): Tensor {
    checkPositions(this.positions, offset, x.shape[2]!, 'RotaryEmbedding.apply');
    return rope(x, this.cos, this.sin, offset); // (B, nH, T, hs)
  }

  dispose(): void {
    this.cos.dispose();
    this.sin.dispose();
  }
}
