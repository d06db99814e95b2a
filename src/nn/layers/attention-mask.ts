/**
 * Which keys a query may attend, as a discriminated union, and its translation into what
 * the attention ops take (a causal rule plus an additive float mask, attention-args.ts):
 * - causal: query i, at position offset + i, sees keys 0..offset + i (decoders; the
 *   offset is the KV cache length, as before masks existed);
 * - bidirectional: every key (encoders, cross-attention);
 * - padding: per-sequence key validity, HF's `attention_mask` (B, Tk) of 1 for a token
 *   and 0 for padding, optionally together with the causal rule (left-padded batched
 *   generation: pad keys are never seen, and a pad query that sees no key gives 0);
 * - additive: a custom float mask broadcastable to (B, nH, Tq, Tk), added to the scores
 *   (-Infinity removes a key), optionally with the causal rule;
 * - segments: the document id of every key, (B, Tk) int32: a query sees only the keys of
 *   its own document, optionally with the causal rule (several conversations packed into
 *   one training row attend as if each were alone: a per-document causal mask);
 * - leftPadding: causal, row b's keys start at column starts[b] (what came before is
 *   padding) and its tokens sit at positions column - starts[b]. Attention runs row by row
 *   over exactly the row's own keys, with RoPE at those positions, so every row gets the
 *   bits it would get alone (batch invariance: continuous batching, batch-engine.ts); a
 *   decoder turns a left-padding mask whose positions say so into this kind.
 * A causal mask may also carry a sliding window (Mistral; Beltagy et al., 2020): query i
 * sees only keys j > position(i) - window, i.e. its `window` latest keys, itself included,
 * as transformers' masking_utils (sliding_window_overlay: kv_idx > q_idx - sliding_window).
 * While the keys so far number at most `window`, no key is outside any query's window and
 * no mask is built: a window >= blockSize never changes anything.
 *
 * Legend: B batch, nH heads, Tq queries, Tk keys.
 */
import {
  type AttentionOptions,
  type FloatDType,
  type Rng,
  type Tensor,
  Tensor as TensorClass,
  add,
} from '../../tensor/index.js';
import { ConfigError, ShapeError } from '../../util/errors.js';

export type AttentionMask =
  | { readonly kind: 'causal' }
  | { readonly kind: 'bidirectional' }
  | { readonly kind: 'padding'; readonly keys: Tensor; readonly causal: boolean }
  | { readonly kind: 'additive'; readonly mask: Tensor; readonly causal: boolean }
  | { readonly kind: 'segments'; readonly segments: Tensor; readonly causal: boolean }
  | { readonly kind: 'leftPadding'; readonly starts: readonly number[] };

export const causalMask: AttentionMask = { kind: 'causal' };
export const bidirectionalMask: AttentionMask = { kind: 'bidirectional' };

/** Dropout on the attention probabilities while training (nanoGPT's attn_dropout); null for none. */
export type AttentionDropout = { readonly p: number; readonly rng: Rng } | null;

/** True when the mask applies the causal rule. */
export function isCausal(mask: AttentionMask): boolean {
  switch (mask.kind) {
    case 'causal':
      return true;
    case 'bidirectional':
      return false;
    case 'padding':
    case 'additive':
    case 'segments':
      return mask.causal;
    case 'leftPadding':
      return true;
  }
}

/**
 * The leftPadding mask equivalent to a causal padding mask `keys` (B, Tk) 0/1 over every key
 * so far, for T new tokens at `positions` (B, T), when each row is padding then tokens
 * (0...0 1...1) and its tokens sit at column - start; null otherwise (holes, right padding,
 * shifted positions: the general additive path then runs).
 */
export function leftPaddingOf(keys: Tensor, positions: Tensor, T: number): AttentionMask | null {
  if (keys.ndim !== 2 || positions.ndim !== 2) return null;
  const [B, Tk] = keys.shape as [number, number];
  if (positions.shape[0] !== B || positions.shape[1] !== T || Tk < T) return null;
  const k = keys.values();
  const p = positions.values();
  const [kb, kt] = keys.strides as [number, number];
  const [pb, pt] = positions.strides as [number, number];
  const starts: number[] = [];
  for (let b = 0; b < B; b++) {
    let start = 0;
    while (start < Tk && k[keys.offset + b * kb + start * kt] === 0) start++;
    for (let j = start; j < Tk; j++) if (k[keys.offset + b * kb + j * kt] !== 1) return null;
    for (let t = 0; t < T; t++) {
      const column = Tk - T + t;
      if (column >= start && p[positions.offset + b * pb + t * pt] !== column - start) return null;
    }
    starts.push(start);
  }
  return { kind: 'leftPadding', starts };
}

/**
 * HF's attention_mask for sequences of `lengths` tokens padded to T: (B, T) int32, 1 for a
 * token, 0 for padding, the padding on the left (batched generation) or the right.
 *
 * @example
 * paddingKeys([2, 4], 4, 'left'); // [[0, 0, 1, 1], [1, 1, 1, 1]]
 */
export function paddingKeys(lengths: readonly number[], T: number, side: 'left' | 'right'): Tensor {
  const bad = lengths.findIndex((n) => !Number.isInteger(n) || n < 0 || n > T);
  if (bad >= 0) {
    throw new ConfigError('a sequence length is out of range', {
      where: `paddingKeys lengths[${bad}]`,
      expected: `an integer in [0, ${T}]`,
      actual: lengths[bad],
    });
  }
  const keys = TensorClass.empty([lengths.length, T], 'int32');
  const data = keys.values();
  lengths.forEach((n, b) =>
    data.fill(1, b * T + (side === 'left' ? T - n : 0), b * T + (side === 'left' ? T : n)),
  );
  return keys;
}

/** The keys a mask is applied over: Tk in all, the first `filled` of them written, query 0 at causalOffset. */
export interface MaskShape {
  readonly B: number;
  readonly Tk: number;
  readonly filled: number;
  readonly causalOffset: number;
}

/**
 * The attention ops' options for `mask` over `Tk` keys of which the first `filled` exist
 * (a KV cache's whole buffer has Tk = maxT > filled: keys from `filled` on are removed).
 * `causalOffset` is the position of query 0 among the keys; `T` the number of queries.
 * `window` (keys per query, itself included; null for none) narrows a causal mask to a
 * sliding window. One object per call: this runs once per layer and decoding step.
 */
export function maskOptions(
  mask: AttentionMask,
  shape: MaskShape,
  dtype: FloatDType,
  dropout: AttentionDropout,
  where: string,
  window: { readonly size: number | null; readonly T: number } = { size: null, T: 0 },
): AttentionOptions {
  const { causalOffset } = shape;
  const options = ((): AttentionOptions => {
    switch (mask.kind) {
      case 'causal':
        return { causal: true, causalOffset, dropout };
      case 'bidirectional':
        return { causal: false, dropout };
      case 'padding': {
        const additive = paddingToAdditive(mask.keys, shape, dtype, `${where} padding mask`);
        return { causal: mask.causal, causalOffset, mask: additive, dropout };
      }
      case 'additive':
        return { causal: mask.causal, causalOffset, mask: mask.mask, dropout };
      case 'segments': {
        const additive = segmentsToAdditive(mask.segments, shape, dtype, `${where} segments mask`);
        return { causal: mask.causal, causalOffset, mask: additive, dropout };
      }
      case 'leftPadding': {
        // The general path (probabilities to return, dropout): the padding keys removed.
        const additive = TensorClass.empty([shape.B, 1, 1, shape.Tk], dtype, false);
        const out = additive.floats();
        out.fill(-Infinity);
        mask.starts.forEach((start, b) => out.fill(0, b * shape.Tk + start, b * shape.Tk + shape.filled));
        return { causal: true, causalOffset, mask: additive, dropout };
      }
    }
  })();
  // Below `size` keys every query sees all it may: the window changes nothing.
  if (window.size === null || shape.filled <= window.size) return options;
  if (!options.causal) {
    throw new ConfigError('a sliding window needs the causal rule', {
      where: `${where} mask`,
      expected: 'a causal mask (decoder self-attention)',
      actual: `${mask.kind} mask with causal false`,
    });
  }
  const slide = slidingWindowMask(window.T, shape.Tk, causalOffset, window.size, dtype); // (1, 1, T, Tk)
  return { ...options, mask: options.mask === undefined ? slide : add(options.mask, slide) };
}

/**
 * (1, 1, T, Tk) additive mask of a sliding window: 0 where key j lies within query i's
 * window (j > causalOffset + i - window), -Infinity for the keys before it. Keys after the
 * query are left to the causal rule.
 *
 * @example
 * slidingWindowMask(1, 6, 5, 3, 'float32'); // [[[[-inf, -inf, -inf, 0, 0, 0]]]]: position 5 sees keys 3..5
 */
export function slidingWindowMask(
  T: number,
  Tk: number,
  causalOffset: number,
  window: number,
  dtype: FloatDType,
): Tensor {
  const out = TensorClass.empty([1, 1, T, Tk], dtype, false);
  const data = out.floats();
  data.fill(0);
  for (let i = 0; i < T; i++) {
    // The first key query i sees: position - window + 1.
    const first = Math.min(Tk, Math.max(0, causalOffset + i - window + 1));
    data.fill(-Infinity, i * Tk, i * Tk + first);
  }
  return out;
}

/**
 * Segment ids (B, filled) -> (B, 1, Tq, Tk) of 0 where key j belongs to query i's document
 * and -Infinity elsewhere (and on unfilled keys); query i is key causalOffset + i, so
 * Tq = filled - causalOffset. The fused kernel then applies it with the causal rule.
 */
function segmentsToAdditive(
  segments: Tensor,
  shape: { readonly B: number; readonly Tk: number; readonly filled: number; readonly causalOffset: number },
  dtype: FloatDType,
  where: string,
): Tensor {
  const { B, Tk, filled, causalOffset } = shape;
  if (
    segments.dtype !== 'int32' ||
    segments.ndim !== 2 ||
    segments.shape[0] !== B ||
    segments.shape[1] !== filled
  ) {
    throw new ShapeError('a segments mask must have one int32 document id per sequence and key', {
      where,
      expected: `(${B}, ${filled}) int32 (batch, keys so far)`,
      actual: `(${segments.shape.join(', ')}) ${segments.dtype}`,
    });
  }
  const Tq = filled - causalOffset;
  const ids = segments.values();
  const [strideB, strideT] = segments.strides as [number, number];
  const at = (b: number, j: number): number => ids[segments.offset + b * strideB + j * strideT]!;
  const additive = TensorClass.empty([B, 1, Tq, Tk], dtype, false);
  const out = additive.floats();
  out.fill(-Infinity);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const own = at(b, causalOffset + i);
      const row = (b * Tq + i) * Tk;
      for (let j = 0; j < filled; j++) if (at(b, j) === own) out[row + j] = 0;
    }
  }
  return additive;
}

/** keys (B, filled) 0/1 -> (B, 1, 1, Tk) of 0 for a token and -Infinity for padding and unfilled keys. */
function paddingToAdditive(
  keys: Tensor,
  shape: { readonly B: number; readonly Tk: number; readonly filled: number },
  dtype: FloatDType,
  where: string,
): Tensor {
  const { B, Tk, filled } = shape;
  if (keys.ndim !== 2 || keys.shape[0] !== B || keys.shape[1] !== filled) {
    throw new ShapeError('padding mask must have one 0/1 entry per sequence and key', {
      where,
      expected: `(${B}, ${filled}) (batch, keys so far)`,
      actual: `(${keys.shape.join(', ')})`,
    });
  }
  const source = keys.values();
  const additive = TensorClass.empty([B, 1, 1, Tk], dtype, false);
  const out = additive.floats();
  out.fill(-Infinity);
  const [strideB, strideT] = keys.strides as [number, number];
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < filled; j++) {
      const value = source[keys.offset + b * strideB + j * strideT]!;
      if (value !== 0 && value !== 1) {
        throw new ConfigError('padding mask entries must be 0 or 1', {
          where: `${where} keys[${b}, ${j}]`,
          expected: '1 for a token, 0 for padding',
          actual: value,
        });
      }
      if (value === 1) out[b * Tk + j] = 0;
    }
  }
  return additive;
}
