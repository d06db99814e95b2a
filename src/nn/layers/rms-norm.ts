/** RMSNorm (Zhang & Sennrich, 2019), as in Llama: y = x / sqrt(mean(x^2) + eps) * weight. */
import { type Tensor, rmsNorm, ones } from '../../tensor/index.js';
import { Module } from '../module.js';

export class RMSNorm extends Module {
  readonly weight: Tensor; // (C)
  readonly eps: number;

  constructor(dim: number, options: { readonly eps: number }) {
    super();
    this.eps = options.eps;
    this.weight = this.addParameter('weight', ones([dim]));
  }

  /** x (..., C) -> (..., C). */
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}
