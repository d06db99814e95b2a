/**
 * QuantizedLinear: y = x W^T + b with W kept as GGUF's Q8_0 or Q4_0 blocks (32 weights and
 * an fp16 scale each, the file's bytes), multiplied by the int8 kernels of
 * lmforge/tensor's quantizedMatmul. It takes a Linear's place (replaceChild) in a model
 * loaded for inference and keeps its feature counts, layout and bias; the weight is not a
 * parameter (no gradient, not in namedParameters), the bias stays one.
 *
 * Legend: N leading (batch) elements, in/out feature counts.
 */
import {
  type QuantizedMatrix,
  type Tensor,
  add,
  checkQuantizedMatrix,
  quantizedMatmul,
} from '../../tensor/index.js';
import { Module } from '../module.js';
import type { Linear, LinearLayout } from './linear.js';

export class QuantizedLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** The layout of the Linear it replaced (the float weight's, for writing it back). */
  readonly layout: LinearLayout;
  /** (out, in) blocks, whatever the replaced Linear's layout. */
  readonly weight: QuantizedMatrix;
  readonly bias: Tensor | null;

  /**
   * `weight` (out, in) as blocks; `bias` (out) is adopted as this layer's parameter. `where`
   * names the tensor in errors.
   */
  constructor(
    weight: QuantizedMatrix,
    options: { readonly bias: Tensor | null; readonly layout?: LinearLayout; readonly where?: string },
  ) {
    super();
    checkQuantizedMatrix(weight, options.where ?? 'QuantizedLinear');
    this.weight = weight;
    this.inFeatures = weight.cols;
    this.outFeatures = weight.rows;
    this.layout = options.layout ?? 'outIn';
    this.bias = options.bias === null ? null : this.addParameter('bias', options.bias);
  }

  /**
   * The quantized replacement of `linear` (its bias carried over, its float weight left to
   * the caller to dispose).
   *
   * @example
   * model.replaceChild('model.layers.0.mlp.up_proj', (l) => QuantizedLinear.replacing(l as Linear, blocks));
   */
  static replacing(linear: Linear, weight: QuantizedMatrix, where?: string): QuantizedLinear {
    return new QuantizedLinear(weight, {
      bias: linear.bias,
      layout: linear.layout,
      ...(where === undefined ? {} : { where }),
    });
  }

  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    const y = quantizedMatmul(x, this.weight); // (..., out)
    return this.bias === null ? y : add(y, this.bias);
  }
}
