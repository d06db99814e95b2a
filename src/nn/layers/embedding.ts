/**
 * Embedding: a (num, dim) lookup table; rows are gathered by integer ids. With a
 * `paddingIdx` (PyTorch nn.Embedding's padding_idx), that row starts at zero and the lookup
 * never trains it (Marian/BART's pad embedding).
 */
import { type Tensor, embedding } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type InitOptions, initWeight } from '../init.js';

/** Rows are drawn from N(0, std^2); zeros, to be loaded, with `init: 'empty'`. */
export type EmbeddingOptions = InitOptions & {
  /** The id whose row is zeroed at init and gets no gradient from lookups (default none). */
  readonly paddingIdx?: number | null;
};

export class Embedding extends Module {
  readonly weight: Tensor; // (num, dim)
  readonly paddingIdx: number | null;

  constructor(num: number, dim: number, options: EmbeddingOptions) {
    super();
    this.paddingIdx = options.paddingIdx ?? null;
    const weight = initWeight([num, dim], options);
    // nn.Embedding's reset_parameters zeroes the padding row after drawing the table.
    if (this.paddingIdx !== null) weight.floats().fill(0, this.paddingIdx * dim, (this.paddingIdx + 1) * dim);
    this.weight = this.addParameter('weight', weight);
  }

  /** ids (...) int32 -> (..., dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, { paddingIdx: this.paddingIdx });
  }
}
