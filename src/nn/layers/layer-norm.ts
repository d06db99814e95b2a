/** LayerNorm (Ba et al., 2016): y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis. */
import { type Tensor, layerNorm, ones, zeros } from '../../tensor/index.js';
import { Module } from '../module.js';

export class LayerNorm extends Module {
  readonly weight: Tensor; // (C)
  readonly bias: Tensor | null; // (C), absent in nanoGPT's bias=False models
  readonly eps: number;

  constructor(dim: number, options: { readonly bias: boolean; readonly eps: number }) {
    super();
    this.eps = options.eps;
    this.weight = this.addParameter('weight', ones([dim]));
    this.bias = options.bias ? this.addParameter('bias', zeros([dim])) : null;
  }

  /** x (..., C) -> (..., C). */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
