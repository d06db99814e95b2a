/**
 * Linear: y = x W^T + b with PyTorch nn.Linear's (out, in) weight, or y = x W + b with the
 * (in, out) weight of GPT-2's Conv1D (HF stores c_attn, c_proj, c_fc that way). Both read
 * the stored weight directly: the (out, in) case is matmulTransposed, the weight read through
 * a GEMM transpose flag, never a copy.
 *
 * Legend: N leading (batch) elements, in/out feature counts.
 */
import { type Tensor, add, matmul, matmulTransposed } from '../../tensor/index.js';
import { Module } from '../module.js';
import { type InitOptions, initConstant, initWeight } from '../init.js';

/** 'outIn': nn.Linear (out, in). 'inOut': GPT-2 Conv1D (in, out). */
export type LinearLayout = 'outIn' | 'inOut';

/**
 * Weights are drawn from N(0, std^2) and the bias starts at zero; with `init: 'empty'`
 * both are zeros, to be loaded.
 */
export type LinearOptions = {
  readonly bias: boolean;
  readonly layout?: LinearLayout;
} & InitOptions;

/**
 * What a parent needs from a linear layer: Linear itself, and the wrappers replaceChild()
 * puts in its place (LoRA, quantized linears), which keep the feature counts.
 */
export type Projection = Module & {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor;
};

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
    this.weight = this.addParameter('weight', initWeight(shape, options));
    this.bias = options.bias ? this.addParameter('bias', initConstant([outFeatures], 0)) : null;
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    const y = this.layout === 'outIn' ? matmulTransposed(x, this.weight) : matmul(x, this.weight); // (..., out)
    return this.bias === null ? y : add(y, this.bias);
  }
}
