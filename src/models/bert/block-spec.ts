/**
 * The BlockSpec of BERT's BertLayer: post-norm (pre-norm selectable), bidirectional
 * self-attention, biases everywhere, nn.Linear layouts, and HF's nested names
 * (`attention.self.query` .. `attention.output.dense`, `attention.output.LayerNorm`, the MLP
 * mounted as `intermediate.dense` / `output.dense` beside `output.LayerNorm`). Every
 * weight starts N(0, initializer_range^2), as BertPreTrainedModel._init_weights.
 */
import type { BlockSpec } from '../blocks/transformer-block.js';
import type { BertConfig } from './config.js';

export function bertBlockSpec(config: BertConfig): BlockSpec {
  return {
    nEmbd: config.nEmbd,
    nHead: config.nHead,
    nKvHead: config.nHead,
    placement: config.placement,
    selfAttention: 'bidirectional',
    norm: { kind: 'layerNorm', eps: config.normEps, bias: true },
    bias: true,
    layout: 'outIn',
    init: { std: config.initStd, outStd: config.initStd },
    names: {
      norm1: 'attention.output.LayerNorm',
      attention: 'attention',
      projections: { kind: 'separate', q: 'self.query', k: 'self.key', v: 'self.value', out: 'output.dense' },
      norm2: 'output.LayerNorm',
      mlp: '',
    },
    cross: null,
    feedForward: {
      kind: 'mlp',
      intermediateSize: config.intermediateSize,
      activation: config.activation,
      names: { kind: 'gelu', up: 'intermediate.dense', down: 'output.dense' },
    },
  };
}
