/**
 * The ModelFamily of a decoder-only preset: everything but the HF mapping is shared by
 * GPT-2, Llama, Mistral, Qwen2 and Qwen3 (the model, the parameter plan, checkpoint keys,
 * size, summary); each preset's family.ts adds its fromHf/toHf.
 */
import type { ArchitectureSummary, ModelFamily } from '../family.js';
import type { DecoderArch, DecoderConfig } from './config.js';
import { DecoderLM } from './model.js';
import { decoderSize, parameterShapes } from './shapes.js';
import { decoderCheckpointKeys } from './weights.js';
import type { HfConfigJson } from './hf-common.js';

export interface DecoderHfMapping {
  readonly fromHf: (json: HfConfigJson, where: string) => DecoderConfig;
  readonly toHf: (config: DecoderConfig) => Record<string, unknown>;
}

function describeDecoder(c: DecoderConfig): ArchitectureSummary {
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
    describe: describeDecoder,
  };
}
