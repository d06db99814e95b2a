/** RMSNorm (Zhang & Sennrich, 2019), as in Llama: y = x / sqrt(mean(x^2) + eps) * weight. */
import { type Tensor, rmsNorm } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type Init, initConstant } from '../init.js';

export class RMSNorm extends Module {
  readonly weight: Tensor; // (C)
  readonly eps: number;

  /** The gain starts at one (zeros, to be loaded, with init 'empty'). */
  constructor(dim: number, options: { readonly eps: number; readonly init?: Init }) {
    super();
    this.eps = options.eps;
    this.weight = this.addParameter('weight', initConstant([dim], 1, options.init));
  }

  /** x (..., C) -> (..., C). */
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
