/**
 * Linear: y = x W^T + b with PyTorch nn.Linear's (out, in) weight, or y = x W + b with the
 * (in, out) weight of GPT-2's Conv1D (HF stores c_attn, c_proj, c_fc that way). Both read
 * the stored weight directly: the (out, in) case passes a transposed view to matmul, which
 * becomes a GEMM transpose flag, never a copy.
 *
 * Legend: N leading (batch) elements, in/out feature counts.
 */
import { type Tensor, type Rng, add, matmul, transpose, randn, zeros } from '../../tensor/index.js';
import { Module } from '../module.js';

/** 'outIn': nn.Linear (out, in). 'inOut': GPT-2 Conv1D (in, out). */
export type LinearLayout = 'outIn' | 'inOut';

export interface LinearOptions {
  readonly bias: boolean;
  readonly layout?: LinearLayout;
  /** Weights are drawn from N(0, std^2); the bias starts at zero. */
  readonly std: number;
  readonly rng: Rng;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly layout: LinearLayout;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.layout = options.layout ?? 'outIn';
    const shape = this.layout === 'outIn' ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    this.weight = this.addParameter('weight', randn(shape, options.rng, { std: options.std }));
    this.bias = options.bias ? this.addParameter('bias', zeros([outFeatures])) : null;
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    const w = this.layout === 'outIn' ? transpose(this.weight) : this.weight; // (in, out) view
    const y = matmul(x, w); // (..., out)
    return this.bias === null ? y : add(y, this.bias);
  }
}
