/**
 * The ModelFamily of a decoder-only preset: everything but the HF mapping is shared by
 * GPT-2, Llama, Mistral, Qwen2, Qwen3 and Mixtral (the model, the parameter plan,
 * checkpoint keys, size, summary); each preset's family.ts adds its fromHf/toHf.
 */
import type { ArchitectureSummary, ModelFamily } from '../family.js';
import type { DecoderArch, DecoderConfig } from './config.js';
import { DecoderLM } from './model.js';
import { decoderSize, parameterShapes } from './shapes.js';
import { decoderCheckpointKeys } from './weights.js';
import type { HfConfigJson } from './hf-common.js';
import { activeParameters } from '../mixtral/shapes.js';

export interface DecoderHfMapping {
  readonly fromHf: (json: HfConfigJson, where: string) => DecoderConfig;
  readonly toHf: (config: DecoderConfig) => Record<string, unknown>;
}

function describeDecoder(c: DecoderConfig): ArchitectureSummary {
  const moe = c.moe;
  return {
    layers: c.nLayer,
    heads: c.nHead,
    kvHeads: c.nKvHead,
    width: c.nEmbd,
    mlp: { kind: c.mlp, intermediateSize: c.intermediateSize },
    context: c.blockSize,
    vocabSize: c.vocabSize,
    positions: c.positional.kind,
    norm: c.norm,
    tiedEmbeddings: c.tiedEmbeddings,
    attention: {
      headSize: c.headSize,
      bias: c.attentionBias,
      qkNorm: c.qkNorm,
      slidingWindow: c.slidingWindow,
    },
    mlpBias: c.mlpBias,
    ...(c.positional.kind === 'rope'
      ? { rope: { theta: c.positional.theta, scaling: c.positional.scaling } }
      : {}),
    ...(moe === null
      ? {}
      : { moe: { ...moe, activeParameters: activeParameters(c, decoderSize(c).parameters) } }),
    ...(c.labels === null ? {} : { labels: c.labels.names }),
  };
}

export function decoderFamily(modelType: DecoderArch, hf: DecoderHfMapping): ModelFamily<DecoderConfig> {
  return {
    modelType,
    fromHf: hf.fromHf,
    toHf: hf.toHf,
    create: (config, options) => new DecoderLM(config, options),
    parameterShapes,
    checkpointKeys: decoderCheckpointKeys,
    size: decoderSize,
    // The HF class config.json names (GPT2LMHeadModel, LlamaForSequenceClassification ...).
    describe: (config) => ({
      ...describeDecoder(config),
      architecture: String((hf.toHf(config)['architectures'] as string[])[0]),
    }),
  };
}
