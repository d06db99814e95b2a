/**
 * `POST /api/embeddings`: points to plot and the neighbours of a query.
 * - tokens: the distinct tokens of the entered texts, their rows of the token embedding
 *   table projected to 2-D; the query (a token id) is compared with the whole vocabulary;
 * - sentences: one mean-pooled last hidden state per text; the query (a text's index) is
 *   compared with the other texts.
 */
import type { LanguageModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import type { EmbeddingsResponse, Neighbour } from './api-types.js';
import { cosineNeighbours, row, sentenceEmbedding, tokenEmbeddings, type Vectors } from './embeddings.js';
import { tokenPieces } from './pieces.js';
import { project, type Projection } from './projection.js';

/** Points per view: UMAP and the plot stay interactive below this. */
export const maxEmbeddingPoints = 2000;

export interface EmbeddingsRequest {
  readonly mode: 'tokens' | 'sentences';
  readonly texts: readonly string[];
  readonly projection: Projection;
  /** tokens: a token id; sentences: the index of a text. Absent: the first point. */
  readonly query?: number | undefined;
  /** Neighbours to list. */
  readonly k: number;
  readonly seed: number;
}

function pick(vectors: Vectors, indices: readonly number[]): Vectors {
  const values = new Float32Array(indices.length * vectors.dim);
  indices.forEach((index, n) => values.set(row(vectors, index), n * vectors.dim));
  return { rows: indices.length, dim: vectors.dim, values };
}

function checkCount(count: number): void {
  if (count === 0)
    throw new ConfigError('nothing to embed', { where: 'embeddings.texts', hint: 'enter some text' });
  if (count > maxEmbeddingPoints) {
    throw new ConfigError('too many points', {
      where: 'embeddings.texts',
      expected: `at most ${maxEmbeddingPoints}`,
      actual: count,
    });
  }
}

export function embeddingsView(
  modelId: string,
  model: LanguageModel,
  tokenizer: Tokenizer,
  request: EmbeddingsRequest,
): EmbeddingsResponse {
  const base = { model: modelId, mode: request.mode, projection: request.projection };
  if (request.mode === 'tokens') {
    const table = tokenEmbeddings(model);
    const ids = [
      ...new Set(request.texts.flatMap((text) => tokenizer.encode(text, { addSpecialTokens: false }))),
    ];
    checkCount(ids.length);
    const query = request.query ?? ids[0]!;
    if (!(Number.isInteger(query) && query >= 0 && query < table.rows)) {
      throw new ConfigError('the query is not a token id of the model', {
        where: 'embeddings.query',
        expected: `an integer in [0, ${table.rows})`,
        actual: query,
      });
    }
    const coordinates = project(pick(table, ids), request.projection, request.seed);
    const label = (id: number): string => tokenPieces(tokenizer, [id])[0]!;
    const neighbours: Neighbour[] = cosineNeighbours(table, row(table, query), request.k, query).map((n) => ({
      label: label(n.index),
      id: n.index,
      similarity: n.similarity,
    }));
    return {
      ...base,
      dim: table.dim,
      points: ids.map((id, n) => ({ label: label(id), id, x: coordinates[n]![0], y: coordinates[n]![1] })),
      query: label(query),
      neighbours,
    };
  }
  checkCount(request.texts.length);
  const embedded = request.texts.map((text) => sentenceEmbedding(model, tokenizer.encode(text)));
  const dim = embedded[0]!.length;
  const vectors: Vectors = { rows: embedded.length, dim, values: new Float32Array(embedded.length * dim) };
  embedded.forEach((e, n) => vectors.values.set(e, n * dim));
  const query = request.query ?? 0;
  if (!(Number.isInteger(query) && query >= 0 && query < request.texts.length)) {
    throw new ConfigError('the query is not the index of a text', {
      where: 'embeddings.query',
      expected: `an integer in [0, ${request.texts.length})`,
      actual: query,
    });
  }
  const coordinates = project(vectors, request.projection, request.seed);
  const k = Math.min(request.k, Math.max(1, vectors.rows - 1));
  const neighbours =
    vectors.rows < 2
      ? []
      : cosineNeighbours(vectors, row(vectors, query), k, query).map((n) => ({
          label: request.texts[n.index]!,
          id: null,
          similarity: n.similarity,
        }));
  return {
    ...base,
    dim,
    points: request.texts.map((text, n) => ({
      label: text,
      id: null,
      x: coordinates[n]![0],
      y: coordinates[n]![1],
    })),
    query: request.texts[query]!,
    neighbours,
  };
}
