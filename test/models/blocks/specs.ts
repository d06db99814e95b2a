/**
 * BlockSpecs with the HF names of BERT's BertLayer and Marian's (= BART's) encoder and
 * decoder layers, as the bert/ and marian/ families will declare them, at test sizes; and
 * the plain context of an eval-mode call without a cache.
 */
import type { Tensor } from '../../../src/index.js';
import type { BlockContext, BlockSpec } from '../../../src/models/index.js';

export const C = 16;
export const nH = 4;
export const hidden = 32;

export const bertSpec: BlockSpec = {
  nEmbd: C,
  nHead: nH,
  nKvHead: nH,
  placement: 'post',
  selfAttention: 'bidirectional',
  norm: { kind: 'layerNorm', eps: 1e-12, bias: true },
  bias: true,
  layout: 'outIn',
  init: { std: 0.2, outStd: 0.2 },
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
    intermediateSize: hidden,
    activation: 'gelu',
    names: { kind: 'gelu', up: 'intermediate.dense', down: 'output.dense' },
  },
};

const bartProjections = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' } as const;

/** MarianEncoderLayer: self_attn, self_attn_layer_norm, fc1, fc2, final_layer_norm. */
export const marianEncoderSpec: BlockSpec = {
  ...bertSpec,
  norm: { kind: 'layerNorm', eps: 1e-5, bias: true },
  names: {
    norm1: 'self_attn_layer_norm',
    attention: 'self_attn',
    projections: { kind: 'separate', ...bartProjections },
    norm2: 'final_layer_norm',
    mlp: '',
  },
  feedForward: {
    kind: 'mlp',
    intermediateSize: hidden,
    activation: 'relu',
    names: { kind: 'gelu', up: 'fc1', down: 'fc2' },
  },
};

/** MarianDecoderLayer: the encoder layer's sublayers with causal self-attention and encoder_attn. */
export const marianDecoderSpec: BlockSpec = {
  ...marianEncoderSpec,
  selfAttention: 'causal',
  cross: {
    encoderDim: C,
    norm: 'encoder_attn_layer_norm',
    attention: 'encoder_attn',
    projections: bartProjections,
  },
};

const identity = (x: Tensor): Tensor => x;

/** An eval-mode call without a cache; `extra` adds a mask, cross inputs, probabilities. */
export function plainContext(extra: Partial<BlockContext> = {}): BlockContext {
  return { offset: 0, rope: null, cache: null, layer: 0, attentionDropout: null, drop: identity, ...extra };
}
