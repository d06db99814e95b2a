/**
 * The pre-norm transformer decoder block shared by every decoder-only preset (GPT-2,
 * Llama): x += attn(norm1(x)); x += mlp(norm2(x)), as nanoGPT's Block. Child names come
 * from the preset's ArchNames, so parameter paths equal its checkpoint keys.
 *
 * Legend: B batch, T time, C channels (nEmbd).
 */
import { type Rng, type Tensor, add } from '../../tensor/index.js';
import {
  Module,
  LayerNorm,
  RMSNorm,
  CausalSelfAttention,
  Mlp,
  type AttentionContext,
} from '../../nn/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import { archNames } from '../decoder/names.js';

export type Norm = LayerNorm | RMSNorm;

export function makeNorm(config: DecoderConfig): Norm {
  return config.norm === 'layerNorm'
    ? new LayerNorm(config.nEmbd, { bias: config.bias, eps: config.normEps })
    : new RMSNorm(config.nEmbd, { eps: config.normEps });
}

export interface BlockContext extends AttentionContext {
  /** Dropout on the residual branches (identity in eval mode). */
  readonly drop: (x: Tensor) => Tensor;
}

export class DecoderBlock extends Module {
  readonly norm1: Norm;
  readonly attention: CausalSelfAttention;
  readonly norm2: Norm;
  readonly mlp: Mlp;

  constructor(config: DecoderConfig, rng: Rng) {
    super();
    const names = archNames[config.arch];
    // GPT-2 init: residual projections scaled by 1/sqrt(2L) (two residual adds per block).
    const outStd = config.initStd / Math.sqrt(2 * config.nLayer);
    this.norm1 = this.addChild(names.norm1, makeNorm(config));
    this.attention = this.addChild(
      names.attention,
      new CausalSelfAttention({
        nEmbd: config.nEmbd,
        nHead: config.nHead,
        nKvHead: config.nKvHead,
        bias: config.bias,
        layout: names.layout,
        projections: names.projections,
        std: config.initStd,
        outStd,
        rng,
      }),
    );
    this.norm2 = this.addChild(names.norm2, makeNorm(config));
    this.mlp = this.addChild(
      names.mlp,
      new Mlp({
        nEmbd: config.nEmbd,
        hidden: config.intermediateSize,
        activation: config.activation,
        bias: config.bias,
        layout: names.layout,
        names: names.mlpNames[config.mlp],
        std: config.initStd,
        outStd,
        rng,
      }),
    );
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: BlockContext): Tensor {
    const h = add(x, context.drop(this.attention.forward(this.norm1.forward(x), context))); // (B, T, C)
    return add(h, context.drop(this.mlp.forward(this.norm2.forward(h)))); // (B, T, C)
  }
}
