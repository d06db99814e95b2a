/** The studio's server side: the Hono app, its context, and the data behind each view. */
export { createStudioApp } from './app.js';
export type { StudioContext, StudioModel, RunSources } from './context.js';
export type * from './api-types.js';
export {
  attentionMaps,
  translationAttentionMaps,
  requestedAttentionMaps,
  attentionHead,
  type AttentionMaps,
  type AttentionSet,
  type TokenText,
} from './attention.js';
export {
  attentionJson,
  attentionBinary,
  attentionMagic,
  halfBits,
  type AttentionSelection,
  type AttentionPrecision,
} from './attention-format.js';
export {
  decodeAttentionBinary,
  type DecodedAttention,
  type DecodedAttentionMap,
} from './attention-decode.js';
export { nextTokenView, type NextTokenViewOptions } from './next-token-view.js';
export {
  tokenEmbeddings,
  sentenceEmbedding,
  cosineNeighbours,
  type Vectors,
  type Similar,
} from './embeddings.js';
export { embeddingsView, maxEmbeddingPoints, type EmbeddingsRequest } from './embeddings-view.js';
export { pca2, umap2, project, type Projection, type Coordinates } from './projection.js';
export { positionalView } from './positional-view.js';
export { runFolders, runSummaries, readRunLog } from './runs.js';
export { FeedbackStore, feedbackRecord } from './feedback-store.js';
export { tokenPieces } from './pieces.js';
