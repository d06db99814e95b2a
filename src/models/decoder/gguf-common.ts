/**
 * What the GGUF mappings of the decoder presets (gpt2/gguf.ts, llama/gguf.ts) share: the
 * `<architecture>.*` keys every llama.cpp decoder has (context, width, layers, MLP width,
 * heads), the check that a config is one the architecture can run, and the plan builder
 * that pairs parameter paths (archNames) with ggml tensor names (llama-arch.cpp's
 * LLM_TENSOR_NAMES: token_embd, blk.N.attn_q, ..., output_norm, output).
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import type { GgufLayout, GgufTensorPlan } from '../gguf-mapping.js';
import { dimensionLimits, resolveDecoderConfig, type DecoderConfig, type FieldNames } from './config.js';
import { archNames } from './names.js';
import { parameterShapes } from './shapes.js';
import { jsonText } from '../../util/preview.js';

const uint32 = (value: number): GgufValue => ({ type: 'uint32', value });
const float32 = (value: number): GgufValue => ({ type: 'float32', value });

/** How the config fields are named in errors: by their GGUF key. */
export function ggufFieldNames(architecture: string, epsKey: string): FieldNames {
  return {
    vocabSize: 'token_embd.weight rows',
    blockSize: `${architecture}.context_length`,
    nEmbd: `${architecture}.embedding_length`,
    nLayer: `${architecture}.block_count`,
    intermediateSize: `${architecture}.feed_forward_length`,
    nHead: `${architecture}.attention.head_count`,
    nKvHead: `${architecture}.attention.head_count_kv`,
    normEps: `${architecture}.${epsKey}`,
    ropeTheta: `${architecture}.rope.freq_base`,
  };
}

/** The settings an architecture fixes, as [field, the values it can run, what it is]. */
export type Requirement = readonly [
  keyof DecoderConfig | 'positional.kind' | 'positional.scaling.kind',
  readonly unknown[],
  string,
];

/**
 * What the mappings write no key or tensor for unless they say otherwise: the head size
 * (no key_length), the biases as one flag (attn_q.bias present or not), no q/k norms, no
 * sliding window, no RoPE frequency scaling.
 */
function neutralRequirements(config: DecoderConfig): Requirement[] {
  return [
    ['headSize', [config.nEmbd / config.nHead], 'head size embedding_length / head_count'],
    [
      'attentionBias',
      [config.bias ? 'all' : 'none'],
      `biases on every projection or none (bias ${config.bias})`,
    ],
    ['mlpBias', [config.bias], `MLP biases as the projections' (bias ${config.bias})`],
    ['qkNorm', [false], 'no q/k norms'],
    ['slidingWindow', [null], 'no sliding window'],
    ['positional.scaling.kind', ['none'], 'no RoPE frequency scaling'],
  ];
}

/**
 * Rejects a config the architecture cannot run, listing every field that differs from what
 * llama.cpp's graph for it computes (`requirements`, and the neutral values of the fields
 * they do not name).
 */
export function checkRepresentable(
  config: DecoderConfig,
  architecture: string,
  requirements: readonly Requirement[],
  where: string,
): void {
  const problems: string[] = [];
  const named = new Set(requirements.map(([field]) => field));
  const all = [...requirements, ...neutralRequirements(config).filter(([field]) => !named.has(field))];
  const scaling = config.positional.kind === 'rope' ? config.positional.scaling.kind : 'none';
  for (const [field, values, what] of all) {
    const actual =
      field === 'positional.kind'
        ? config.positional.kind
        : field === 'positional.scaling.kind'
          ? scaling
          : config[field];
    if (!values.includes(actual))
      problems.push(`${field}: llama.cpp's ${architecture} has ${what}, got ${jsonText(actual)}`);
  }
  if (problems.length > 0) {
    throw new ConfigError(`the model cannot be written as GGUF architecture '${architecture}'`, {
      where,
      actual: problems.join('; '),
      hint: 'export a model with the architecture defaults (train --arch gpt2 or --arch llama)',
    });
  }
}

/** The keys every decoder architecture has. */
export function commonKeys(architecture: string, config: DecoderConfig): Map<string, GgufValue> {
  return new Map([
    [`${architecture}.vocab_size`, uint32(config.vocabSize)],
    [`${architecture}.context_length`, uint32(config.blockSize)],
    [`${architecture}.embedding_length`, uint32(config.nEmbd)],
    [`${architecture}.block_count`, uint32(config.nLayer)],
    [`${architecture}.feed_forward_length`, uint32(config.intermediateSize)],
    [`${architecture}.attention.head_count`, uint32(config.nHead)],
    [`${architecture}.attention.head_count_kv`, uint32(config.nKvHead)],
  ]);
}

export { float32 as ggufFloat32, uint32 as ggufUint32 };

/**
 * Keys that change the math in ways lmforge's decoder does not compute: present with a
 * value other than the neutral one, they are an error naming the key (never ignored).
 */
export function rejectUnsupportedKeys(metadata: GgufMetadata, architecture: string): void {
  const neutral = (key: string, ok: (value: unknown) => boolean): void => {
    const value = metadata.entries.get(`${architecture}.${key}`);
    if (value !== undefined && !ok(value.type === 'array' ? value.values : value.value)) {
      throw new FormatError('metadata key not supported', {
        where: `${metadata.source}: ${architecture}.${key}`,
        actual: jsonText(value.type === 'array' ? `array[${value.itemType}]` : String(value.value)),
        hint: 'lmforge runs dense decoders without rope scaling, sliding windows, experts or logit scaling',
      });
    }
  };
  const zero = (v: unknown): boolean => v === 0 || v === 0n;
  neutral('expert_count', zero);
  neutral('expert_used_count', zero);
  neutral('rope.scaling.type', (v) => v === 'none' || v === 'linear');
  neutral('rope.scaling.factor', (v) => v === 0 || v === 1);
  neutral('rope.scale_linear', (v) => v === 0 || v === 1);
  neutral('attention.sliding_window', zero);
  neutral('attention.clamp_kqv', zero);
  neutral('attention.max_alibi_bias', zero);
  neutral('logit_scale', (v) => v === 1);
}

/** The raw decoder settings every architecture states, from its keys and the tensors. */
export function commonFromGguf(
  metadata: GgufMetadata,
  tensors: ReadonlyMap<string, GgufTensorInfo>,
  architecture: string,
): Record<string, unknown> {
  rejectUnsupportedKeys(metadata, architecture);
  const key = (name: string): string => `${architecture}.${name}`;
  const embedding = tensors.get('token_embd.weight');
  if (embedding === undefined || embedding.dims.length !== 2) {
    throw new FormatError('the token embedding is missing or not a matrix', {
      where: `${metadata.source}: token_embd.weight`,
      expected: 'a tensor [embedding_length, vocabulary]',
      actual: embedding === undefined ? 'none' : `[${embedding.dims.join(', ')}]`,
    });
  }
  const nHead = metadata.requiredInteger(key('attention.head_count'), 1, dimensionLimits.nHead);
  const nEmbd = metadata.requiredInteger(key('embedding_length'), 1, dimensionLimits.nEmbd);
  for (const name of ['attention.key_length', 'attention.value_length', 'rope.dimension_count']) {
    const value = metadata.integer(key(name));
    if (value !== undefined && value * nHead !== nEmbd) {
      throw new FormatError(
        'head size other than embedding_length / head_count (or partial rotary) not supported',
        {
          where: `${metadata.source}: ${key(name)}`,
          expected: nEmbd / nHead,
          actual: value,
        },
      );
    }
  }
  return {
    vocabSize: embedding.dims[1],
    blockSize: metadata.requiredInteger(key('context_length'), 1, dimensionLimits.blockSize),
    nEmbd,
    nLayer: metadata.requiredInteger(key('block_count'), 1, dimensionLimits.nLayer),
    nHead,
    nKvHead: metadata.integer(key('attention.head_count_kv'), 1, dimensionLimits.nKvHead) ?? nHead,
    tiedEmbeddings: !tensors.has('output.weight'),
  };
}

/** Resolves raw settings, with every bad field named by its GGUF key. */
export function resolveFromGguf(
  raw: Record<string, unknown>,
  source: string,
  names: FieldNames,
): DecoderConfig {
  return resolveDecoderConfig(raw, source, names);
}

/**
 * The tensor plan of a decoder: each parameter of the plan (decoder/shapes.ts) with the
 * GGUF name `name(parameter path)` gives, and its layout.
 */
export function decoderTensorPlan(
  config: DecoderConfig,
  name: (path: string) => { readonly name: string; readonly layout: GgufLayout },
): GgufTensorPlan[] {
  return [...parameterShapes(config)].map(([path, shape]) => ({ path, shape, ...name(path) }));
}

/**
 * A parameter path of a decoder split into the layer (or null) and the path inside it:
 * `model.layers.3.self_attn.q_proj.weight` -> [3, 'self_attn.q_proj.weight'];
 * `model.norm.weight` -> [null, 'norm.weight'] (the body prefix dropped), `lm_head.weight`
 * stays as is.
 */
export function splitPath(config: DecoderConfig, path: string): [number | null, string] {
  const names = archNames[config.arch];
  const body = `${names.body}.`;
  const inner = path.startsWith(body) ? path.slice(body.length) : path;
  const blocks = `${names.blocks}.`;
  if (!inner.startsWith(blocks)) return [null, inner];
  const rest = inner.slice(blocks.length);
  const dot = rest.indexOf('.');
  return [Number(rest.slice(0, dot)), rest.slice(dot + 1)];
}
