/**
 * The BlockSpec of a decoder-only preset (GPT-2, Llama, Mixtral): pre-norm, causal, no
 * cross-attention, the dense MLP or (config.moe) a sparse mixture of experts; widths, norm and init from DecoderConfig, names from the
 * preset's ArchNames. The shared block (../blocks/transformer-block.ts) knows nothing else
 * about decoders.
 */
import { SparseMoe } from '../../nn/index.js';
import type { BlockSpec, FeedForwardSpec, NormSpec } from '../blocks/transformer-block.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';

/** The norm of every block and of the final norm. */
export function decoderNormSpec(config: DecoderConfig): NormSpec {
  return { kind: config.norm, eps: config.normEps, bias: config.bias };
}

export function decoderBlockSpec(config: DecoderConfig): BlockSpec {
  const names = archNames[config.arch];
  return {
    nEmbd: config.nEmbd,
    nHead: config.nHead,
    nKvHead: config.nKvHead,
    placement: 'pre',
    selfAttention: 'causal',
    norm: decoderNormSpec(config),
    bias: config.bias,
    layout: names.layout,
    // GPT-2 init: residual projections scaled by 1/sqrt(2L) (two residual adds per block).
    init: { std: config.initStd, outStd: config.initStd / Math.sqrt(2 * config.nLayer) },
    names: {
      norm1: names.norm1,
      attention: names.attention,
      projections: names.projections,
      norm2: names.norm2,
      mlp: names.mlp,
    },
    cross: null,
    feedForward: decoderFeedForward(config),
  };
}

function decoderFeedForward(config: DecoderConfig): FeedForwardSpec {
  const names = archNames[config.arch];
  const moe = config.moe;
  if (moe === null) {
    return {
      kind: 'mlp',
      intermediateSize: config.intermediateSize,
      activation: config.activation,
      names: names.mlpNames[config.mlp],
    };
  }
  return {
    kind: 'module',
    create: (init) =>
      new SparseMoe({
        nEmbd: config.nEmbd,
        hidden: config.intermediateSize,
        ...moe,
        kind: config.mlp,
        activation: config.activation,
        names: names.moe!,
        ...init,
      }),
  };
}
