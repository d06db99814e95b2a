/**
 * The BlockSpec of a decoder-only preset (GPT-2, Llama, Mistral, Qwen2, Qwen3, Mixtral):
 * pre-norm, causal, no cross-attention, the dense MLP or (config.moe) a sparse mixture of
 * experts; widths, biases, norms, q/k norms and the sliding window from DecoderConfig,
 * names from the preset's ArchNames. The shared block (../blocks/transformer-block.ts)
 * knows nothing else about decoders.
 */
import { SparseMoe } from '../../nn/index.js';
import type { BlockSpec, FeedForwardSpec, NormSpec } from '../blocks/transformer-block.js';
import type { DecoderConfig } from './config.js';
import { archNames, qkNormNames } from './names.js';

/** The norm of every block and of the final norm. */
export function decoderNormSpec(config: DecoderConfig): NormSpec {
  return { kind: config.norm, eps: config.normEps, bias: config.bias };
}

/** The sliding window of block `layer` (null: it attends to every earlier key). */
export function windowOf(config: DecoderConfig, layer: number): number | null {
  const window = config.slidingWindow;
  return window !== null && window.layers.includes(layer) ? window.size : null;
}

/** The spec of block `layer` (the layers differ only in their sliding window). */
export function decoderBlockSpec(config: DecoderConfig, layer = 0): BlockSpec {
  const names = archNames[config.arch];
  const qkNorm = config.qkNorm ? { eps: config.normEps, ...qkNormNames(names) } : null;
  return {
    nEmbd: config.nEmbd,
    nHead: config.nHead,
    nKvHead: config.nKvHead,
    placement: 'pre',
    selfAttention: 'causal',
    norm: decoderNormSpec(config),
    bias: config.attentionBias !== 'none',
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
    attention: {
      headSize: config.headSize,
      outBias: config.attentionBias === 'all',
      qkNorm,
      window: windowOf(config, layer),
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
      bias: config.mlpBias,
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
