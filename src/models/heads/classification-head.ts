/**
 * Classification heads of any family: dropout, then one linear map from the model's width
 * to the labels (HF's `classifier` of BertForSequenceClassification /
 * BertForTokenClassification, with a bias; the `score` of GPT2ForSequenceClassification /
 * LlamaForSequenceClassification, without). What it reads is the family's choice, with the
 * pooling helpers below:
 * - a pooled vector per sequence (B, C) -> (B, L): BERT's pooler output (tanh(dense) of
 *   [CLS], the body's), or a decoder's last non-pad token (lastTokens);
 * - every position (B, T, C) -> (B, T, L): token classification (NER tagging).
 * A model mounts the head (Module.mount), so the linear's path is the family's checkpoint
 * key at the model's top level (`classifier.weight`, `score.weight`).
 *
 * Legend: B batch, T time, C channels, L labels.
 */
import { Tensor, contiguous, embedding, narrow, reshape } from '../../tensor/index.js';
import { Module, Linear, type InitOptions, type Projection } from '../../nn/index.js';
import { ConfigError, ShapeError } from '../../util/errors.js';
import type { ClassLabels } from './labels.js';

export interface ClassificationHeadOptions {
  readonly nEmbd: number;
  readonly labels: ClassLabels;
  /** The linear's checkpoint name ('classifier', 'score'). */
  readonly name: string;
  readonly bias: boolean;
  readonly init: InitOptions;
}

export class ClassificationHead extends Module {
  readonly labels: ClassLabels;
  readonly #name: string;

  constructor(options: ClassificationHeadOptions) {
    super();
    const { nEmbd, labels, name, bias, init } = options;
    this.labels = labels;
    this.#name = name;
    this.addChild(name, new Linear(nEmbd, labels.names.length, { bias, ...init }));
  }

  get linear(): Projection {
    return this.child<Projection>(this.#name);
  }

  /** features (..., C), already through the caller's dropout -> logits (..., L). */
  forward(features: Tensor): Tensor {
    return this.linear.forward(features); // (..., L)
  }
}

/** x (B, T, C) -> x[:, 0] (B, C): the first token ([CLS]). */
export function firstToken(x: Tensor): Tensor {
  const [B, T, C] = x.shape as [number, number, number];
  return rows(
    x,
    Int32Array.from({ length: B }, (_, b) => b * T),
    C,
  );
}

/**
 * x (B, T, C) -> (B, C): row b's state at position `positions[b]`, differentiably (the
 * gradient flows back into those positions only).
 */
export function tokensAt(x: Tensor, positions: ArrayLike<number>): Tensor {
  const [B, T, C] = x.shape as [number, number, number];
  if (positions.length !== B) {
    throw new ShapeError('one position per row is needed', {
      where: 'tokensAt',
      expected: `${B} positions`,
      actual: positions.length,
    });
  }
  const flat = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const t = positions[b]!;
    if (!Number.isInteger(t) || t < 0 || t >= T) {
      throw new ShapeError('position out of range', {
        where: `tokensAt positions[${b}]`,
        expected: `an integer in [0, ${T})`,
        actual: t,
      });
    }
    flat[b] = b * T + t;
  }
  return rows(x, flat, C);
}

/**
 * The states a per-token head reads for a logits selection (model.ts LogitsSelection):
 * x (B, T, C) itself for 'all', (B, 1, C) for 'last', (N, C) for `{ at }` (flat indices
 * b * T + t, checked), differentiably. `where` names the caller in errors.
 */
export function selectPositions(
  x: Tensor,
  selection: 'all' | 'last' | { readonly at: Tensor },
  where: string,
): Tensor {
  if (selection === 'all') return x;
  const [B, T, C] = x.shape as [number, number, number];
  if (selection === 'last') return narrow(x, 1, T - 1, 1); // (B, 1, C)
  const at = selection.at;
  if (at.dtype !== 'int32' || at.ndim !== 1) {
    throw new ShapeError('logits.at must be (N) int32 flat positions b * T + t', {
      where: `${where}: logits.at`,
      expected: '(N) int32',
      actual: `(${at.shape.join(', ')}) ${at.dtype}`,
    });
  }
  const flat = contiguous(at);
  const values = flat.values();
  for (let i = 0; i < values.length; i++) {
    const p = values[i]!;
    if (!(p >= 0 && p < B * T)) {
      throw new ShapeError('a logits position is out of range', {
        where: `${where}: logits.at[${i}]`,
        expected: `0 <= b * T + t < ${B * T} (B ${B}, T ${T})`,
        actual: p,
      });
    }
  }
  return embedding(reshape(x, [-1, C]), flat); // (N, C)
}

/** (B, T, C) viewed as (B*T, C), rows gathered by embedding (its backward scatter-adds). */
function rows(x: Tensor, flat: Int32Array, C: number): Tensor {
  const table = reshape(x, [-1, C]); // (B*T, C)
  return embedding(table, Tensor.fromArray(flat, [flat.length])); // (B, C)
}

/**
 * The position of each row's last real token, as HF's *ForSequenceClassification of
 * decoders reads it: from the padding mask when there is one (the last key marked 1; left
 * and right padding alike), else the last token that is not `padTokenId` (HF: the last
 * non-pad token of input_ids), else (no padding possible) the last position.
 */
export function lastTokenPositions(ids: Tensor, keys: Tensor | null, padTokenId: number | null): Int32Array {
  const [B, T] = ids.shape as [number, number];
  const out = new Int32Array(B);
  const source = keys ?? ids;
  const values = source.data; // the storage: offset and strides index it
  const [strideB, strideT] = source.strides as [number, number];
  for (let b = 0; b < B; b++) {
    let last = -1;
    for (let t = T - 1; t >= 0 && last < 0; t--) {
      const value = values[source.offset + b * strideB + t * strideT]!;
      const real = keys !== null ? value !== 0 : padTokenId === null || value !== padTokenId;
      if (real) last = t;
    }
    if (last < 0) {
      throw new ConfigError('a row has no token to classify', {
        where: `lastTokenPositions row ${b}`,
        expected: 'at least one position that is not padding',
        actual: keys !== null ? 'an attention mask of zeros' : `only pad_token_id ${padTokenId}`,
      });
    }
    out[b] = last;
  }
  return out;
}
