/**
 * The embeddings view's data: token embeddings (the rows of the model's input embedding
 * table) or sentence embeddings (the mean of the last hidden state over a text's tokens),
 * nearest neighbours by cosine similarity, and 2-D projections (projection.ts).
 *
 * Legend: V vocab, C channels, T tokens.
 */
import type { LanguageModel } from '../models/index.js';
import { Tensor, contiguous, noGrad, scope } from '../tensor/index.js';
import { ConfigError } from '../util/errors.js';

/** Row-major (rows, dim) vectors. */
export interface Vectors {
  readonly rows: number;
  readonly dim: number;
  readonly values: Float32Array;
}

/**
 * The input token embedding table (V, C): the first (V, C) parameter, which every family
 * registers first (wte, embed_tokens, word_embeddings). A copy, so the model may be disposed.
 */
export function tokenEmbeddings(model: LanguageModel): Vectors {
  for (const [, parameter] of model.namedParameters()) {
    if (parameter.ndim === 2 && parameter.shape[0] === model.vocabSize) {
      return {
        rows: model.vocabSize,
        dim: parameter.shape[1]!,
        values: Float32Array.from(contiguous(parameter).floats()),
      };
    }
  }
  throw new ConfigError('the model has no token embedding table', {
    where: 'embeddings',
    expected: `a parameter of shape (${model.vocabSize}, C)`,
  });
}

/** The mean of the last hidden state (the final normed state) over the tokens of `ids`: (C). */
export function sentenceEmbedding(model: LanguageModel, ids: readonly number[]): Float32Array {
  if (ids.length === 0) throw new ConfigError('a text has no tokens', { where: 'embeddings.texts' });
  if (ids.length > model.maxPositions) {
    throw new ConfigError('a text is longer than the model context', {
      where: 'embeddings.texts',
      expected: `at most ${model.maxPositions} tokens`,
      actual: `${ids.length} tokens`,
    });
  }
  return scope(() =>
    noGrad(() => {
      const input = Tensor.fromArray(Int32Array.from(ids), [1, ids.length]); // (1, T)
      const { hiddenStates } = model.forward(
        { ids: input },
        { logits: 'none', hiddenStates: true, mode: 'eval' },
      );
      const last = hiddenStates![hiddenStates!.length - 1]!; // (1, T, C)
      const C = last.shape[2]!;
      const values = contiguous(last).floats();
      const mean = new Float32Array(C);
      for (let t = 0; t < ids.length; t++) for (let c = 0; c < C; c++) mean[c]! += values[t * C + c]!;
      for (let c = 0; c < C; c++) mean[c]! /= ids.length;
      return mean;
    }),
  );
}

/** One row of `vectors` (a view). */
export function row(vectors: Vectors, index: number): Float32Array {
  return vectors.values.subarray(index * vectors.dim, (index + 1) * vectors.dim);
}

export interface Similar {
  readonly index: number;
  readonly similarity: number;
}

/**
 * The `k` rows most similar to `query` by cosine, most similar first (lower index first on
 * ties), leaving out `exclude` (the query's own row). A zero row has similarity 0.
 */
export function cosineNeighbours(vectors: Vectors, query: Float32Array, k: number, exclude = -1): Similar[] {
  if (!(Number.isInteger(k) && k >= 1)) {
    throw new ConfigError('k must be an integer >= 1', { where: 'embeddings.k', actual: k });
  }
  const { rows, dim, values } = vectors;
  let queryNorm = 0;
  for (let c = 0; c < dim; c++) queryNorm += query[c]! * query[c]!;
  queryNorm = Math.sqrt(queryNorm);
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    let norm = 0;
    const base = r * dim;
    for (let c = 0; c < dim; c++) {
      const v = values[base + c]!;
      dot += v * query[c]!;
      norm += v * v;
    }
    const denominator = Math.sqrt(norm) * queryNorm;
    scores[r] = denominator === 0 ? 0 : dot / denominator;
  }
  // A bounded insertion list: k is small next to V.
  const best: Similar[] = [];
  for (let r = 0; r < rows; r++) {
    if (r === exclude) continue;
    const similarity = scores[r]!;
    if (best.length === k && similarity <= best[k - 1]!.similarity) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.similarity < similarity) at--;
    best.splice(at, 0, { index: r, similarity });
    if (best.length > k) best.pop();
  }
  return best;
}
