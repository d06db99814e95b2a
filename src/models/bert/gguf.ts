/**
 * BERT <-> GGUF architecture `bert`, as llama.cpp's converter writes it
 * (conversion/bert.py BertModel) and src/models/bert.cpp reads it: the encoder only, for
 * embeddings. Keys `bert.*` (context_length, embedding_length, feed_forward_length,
 * block_count, attention.head_count, attention.layer_norm_epsilon, attention.causal =
 * false, pooling_type) and tokenizer.ggml.token_type_count; tensors token_embd,
 * token_types, position_embd, token_embd_norm, then per block attn_q / attn_k / attn_v /
 * attn_output (weight and bias), attn_output_norm, ffn_up, ffn_down (weight and bias),
 * layer_output_norm. Every Linear is (out, in) rows as in HF, so the bytes are the same.
 *
 * What llama.cpp's bert does not have is not written, as the converter drops it: the
 * pooler (embeddings read the last hidden state) and a head (BertForMaskedLM's
 * cls.predictions, a classifier); `approximations` says so. Read back, the model is a bare
 * BertModel (head 'none') whose pooler, absent from the file, stays zero.
 *
 * llama.cpp's bert runs ggml_gelu, the tanh approximation of GELU: an erf-GELU model is
 * written with a warning, and read back as geluTanh (what the file computes).
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { dimensionLimits } from '../decoder/config.js';
import { ggufFloat32, ggufUint32 } from '../decoder/gguf-common.js';
import type { GgufMapping, GgufTensorPlan } from '../gguf-mapping.js';
import { resolveBertConfig, type BertConfig, type BertFieldNames } from './config.js';
import { bertParameterShapes, bodyPrefix } from './weights.js';

const architecture = 'bert';
const key = (name: string): string => `${architecture}.${name}`;

/** llama.cpp's enum llama_pooling_type: how an embedding is pooled over the tokens. */
export const ggufPoolingTypes = { none: 0, mean: 1, cls: 2, last: 3, rank: 4 } as const;

/** The pooling lmforge writes: mean over the tokens, `lmforge embed`'s default. */
const writtenPooling = ggufPoolingTypes.mean;

const tokenTypeCountKey = 'tokenizer.ggml.token_type_count';

/** Body path (without the `bert.` prefix) outside the blocks -> ggml tensor name. */
const outerTensors: Readonly<Record<string, string>> = {
  'embeddings.word_embeddings.weight': 'token_embd.weight',
  'embeddings.token_type_embeddings.weight': 'token_types.weight',
  'embeddings.position_embeddings.weight': 'position_embd.weight',
  'embeddings.LayerNorm.weight': 'token_embd_norm.weight',
  'embeddings.LayerNorm.bias': 'token_embd_norm.bias',
};

/** Module path inside a block -> ggml tensor name (llama-arch.cpp's LLM_TENSOR_NAMES). */
const layerTensors: Readonly<Record<string, string>> = {
  'attention.self.query': 'attn_q',
  'attention.self.key': 'attn_k',
  'attention.self.value': 'attn_v',
  'attention.output.dense': 'attn_output',
  'attention.output.LayerNorm': 'attn_output_norm',
  'intermediate.dense': 'ffn_up',
  'output.dense': 'ffn_down',
  'output.LayerNorm': 'layer_output_norm',
};

/** The GGUF tensor of a body parameter path; null for what llama.cpp's bert has not (pooler, head). */
function tensorName(config: BertConfig, path: string): string | null {
  const body = bodyPrefix(config);
  if (!path.startsWith(body)) return null;
  const inner = path.slice(body.length);
  const outer = outerTensors[inner];
  if (outer !== undefined) return outer;
  const block = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(inner);
  if (block === null) return null;
  const name = layerTensors[block[2]!];
  return name === undefined ? null : `blk.${block[1]}.${name}.${block[3]}`;
}

/** How the config fields are named in errors: by their GGUF key or tensor. */
const fieldNames: BertFieldNames = {
  vocabSize: 'token_embd.weight rows',
  nEmbd: key('embedding_length'),
  nLayer: key('block_count'),
  nHead: key('attention.head_count'),
  intermediateSize: key('feed_forward_length'),
  maxPositions: key('context_length'),
  typeVocabSize: 'token_types.weight rows',
  normEps: key('attention.layer_norm_epsilon'),
  padTokenId: 'tokenizer.ggml.padding_token_id',
};

/**
 * The file's pooling: mean (1) or cls (2); absent, llama.cpp's default for bert, mean (as
 * the converter writes for a folder without a sentence-transformers pooling config).
 */
function poolingFromGguf(metadata: GgufMetadata): 'mean' | 'cls' {
  const pooling = metadata.integer(key('pooling_type'), 0, 2 ** 32 - 1);
  if (pooling === undefined || pooling === ggufPoolingTypes.mean) return 'mean';
  if (pooling === ggufPoolingTypes.cls) return 'cls';
  throw new FormatError('pooling type not supported', {
    where: `${metadata.source}: ${key('pooling_type')}`,
    expected: `${ggufPoolingTypes.mean} (mean) | ${ggufPoolingTypes.cls} (cls)`,
    actual: pooling,
  });
}

/** A value other than `neutral` under an optional key is an error naming it (never ignored). */
function requireNeutral(metadata: GgufMetadata, name: string, neutral: unknown, meaning: string): void {
  const entry = metadata.entries.get(name);
  if (entry === undefined) return;
  const value = 'value' in entry ? entry.value : undefined;
  if (value !== neutral) {
    throw new FormatError(`lmforge's BERT does not compute ${meaning}`, {
      where: `${metadata.source}: ${name}`,
      expected: JSON.stringify(neutral),
      actual: JSON.stringify(value),
    });
  }
}

/** The rows (ne[1]) of a matrix tensor, or undefined when it is absent or not a matrix. */
function rows(tensors: ReadonlyMap<string, GgufTensorInfo>, name: string): number | undefined {
  const info = tensors.get(name);
  return info !== undefined && info.dims.length === 2 ? info.dims[1] : undefined;
}

export const bertGguf: GgufMapping<BertConfig> = {
  architecture,
  modelType: 'bert',
  writes: ['bert'],

  configToGguf(config: BertConfig, where: string): Map<string, GgufValue> {
    const problems: string[] = [];
    if (config.placement !== 'post') {
      problems.push(`placement: llama.cpp's bert is post-norm, the model is ${config.placement}-norm`);
    }
    if (config.activation === 'relu') problems.push("activation: llama.cpp's bert runs GELU, the model ReLU");
    if (problems.length > 0) {
      throw new ConfigError(`llama.cpp's ${architecture} architecture cannot represent this model`, {
        where,
        actual: problems.join('; '),
        hint: 'export a BERT with the defaults (post-norm, GELU)',
      });
    }
    return new Map<string, GgufValue>([
      [key('context_length'), ggufUint32(config.maxPositions)],
      [key('embedding_length'), ggufUint32(config.nEmbd)],
      [key('feed_forward_length'), ggufUint32(config.intermediateSize)],
      [key('block_count'), ggufUint32(config.nLayer)],
      [key('attention.head_count'), ggufUint32(config.nHead)],
      [key('attention.layer_norm_epsilon'), ggufFloat32(config.normEps)],
      [key('attention.causal'), { type: 'bool', value: false }],
      [key('pooling_type'), ggufUint32(writtenPooling)],
      // llama.cpp refuses a bert file without it (it sizes token_types.weight).
      [tokenTypeCountKey, ggufUint32(config.typeVocabSize)],
    ]);
  },

  configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): BertConfig {
    requireNeutral(metadata, key('attention.causal'), false, 'causal attention');
    poolingFromGguf(metadata);
    const vocabSize = rows(tensors, 'token_embd.weight');
    if (vocabSize === undefined) {
      throw new FormatError('the token embedding is missing or not a matrix', {
        where: `${metadata.source}: token_embd.weight`,
        expected: 'a tensor [embedding_length, vocabulary]',
        actual: tensors.has('token_embd.weight')
          ? `[${tensors.get('token_embd.weight')!.dims.join(', ')}]`
          : 'none',
      });
    }
    const limit = dimensionLimits;
    const nEmbd = metadata.requiredInteger(key('embedding_length'), 1, limit.nEmbd);
    const raw = {
      arch: 'bert',
      head: 'none',
      vocabSize,
      nEmbd,
      nLayer: metadata.requiredInteger(key('block_count'), 1, limit.nLayer),
      nHead: metadata.requiredInteger(key('attention.head_count'), 1, limit.nHead),
      intermediateSize:
        metadata.integer(key('feed_forward_length'), 1, limit.intermediateSize) ??
        rows(tensors, 'blk.0.ffn_up.weight') ??
        4 * nEmbd,
      maxPositions: metadata.requiredInteger(key('context_length'), 1, limit.blockSize),
      typeVocabSize:
        rows(tensors, 'token_types.weight') ?? metadata.integer(tokenTypeCountKey, 1, 2 ** 12) ?? 2,
      normEps: metadata.requiredFloat(key('attention.layer_norm_epsilon')),
      // ggml_gelu: the tanh approximation.
      activation: 'geluTanh',
      placement: 'post',
      dropout: 0,
      attentionDropout: 0,
    };
    return resolveBertConfig(raw, metadata.source, fieldNames);
  },

  /** The encoder's parameters in BertModel's order; the pooler and a head are not written. */
  tensorPlan(config: BertConfig): GgufTensorPlan[] {
    const plan: GgufTensorPlan[] = [];
    for (const [path, shape] of bertParameterShapes(config)) {
      const name = tensorName(config, path);
      if (name !== null) plan.push({ name, path, shape, layout: { kind: 'rows' } });
    }
    return plan;
  },

  pooling: poolingFromGguf,

  approximations(config: BertConfig): string[] {
    const notes: string[] = [];
    if (config.activation === 'gelu') {
      notes.push(
        "the model's exact (erf) GELU is written as llama.cpp's bert GELU, the tanh approximation (at most 5e-4 apart per activation); lmforge reading the file computes the tanh GELU too",
      );
    }
    const dropped: Record<BertConfig['head'], string> = {
      'masked-lm': 'the masked-LM head (cls.predictions)',
      'sequence-classification': 'the classification head (classifier) and the pooler',
      'token-classification': 'the token-classification head (classifier)',
      none: 'the pooler (pooler.dense)',
    };
    notes.push(
      `only the encoder goes to GGUF, as llama.cpp's converter writes BERT: ${dropped[config.head]} is not written; the file gives embeddings (pooling: mean)`,
    );
    return notes;
  },
};
