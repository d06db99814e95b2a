/** Embedding: a (num, dim) lookup table; rows are gathered by integer ids. */
import { type Tensor, embedding } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type InitOptions, initWeight } from '../init.js';

/** Rows are drawn from N(0, std^2); zeros, to be loaded, with `init: 'empty'`. */
export type EmbeddingOptions = InitOptions;

export class Embedding extends Module {
  readonly weight: Tensor; // (num, dim)

  constructor(num: number, dim: number, options: EmbeddingOptions) {
    super();
    this.weight = this.addParameter('weight', initWeight([num, dim], options));
  }

  /** ids (...) int32 -> (..., dim). */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}
