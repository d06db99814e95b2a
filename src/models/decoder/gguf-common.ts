/**
 * What the GGUF mappings of the decoder presets (gpt2/, llama/, qwen2/, qwen3/ gguf.ts)
 * share: the `<architecture>.*` keys every llama.cpp decoder has (context, width, layers,
 * MLP width, heads), the check that a config is one the architecture can run, and the plan
 * builder that pairs parameter paths (archNames) with ggml tensor names (llama-arch.cpp's
 * LLM_TENSOR_NAMES: token_embd, blk.N.attn_q, ..., output_norm, output), with the names of
 * the Llama-style block (llama, qwen2, qwen3; Mixtral's experts stacked as ffn_*_exps).
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import type { GgufLayout, GgufTensorPlan } from '../gguf-mapping.js';
import { mixtralMoeNames } from '../mixtral/names.js';
import { dimensionLimits, resolveDecoderConfig, type DecoderConfig, type FieldNames } from './config.js';
import { archNames } from './names.js';
import { parameterShapes } from './shapes.js';
import { jsonText } from '../../util/preview.js';

const uint32 = (value: number): GgufValue => ({ type: 'uint32', value });
const float32 = (value: number): GgufValue => ({ type: 'float32', value });

/** How the config fields are named in errors: by their GGUF key. */
export function ggufFieldNames(architecture: string, epsKey: string): FieldNames {
  return {
    headSize: `${architecture}.attention.key_length`,
    'moe.experts': `${architecture}.expert_count`,
    'moe.expertsPerToken': `${architecture}.expert_used_count`,
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
  keyof DecoderConfig | 'positional.kind' | 'positional.scaling.kind' | 'moe.routing' | 'moe.sharedExperts',
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
    ['moe', [null], 'a dense MLP'],
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
          : field === 'moe.routing' || field === 'moe.sharedExperts'
            ? (config.moe?.[field.slice('moe.'.length) as 'routing' | 'sharedExperts'] ?? null)
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
export function rejectUnsupportedKeys(
  metadata: GgufMetadata,
  architecture: string,
  options: CommonOptions,
): void {
  const neutral = (key: string, ok: (value: unknown) => boolean): void => {
    const value = metadata.entries.get(`${architecture}.${key}`);
    if (value !== undefined && !ok(value.type === 'array' ? value.values : value.value)) {
      throw new FormatError('metadata key not supported', {
        where: `${metadata.source}: ${architecture}.${key}`,
        actual: jsonText(value.type === 'array' ? `array[${value.itemType}]` : String(value.value)),
        hint: `lmforge runs ${architecture} without rope scaling, sliding windows or logit scaling${options.experts ? '' : ', and without experts'}`,
      });
    }
  };
  const zero = (v: unknown): boolean => v === 0 || v === 0n;
  if (!options.experts) {
    neutral('expert_count', zero);
    neutral('expert_used_count', zero);
  }
  // llama.cpp's defaults for a MoE llama: no shared experts, softmax gating, unscaled weights.
  neutral('expert_shared_count', zero);
  neutral('expert_gating_func', (v) => v === 0 || v === 1);
  neutral('expert_weights_scale', (v) => v === 0 || v === 1);
  // Linear scaling is read by ropeFromGguf; llama.cpp's default type is linear.
  const type = metadata.entries.get(`${architecture}.rope.scaling.type`);
  const linear = type === undefined || (type.type === 'string' && type.value === 'linear');
  neutral('rope.scaling.type', (v) => v === 'none' || v === 'linear');
  neutral('rope.scaling.factor', (v) => v === 0 || v === 1 || (linear && options.ropeScaling));
  neutral('rope.scale_linear', (v) => v === 0 || v === 1 || (linear && options.ropeScaling));
  neutral('attention.sliding_window', zero);
  neutral('attention.clamp_kqv', zero);
  neutral('attention.max_alibi_bias', zero);
  neutral('logit_scale', (v) => v === 1);
}

/** What an architecture reads beyond the common keys. */
export interface CommonOptions {
  /**
   * 'derived': the head size is embedding_length / head_count (key_length, value_length and
   * rope.dimension_count may only repeat it); 'keyLength': attention.key_length gives it
   * (Qwen3), and value_length and rope.dimension_count must equal it.
   */
  readonly headSize: 'derived' | 'keyLength';
  /** expert_count / expert_used_count may be set (a MoE llama: Mixtral). */
  readonly experts: boolean;
  /** rope.scaling.factor may be set (linear RoPE scaling, read by ropeFromGguf). */
  readonly ropeScaling: boolean;
}

/**
 * The rotary positions a file states: rope.freq_base (default 10000) and linear scaling
 * by rope.scaling.factor (or the older rope.scale_linear), which llama.cpp applies as
 * freq_scale = 1 / factor to every position, as HF's {"type": "linear"} divides them.
 */
export function ropeFromGguf(metadata: GgufMetadata, architecture: string): Record<string, unknown> {
  const key = (name: string): string => `${architecture}.${name}`;
  const factor = metadata.float(key('rope.scaling.factor')) ?? metadata.float(key('rope.scale_linear')) ?? 0;
  return {
    kind: 'rope',
    theta: metadata.float(key('rope.freq_base')) ?? 10000,
    scaling: factor === 0 || factor === 1 ? { kind: 'none' } : { kind: 'linear', factor },
  };
}

/** The rope keys of a rotary config: freq_base, and the linear scaling when it has one. */
export function ropeKeys(architecture: string, config: DecoderConfig): Map<string, GgufValue> {
  const keys = new Map<string, GgufValue>();
  if (config.positional.kind !== 'rope') return keys;
  keys.set(`${architecture}.rope.freq_base`, float32(config.positional.theta));
  const scaling = config.positional.scaling;
  if (scaling.kind === 'linear') {
    keys.set(`${architecture}.rope.scaling.type`, { type: 'string', value: 'linear' });
    keys.set(`${architecture}.rope.scaling.factor`, float32(scaling.factor));
  }
  return keys;
}

/** The head size a file states, checked against the keys that must agree with it. */
function headSizeFromGguf(
  metadata: GgufMetadata,
  architecture: string,
  nEmbd: number,
  nHead: number,
  options: CommonOptions,
): number | undefined {
  const key = (name: string): string => `${architecture}.${name}`;
  const derived = nEmbd / nHead;
  const headSize =
    options.headSize === 'keyLength'
      ? (metadata.integer(key('attention.key_length'), 1, dimensionLimits.headSize) ?? derived)
      : derived;
  for (const name of ['attention.key_length', 'attention.value_length', 'rope.dimension_count']) {
    const value = metadata.integer(key(name));
    if (value !== undefined && value !== headSize) {
      throw new FormatError(
        options.headSize === 'keyLength'
          ? 'value length or rotary dimensions other than the key length not supported'
          : 'head size other than embedding_length / head_count (or partial rotary) not supported',
        { where: `${metadata.source}: ${key(name)}`, expected: headSize, actual: value },
      );
    }
  }
  return options.headSize === 'keyLength' ? headSize : undefined;
}

/** The raw decoder settings every architecture states, from its keys and the tensors. */
export function commonFromGguf(
  metadata: GgufMetadata,
  tensors: ReadonlyMap<string, GgufTensorInfo>,
  architecture: string,
  options: CommonOptions = { headSize: 'derived', experts: false, ropeScaling: false },
): Record<string, unknown> {
  rejectUnsupportedKeys(metadata, architecture, options);
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
  const headSize = headSizeFromGguf(metadata, architecture, nEmbd, nHead, options);
  return {
    ...(headSize === undefined ? {} : { headSize }),
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

/** Module path inside a Llama-style layer (llama, mistral, qwen2, qwen3, mixtral) -> ggml tensor name. */
const llamaStyleLayer: Readonly<Record<string, string>> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  'self_attn.q_norm': 'attn_q_norm',
  'self_attn.k_norm': 'attn_k_norm',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
  [`block_sparse_moe.${mixtralMoeNames.router}`]: 'ffn_gate_inp',
};

const llamaStyleOuter: Readonly<Record<string, string>> = {
  'embed_tokens.weight': 'token_embd.weight',
  'norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

/** A SwiGLU expert's projection -> the stacked tensor of every expert's (llama.cpp's ffn_*_exps). */
const swigluExperts = mixtralMoeNames.expert.swiglu;
const expertTensors: Readonly<Record<string, string>> =
  swigluExperts.kind === 'swiglu'
    ? {
        [swigluExperts.gate]: 'ffn_gate_exps',
        [swigluExperts.up]: 'ffn_up_exps',
        [swigluExperts.down]: 'ffn_down_exps',
      }
    : {};
const expertPath = new RegExp(`^block_sparse_moe\\.${mixtralMoeNames.experts}\\.(\\d+)\\.(\\w+)\\.weight$`);

/**
 * The tensor plan of a Llama-style decoder: llama.cpp's names for each parameter, q and k
 * permuted to interleaved RoPE pairs when `rope` is 'interleaved' (llama: its converter
 * permutes them) and kept in rotate-half order when 'rotateHalf' (qwen2, qwen3: NeoX RoPE);
 * a MoE layer's experts stacked into blk.N.ffn_{gate,up,down}_exps (expert e at index e of
 * the outermost dimension).
 */
export function llamaStylePlan(config: DecoderConfig, rope: 'interleaved' | 'rotateHalf'): GgufTensorPlan[] {
  const plan: GgufTensorPlan[] = [];
  const stacks = new Map<string, { shape: readonly number[]; paths: string[] }>();
  for (const [path, shape] of parameterShapes(config)) {
    const [layer, inner] = splitPath(config, path);
    if (layer === null) {
      plan.push({ name: llamaStyleOuter[inner]!, path, shape, layout: { kind: 'rows' } });
      continue;
    }
    const expert = expertPath.exec(inner);
    if (expert !== null) {
      const name = `blk.${layer}.${expertTensors[expert[2]!]!}.weight`;
      let stack = stacks.get(name);
      if (stack === undefined) {
        stack = { shape, paths: [] };
        stacks.set(name, stack);
        plan.push({ name, path: null, shape, stack: stack.paths, layout: { kind: 'rows' } });
      }
      stack.paths.push(path);
      continue;
    }
    const dot = inner.lastIndexOf('.');
    const module = inner.slice(0, dot);
    const name = `blk.${layer}.${llamaStyleLayer[module]!}.${inner.slice(dot + 1)}`;
    const heads =
      module === 'self_attn.q_proj' ? config.nHead : module === 'self_attn.k_proj' ? config.nKvHead : 0;
    const layout: GgufLayout =
      heads > 0 && rope === 'interleaved' ? { kind: 'ropeInterleaved', heads } : { kind: 'rows' };
    plan.push({ name, path, shape, layout });
  }
  return plan;
}
