/**
 * Sentence embeddings from any model of the contract: the last hidden state (B, T, C)
 * pooled per sequence, as sentence-transformers' Pooling module does: `mean` averages over
 * the positions the padding mask keeps ([CLS] and [SEP] included), `cls` takes position 0
 * (BERT's [CLS]; a decoder's first token). Sequences are right-padded per batch (padRows,
 * also what the classification and tagging batches use), eval mode, no gradient.
 *
 * Legend: B batch, T time, C channels, N sequences.
 */
import { Tensor, contiguous, noGrad, scope } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import type { LanguageModel } from '../model.js';

export type Pooling = 'mean' | 'cls';

/** Right-padded rows: ids (B, T) int32 and the padding mask keys (B, T) int32 (1 = real token). */
export interface PaddedRows {
  readonly ids: Tensor;
  readonly keys: Tensor;
  /** The longest row (T). */
  readonly length: number;
}

/**
 * `rows` right-padded with `padId` to the longest one.
 * @example
 * padRows([Int32Array.of(2, 7, 3), Int32Array.of(2, 3)], 0).ids.toArray(); // [[2, 7, 3], [2, 3, 0]]
 */
export function padRows(rows: readonly Int32Array[], padId: number): PaddedRows {
  const B = rows.length;
  const T = rows.reduce((n, row) => Math.max(n, row.length), 1);
  const ids = new Int32Array(B * T).fill(padId);
  const keys = new Int32Array(B * T);
  rows.forEach((row, b) => {
    ids.set(row, b * T);
    keys.fill(1, b * T, b * T + row.length);
  });
  return { ids: Tensor.fromArray(ids, [B, T]), keys: Tensor.fromArray(keys, [B, T]), length: T };
}

/**
 * One vector (C) per sequence, pooled from the model's last hidden state.
 * @example
 * const [a, b] = sentenceEmbeddings(bert, [ids1, ids2], { pooling: 'mean', padId: 0 });
 * cosineSimilarity(a!, b!);
 */
export function sentenceEmbeddings(
  model: LanguageModel,
  sequences: readonly Int32Array[],
  options: { readonly pooling: Pooling; readonly padId: number; readonly batchSize?: number },
): Float32Array[] {
  const step = options.batchSize ?? 32;
  const out: Float32Array[] = [];
  for (let start = 0; start < sequences.length; start += step) {
    const slice = sequences.slice(start, start + step);
    if (slice.some((s) => s.length === 0)) {
      throw new ConfigError('a sequence has no tokens', {
        where: 'sentenceEmbeddings',
        expected: '>= 1 token',
      });
    }
    scope(() =>
      noGrad(() => {
        const rows = padRows(slice, options.padId);
        const { hiddenStates } = model.forward(
          { ids: rows.ids, attentionMask: { kind: 'padding', keys: rows.keys } },
          { logits: 'none', hiddenStates: true, mode: 'eval' },
        );
        const last = hiddenStates![hiddenStates!.length - 1]!; // (B, T, C)
        const [, T, C] = last.shape as [number, number, number];
        const values = contiguous(last).floats();
        slice.forEach((sequence, b) => {
          const vector = new Float32Array(C);
          const count = options.pooling === 'cls' ? 1 : sequence.length;
          for (let t = 0; t < count; t++) {
            const row = (b * T + t) * C;
            for (let c = 0; c < C; c++) vector[c]! += values[row + c]!;
          }
          for (let c = 0; c < C; c++) vector[c]! /= count;
          out.push(vector);
        });
      }),
    );
  }
  return out;
}

/** The cosine of the angle between two vectors (0 when either is zero). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}
