/** Embedding: a (num, dim) lookup table; rows are gathered by integer ids. */
import { type Tensor, type Rng, embedding, randn } from '../../tensor/index.js';
import { Module } from '../module.js';

export interface EmbeddingOptions {
  /** Rows are drawn from N(0, std^2). */
  readonly std: number;
  readonly rng: Rng;
}

export class Embedding extends Module {
  readonly weight: Tensor; // (num, dim)

  constructor(num: number, dim: number, options: EmbeddingOptions) {
    super();
    this.weight = this.addParameter('weight', randn([num, dim], options.rng, { std: options.std }));
  }

  /** ids (...) int32 -> (..., dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
