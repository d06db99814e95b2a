/**
 * The positional-encoding heat maps: the sinusoidal table of Vaswani et al. (2017) and the
 * RoPE rotation angles (Su et al. 2021) for a model's width and head size, built by the
 * same nn functions the models use. A model's own encoding and head size are read from its
 * config where it has them (the decoder family's `positional`, `headSize`).
 */
import type { LanguageModel } from '../models/index.js';
import { RotaryEmbedding, sinusoidalTable, type PositionalEncoding } from '../nn/index.js';
import { contiguous } from '../tensor/index.js';
import type { PositionalResponse } from './api-types.js';
import { tokenEmbeddings } from './embeddings.js';

const defaultTheta = 10000;

function rows(values: ArrayLike<number>, R: number, C: number): number[][] {
  return Array.from({ length: R }, (_, r) => Array.from({ length: C }, (_, c) => values[r * C + c]!));
}

/** `positions` rows of each table (the model's context at most). */
export function positionalView(modelId: string, model: LanguageModel, positions: number): PositionalResponse {
  const P = Math.min(positions, model.maxPositions);
  const config = model.config as { positional?: PositionalEncoding; headSize?: number };
  const dim = tokenEmbeddings(model).dim;
  const headSize =
    typeof config.headSize === 'number' && config.headSize % 2 === 0 ? config.headSize : Math.min(64, dim);
  const theta = config.positional?.kind === 'rope' ? config.positional.theta : defaultTheta;
  const table = sinusoidalTable(P, dim);
  const rope = new RotaryEmbedding(headSize, P, theta);
  try {
    return {
      model: modelId,
      modelEncoding: config.positional?.kind ?? null,
      sinusoidal: rows(contiguous(table).floats(), P, dim),
      rope: rows(contiguous(rope.cos).floats(), P, headSize / 2),
      theta,
      headSize,
    };
  } finally {
    table.dispose();
    rope.dispose();
  }
}
