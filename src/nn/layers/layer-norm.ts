/** LayerNorm (Ba et al., 2016): y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis. */
import { type Tensor, layerNorm } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type Init, initConstant } from '../init.js';

export class LayerNorm extends Module {
  readonly weight: Tensor; // (C)
  readonly bias: Tensor | null; // (C), absent in nanoGPT's bias=False models
  readonly eps: number;

  /** The gain starts at one and the bias at zero (both zeros, to be loaded, with init 'empty'). */
  constructor(dim: number, options: { readonly bias: boolean; readonly eps: number; readonly init?: Init }) {
    super();
    this.eps = options.eps;
    this.weight = this.addParameter('weight', initConstant([dim], 1, options.init));
    this.bias = options.bias ? this.addParameter('bias', initConstant([dim], 0)) : null;
  }

  /** x (..., C) -> (..., C). */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
