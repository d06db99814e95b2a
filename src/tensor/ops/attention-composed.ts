/**
 * Scaled dot-product attention composed from matmul, add, softmax and matmul, with the same
 * options and results as the fused scaledDotProductAttention (attention.ts): causal rule
 * with offset, an additive mask, grouped-query heads, Tq != Tk, the same counter-based
 * dropout mask, and 0 (not NaN) for a query row whose keys are all masked. It builds the
 * (B, nH, Tq, Tk) probabilities, so it can return them (attention maps for inspection) and
 * autograd differentiates it with no rule of its own; it is the slow path: training uses
 * the fused kernel.
 *
 * Legend: B batch, nH query heads, nKV key/value heads, g = nH / nKV query heads per kv head,
 * Tq/Tk query/key lengths, hs head size.
 */
import { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/tape.js';
import { add, mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { contiguous, reshape, transpose } from './layout.js';
import { softmax } from './softmax.js';
import { where as select } from './select.js';
import { attentionArgs, type AttentionArgs, type AttentionOptions } from './attention-args.js';
import { attentionDropoutFactors } from './attention-dropout.js';

export interface AttentionWithProbabilities {
  /** softmax(q k^T * scale + mask) v, dropout applied: (B, nH, Tq, hs). */
  readonly output: Tensor;
  /** The attention probabilities before dropout, (B, nH, Tq, Tk); rows of fully masked queries are 0. */
  readonly probabilities: Tensor;
}

/**
 * The causal rule and the additive mask as one constant (Bm, Hm, Tq, Tk) tensor (Bm, Hm are
 * the mask's own B and nH, 1 where it broadcasts), with each row whose keys are all removed
 * set to 0 so that softmax stays finite, and `alive` (Bm, Hm, Tq, 1) marking the other rows;
 * null when there is nothing to add.
 */
function structure(a: AttentionArgs, like: Tensor): { bias: Tensor; alive: Tensor | null } | null {
  if (!a.causal && a.mask === null) return null;
  const { Tq, Tk } = a;
  const m = a.mask;
  const Bm = m !== null && m.strides[0] !== 0 ? a.B : 1;
  const Hm = m !== null && m.strides[1] !== 0 ? a.nH : 1;
  const bias = Tensor.empty([Bm, Hm, Tq, Tk], like.dtype, false);
  const alive = Tensor.empty([Bm, Hm, Tq, 1], like.dtype, false);
  const out = bias.floats();
  const rows = alive.floats();
  const source = m?.mask.floats() ?? null;
  let dead = false;
  for (let b = 0; b < Bm; b++) {
    for (let h = 0; h < Hm; h++) {
      for (let i = 0; i < Tq; i++) {
        const row = (b * Hm + h) * Tq + i;
        const base = row * Tk;
        const from = m === null ? 0 : m.offset + b * m.strides[0] + h * m.strides[1] + i * m.strides[2];
        // Query i sees key j when j <= i + causalOffset (the kernels' keyLimit).
        const limit = a.causal ? Math.max(0, Math.min(Tk, i + a.causalOffset + 1)) : Tk;
        let visible = 0;
        for (let j = 0; j < Tk; j++) {
          const value = j >= limit ? -Infinity : source === null ? 0 : source[from + j]!;
          out[base + j] = value;
          if (value !== -Infinity) visible++;
        }
        rows[row] = visible > 0 ? 1 : 0;
        if (visible === 0) {
          out.fill(0, base, base + Tk);
          dead = true;
        }
      }
    }
  }
  if (!dead) alive.dispose();
  return { bias, alive: dead ? alive : null };
}

/**
 * Attention that also returns its probabilities, for inspection (the studio's attention
 * maps) and as the reference the fused kernel is tested against.
 *
 * @example
 * const { output, probabilities } = composedAttention(q, k, v, { causal: true }); // (B, nH, T, hs), (B, nH, T, T)
 */
export function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): AttentionWithProbabilities {
  const a = attentionArgs('composedAttention', q, k, v, options);
  const { B, nH, nKV, Tq, Tk, hs } = a;
  const g = nH / nKV;
  const constant = noGrad(() => structure(a, q));
  // Query head h reads kv head floor(h / g): stack each kv head's g query heads along rows.
  const queries = reshape(contiguous(q), [B, nKV, g * Tq, hs]); // (B, nKV, g Tq, hs)
  const raw = mul(matmul(queries, transpose(k)), a.scale); // (B, nKV, g Tq, Tk)
  let scores = reshape(raw, [B, nH, Tq, Tk]); // (B, nH, Tq, Tk)
  if (constant !== null) scores = add(scores, constant.bias); // (B, nH, Tq, Tk)
  let probabilities = softmax(scores, -1); // (B, nH, Tq, Tk)
  // A fully masked row: softmax of zeros is finite, and select() gives it 0 and no gradient.
  if (constant?.alive) probabilities = select(constant.alive, probabilities, 0); // (B, nH, Tq, Tk)
  let weights = probabilities;
  if (a.dropout > 0) {
    const factors = attentionDropoutFactors(a.dropoutSeed, a.dropout, [B, nH, Tq, Tk]);
    const dense = q.dtype === 'float64' ? factors : Float32Array.from(factors);
    weights = mul(probabilities, Tensor.fromArray(dense, [B, nH, Tq, Tk])); // (B, nH, Tq, Tk)
  }
  const mixed = matmul(reshape(weights, [B, nKV, g * Tq, Tk]), v); // (B, nKV, g Tq, hs)
  return { output: reshape(mixed, [B, nH, Tq, hs]), probabilities };
}
