/**
 * The BlockSpecs of Marian's encoder and decoder layers (HF MarianEncoderLayer,
 * MarianDecoderLayer, = BART's): `self_attn.{q,k,v,out}_proj`, `self_attn_layer_norm`, the
 * decoder's `encoder_attn.*` + `encoder_attn_layer_norm`, the mounted MLP `fc1`, `fc2`, and
 * `final_layer_norm`; biases everywhere, nn.Linear layout, LayerNorm eps 1e-5, every
 * matrix N(0, init_std^2) as HF's _init_weights (no residual scaling).
 */
import type { BlockSpec, NormSpec } from '../blocks/transformer-block.js';
import { marianNormEps, type MarianConfig } from './config.js';

/** The norm of every sublayer and of a pre-norm stack's final layer_norm. */
export const marianNormSpec: NormSpec = { kind: 'layerNorm', eps: marianNormEps, bias: true };

const projections = { q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'out_proj' } as const;

export type MarianSide = 'encoder' | 'decoder';

export function marianBlockSpec(config: MarianConfig, side: MarianSide): BlockSpec {
  const decoder = side === 'decoder';
  const heads = decoder ? config.decoderHeads : config.encoderHeads;
  return {
    nEmbd: config.dModel,
    nHead: heads,
    nKvHead: heads,
    placement: config.normPlacement,
    selfAttention: decoder ? 'causal' : 'bidirectional',
    norm: marianNormSpec,
    bias: true,
    layout: 'outIn',
    init: { std: config.initStd, outStd: config.initStd },
    names: {
      norm1: 'self_attn_layer_norm',
      attention: 'self_attn',
      projections: { kind: 'separate', ...projections },
      norm2: 'final_layer_norm',
      mlp: '',
    },
    cross: decoder
      ? { encoderDim: config.dModel, norm: 'encoder_attn_layer_norm', attention: 'encoder_attn', projections }
      : null,
    feedForward: {
      kind: 'mlp',
      intermediateSize: decoder ? config.decoderFfnDim : config.encoderFfnDim,
      activation: config.activation,
      names: { kind: 'gelu', up: 'fc1', down: 'fc2' },
    },
  };
}
