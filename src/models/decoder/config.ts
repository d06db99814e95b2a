/**
 * DecoderConfig: the one configuration of the decoder-only models. GPT-2, Llama, Mistral,
 * Qwen2, Qwen3 and Mixtral are presets of it (gpt2/, llama/, mistral/, qwen2/, qwen3/,
 * mixtral/: gpt2Preset, llamaPreset, ...) that differ only in values. Raw input (user options, a parsed
 * config.json) is resolved once into a readonly, fully specified object; every bad field
 * is reported in one ConfigError.
 */
import type { PositionalEncoding, Activation, MlpKind } from '../../nn/index.js';
import { ConfigError } from '../../util/errors.js';
import type { NormKind } from '../blocks/transformer-block.js';
import { readClassLabels, type ClassLabels } from '../heads/labels.js';
import { FieldReader } from '../../util/fields.js';
import { gpt2Defaults } from '../gpt2/config.js';
import { llamaDefaults } from '../llama/config.js';
import { mistralDefaults } from '../mistral/config.js';
import { qwen2Defaults } from '../qwen2/config.js';
import { qwen3Defaults } from '../qwen3/config.js';
import { resolveRopeScaling, resolveSlidingWindow, type SlidingWindow } from './attention-config.js';
import { mixtralDefaults, moeDefaults, resolveMoeConfig, type MoeConfig } from '../mixtral/config.js';
import { jsonText } from '../../util/preview.js';

/**
 * Which checkpoint naming and HF architecture the model has (GPT2LMHeadModel,
 * LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
 * MixtralForCausalLM).
 */
export type DecoderArch = 'gpt2' | 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'mixtral';
export const decoderArchs: readonly DecoderArch[] = ['gpt2', 'llama', 'mistral', 'qwen2', 'qwen3', 'mixtral'];
export type { NormKind, SlidingWindow };

/** Which attention projections have a bias: all four (GPT-2; Llama's attention_bias), q/k/v only (Qwen2), none. */
export type AttentionBias = 'all' | 'qkv' | 'none';

/**
 * The head: next-token logits (GPT2LMHeadModel, LlamaForCausalLM), or one label per
 * sequence read at its last real token (GPT2ForSequenceClassification,
 * LlamaForSequenceClassification: `score`, no bias).
 */
export type DecoderHead = 'causal-lm' | 'sequence-classification';

export interface DecoderConfig {
  readonly arch: DecoderArch;
  readonly head: DecoderHead;
  /** The classes of a sequence-classification head (id2label); null for causal-lm. */
  readonly labels: ClassLabels | null;
  /**
   * Sequence classification without an attention mask: the last token that is not this id
   * is the one classified (HF's pad_token_id rule); null: the last position. Causal-lm: null.
   */
  readonly padTokenId: number | null;
  readonly vocabSize: number;
  readonly nLayer: number;
  readonly nHead: number;
  /** Key/value heads (grouped-query attention); equal to nHead for multi-head attention. */
  readonly nKvHead: number;
  readonly nEmbd: number;
  /** Channels per attention head: nEmbd / nHead unless given (HF head_dim: Qwen3, Mistral NeMo). */
  readonly headSize: number;
  /** Hidden width of the MLP. */
  readonly intermediateSize: number;
  /** Maximum positions (context length). */
  readonly blockSize: number;
  readonly positional: PositionalEncoding;
  readonly norm: NormKind;
  readonly normEps: number;
  readonly mlp: MlpKind;
  readonly activation: Activation;
  /**
   * Biases on the linear layers and LayerNorm (RMSNorm has none): LayerNorm's bias, and
   * the default of attentionBias ('all' or 'none') and mlpBias.
   */
  readonly bias: boolean;
  /** Which attention projections have a bias. */
  readonly attentionBias: AttentionBias;
  /** Biases on the MLP's linear layers. */
  readonly mlpBias: boolean;
  /** An RMSNorm over each head of q and k before RoPE (Qwen3's q_norm / k_norm). */
  readonly qkNorm: boolean;
  /** Sliding-window attention in some layers (Mistral, Qwen2 with use_sliding_window); null for none. */
  readonly slidingWindow: SlidingWindow | null;
  /** The output head reuses the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  /** Dropout on embeddings and residual branches (training only). */
  readonly dropout: number;
  /** Std of the normal initialisation (residual projections get initStd / sqrt(2 nLayer)). */
  readonly initStd: number;
  /**
   * Sparse mixture of experts in every block's MLP slot (intermediateSize is then each
   * expert's hidden size); null for a dense MLP. Set for the mixtral preset, null otherwise.
   */
  readonly moe: MoeConfig | null;
}

/** Raw, unvalidated input (user options, converted config.json); resolveDecoderConfig checks it. */
export type RawDecoderConfig = Readonly<Record<string, unknown>>;

/** The rope variant of PositionalEncoding. */
type RopeEncoding = Extract<PositionalEncoding, { kind: 'rope' }>;

/**
 * Typed preset overrides: any subset of the fields; `positional` may also be a kind name,
 * with `ropeTheta` and `ropeScaling` for 'rope'; `slidingWindow` may be a size (every layer).
 */
export type DecoderOverrides = Partial<
  Omit<DecoderConfig, 'arch' | 'positional' | 'slidingWindow' | 'moe' | 'labels'>
> & {
  readonly positional?:
    | Exclude<PositionalEncoding, RopeEncoding>
    | (Omit<RopeEncoding, 'scaling'> & { readonly scaling?: RopeEncoding['scaling'] })
    | PositionalEncoding['kind'];
  readonly ropeTheta?: number;
  readonly ropeScaling?: RopeEncoding['scaling'];
  readonly slidingWindow?: SlidingWindow | number | null;
  /** Expert settings (mixtral): any subset, the rest from the preset. */
  readonly moe?: Partial<MoeConfig>;
  /** A sequence-classification head's label names (id2label). */
  readonly labels?: readonly string[];
  readonly problemType?: 'single_label_classification' | null;
};

/**
 * The values a preset gives every field not set (gpt2/config.ts, llama/config.ts, ...).
 * attentionBias and mlpBias default to `bias`, qkNorm to false, slidingWindow to none.
 */
export type DecoderDefaults = Omit<
  DecoderConfig,
  | 'arch'
  | 'headSize'
  | 'intermediateSize'
  | 'nKvHead'
  | 'positional'
  | 'attentionBias'
  | 'mlpBias'
  | 'qkNorm'
  | 'slidingWindow'
  | 'moe'
  | 'head'
  | 'labels'
  | 'padTokenId'
> &
  Partial<Pick<DecoderConfig, 'attentionBias' | 'mlpBias' | 'qkNorm'>> & {
    readonly positional: PositionalEncoding['kind'];
    readonly ropeTheta: number;
    readonly slidingWindow?: number;
  };

const defaultsOf: Readonly<Record<DecoderArch, DecoderDefaults>> = {
  gpt2: gpt2Defaults,
  llama: llamaDefaults,
  mistral: mistralDefaults,
  qwen2: qwen2Defaults,
  qwen3: qwen3Defaults,
  mixtral: mixtralDefaults,
};

/**
 * The MLP width when none is given: 4C for a GELU MLP; for SwiGLU, 2/3 of 4C (equal
 * parameter count with three matrices) rounded up to a multiple of 32, as llama2.c does
 * (with multiple_of 32 instead of 256 so that tiny models stay tiny): 288 -> 768.
 */
function defaultIntermediate(mlp: MlpKind, nEmbd: number): number {
  if (mlp === 'gelu') return 4 * nEmbd;
  const hidden = Math.floor((2 * 4 * nEmbd) / 3);
  return 32 * Math.ceil(hidden / 32);
}

/**
 * Upper bounds of the integer dimensions: far above any published model (vocabularies
 * reach ~260k, widths 16k, MLPs 64k, contexts 1M), low enough that no product of them
 * overflows what the shape checks and the memory estimate compute exactly. A model
 * inside these bounds can still be too large for the machine: the registry checks that.
 */
export const dimensionLimits = {
  vocabSize: 2 ** 24,
  nLayer: 2 ** 12,
  nHead: 2 ** 12,
  nKvHead: 2 ** 12,
  nEmbd: 2 ** 17,
  headSize: 2 ** 16,
  intermediateSize: 2 ** 20,
  blockSize: 2 ** 24,
} as const;

/**
 * A raw config's field: a DecoderConfig field, ropeTheta / ropeScaling (the theta and
 * scaling of `positional: 'rope'` given flat), problemType, or a field of the `moe` settings.
 */
export type DecoderField =
  keyof DecoderConfig | 'ropeTheta' | 'ropeScaling' | 'problemType' | `moe.${keyof MoeConfig}`;

/** How to name each field in errors (e.g. the config.json key it came from); default the field itself. */
export type FieldNames = Readonly<Partial<Record<DecoderField, string>>>;

/** Every top-level field a raw config may give; its type makes it list each field exactly once. */
const knownFields: Readonly<Record<keyof DecoderConfig | 'ropeTheta' | 'ropeScaling' | 'problemType', true>> =
  {
    arch: true,
    head: true,
    labels: true,
    problemType: true,
    padTokenId: true,
    vocabSize: true,
    nLayer: true,
    nHead: true,
    nKvHead: true,
    nEmbd: true,
    headSize: true,
    intermediateSize: true,
    blockSize: true,
    positional: true,
    ropeTheta: true,
    ropeScaling: true,
    norm: true,
    normEps: true,
    mlp: true,
    activation: true,
    bias: true,
    attentionBias: true,
    mlpBias: true,
    qkNorm: true,
    slidingWindow: true,
    tiedEmbeddings: true,
    dropout: true,
    initStd: true,
    moe: true,
  };

/**
 * Resolves raw settings into a DecoderConfig: `arch` picks the defaults for every field
 * not given; every invalid field is listed in one ConfigError, under its name in
 * `fieldNames` when given (config.json keys for a converted HF config).
 *
 * @example
 * const config = resolveDecoderConfig({ arch: 'gpt2', nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, vocabSize: 65 });
 */
export function resolveDecoderConfig(
  raw: RawDecoderConfig,
  where = 'DecoderConfig',
  fieldNames: FieldNames = {},
): DecoderConfig {
  const problems: string[] = [];
  const label = (key: DecoderField): string => fieldNames[key] ?? key;
  for (const key of Object.keys(raw)) {
    if (!Object.hasOwn(knownFields, key)) problems.push(`${key}: unknown field`);
  }
  const arch = raw.arch as DecoderArch;
  if (!decoderArchs.includes(arch)) {
    problems.push(`arch: expected one of ${decoderArchs.join(' | ')}, got ${jsonText(arch)}`);
    throw configError(where, problems);
  }
  const d = defaultsOf[arch];
  const pick = <T>(key: DecoderField, fallback: T): unknown => (raw[key] === undefined ? fallback : raw[key]);

  const int = (key: keyof typeof dimensionLimits, fallback: number | undefined): number => {
    const value = pick(key, fallback);
    const max = dimensionLimits[key];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
      problems.push(`${label(key)}: expected an integer in [1, ${max}], got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const real = (key: DecoderField, fallback: number, ok: (v: number) => boolean, range: string): number => {
    const value = pick(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      problems.push(`${label(key)}: expected a number ${range}, got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const oneOf = <T extends string>(key: DecoderField, fallback: T, allowed: readonly T[]): T => {
    const value = pick(key, fallback);
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      problems.push(`${label(key)}: expected one of ${allowed.join(' | ')}, got ${jsonText(value)}`);
      return fallback;
    }
    return value as T;
  };
  const flag = (key: DecoderField, fallback: boolean): boolean => {
    const value = pick(key, fallback);
    if (typeof value !== 'boolean') {
      problems.push(`${label(key)}: expected true or false, got ${jsonText(value)}`);
      return fallback;
    }
    return value;
  };

  const vocabSize = int('vocabSize', d.vocabSize);
  const nLayer = int('nLayer', d.nLayer);
  const nHead = int('nHead', d.nHead);
  const nKvHead = int('nKvHead', Number.isNaN(nHead) ? 1 : nHead);
  const nEmbd = int('nEmbd', d.nEmbd);
  const mlp = oneOf<MlpKind>('mlp', d.mlp, ['gelu', 'swiglu']);
  const intermediateSize = int('intermediateSize', defaultIntermediate(mlp, Number.isNaN(nEmbd) ? 1 : nEmbd));
  const blockSize = int('blockSize', d.blockSize);
  const norm = oneOf<NormKind>('norm', d.norm, ['layerNorm', 'rmsNorm']);
  const normEps = real('normEps', d.normEps, (v) => v > 0, '> 0');
  const activation = oneOf<Activation>('activation', d.activation, ['gelu', 'geluTanh', 'relu', 'silu']);
  const bias = flag('bias', d.bias);
  const attentionBias = oneOf<AttentionBias>('attentionBias', d.attentionBias ?? (bias ? 'all' : 'none'), [
    'all',
    'qkv',
    'none',
  ]);
  const mlpBias = flag('mlpBias', d.mlpBias ?? bias);
  const qkNorm = flag('qkNorm', d.qkNorm ?? false);
  const tiedEmbeddings = flag('tiedEmbeddings', d.tiedEmbeddings);
  const dropout = real('dropout', d.dropout, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const initStd = real('initStd', d.initStd, (v) => v > 0, '> 0');
  const head = oneOf<DecoderHead>('head', 'causal-lm', ['causal-lm', 'sequence-classification']);
  const classifies = head === 'sequence-classification';
  const fields = new FieldReader<DecoderField>(raw, label, problems);
  const labels = classifies ? readClassLabels(fields) : null;
  for (const key of ['labels', 'problemType', 'padTokenId'] as const) {
    if (!classifies && raw[key] !== undefined && raw[key] !== null)
      fields.problem(key, 'only a sequence-classification head has it');
  }
  const padTokenId =
    !classifies || raw.padTokenId === undefined || raw.padTokenId === null
      ? null
      : fields.int('padTokenId', 0, 0, Number.isNaN(vocabSize) ? dimensionLimits.vocabSize : vocabSize - 1);

  let positional: PositionalEncoding = { kind: 'learned' };
  const rawPositional = pick('positional', d.positional);
  const kind =
    typeof rawPositional === 'object' && rawPositional !== null
      ? (rawPositional as { kind?: unknown }).kind
      : rawPositional;
  if (kind === 'learned' || kind === 'sinusoidal') {
    positional = { kind };
  } else if (kind === 'rope') {
    const object = typeof rawPositional === 'object' ? (rawPositional as Record<string, unknown>) : {};
    const theta = object['theta'] ?? pick('ropeTheta', d.ropeTheta);
    const scaling = resolveRopeScaling(object['scaling'] ?? raw.ropeScaling, label('ropeScaling'), problems);
    if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) {
      problems.push(`${label('ropeTheta')}: expected a number > 0, got ${jsonText(theta)}`);
    } else if (scaling !== null) {
      positional = { kind: 'rope', theta, scaling };
    }
  } else {
    problems.push(
      `${label('positional')}: expected learned | sinusoidal | rope, got ${jsonText(rawPositional)}`,
    );
  }

  const headSize = raw.headSize === undefined ? nEmbd / nHead : int('headSize', undefined);
  if (raw.headSize === undefined && Number.isFinite(headSize) && !Number.isInteger(headSize)) {
    problems.push(`${label('nEmbd')}: ${nEmbd} is not divisible by ${label('nHead')} ${nHead}`);
  }
  if (Number.isFinite(nKvHead) && Number.isFinite(nHead) && (nKvHead > nHead || nHead % nKvHead !== 0)) {
    problems.push(`${label('nKvHead')}: ${nKvHead} must divide ${label('nHead')} ${nHead}`);
  }
  if (positional.kind === 'rope' && Number.isInteger(headSize) && headSize % 2 !== 0) {
    const size = raw.headSize === undefined ? `${label('nEmbd')} / ${label('nHead')} = ` : '';
    problems.push(
      `${label(raw.headSize === undefined ? 'nEmbd' : 'headSize')}: RoPE needs an even head size, got ${size}${headSize}`,
    );
  }
  const slidingWindow = resolveSlidingWindow(
    raw.slidingWindow === undefined ? (d.slidingWindow ?? null) : raw.slidingWindow,
    nLayer,
    label('slidingWindow'),
    problems,
  );
  if (positional.kind === 'sinusoidal' && Number.isInteger(nEmbd) && nEmbd % 2 !== 0) {
    problems.push(`${label('nEmbd')}: sinusoidal positions need an even width, got ${nEmbd}`);
  }
  // Every Mixtral block is sparse; the other presets are dense.
  let moe: MoeConfig | null = null;
  if (arch === 'mixtral') {
    moe = resolveMoeConfig(raw.moe, moeDefaults, (field) => label(`moe.${field}`), problems);
    if (bias) problems.push(`${label('bias')}: Mixtral has no biases, got true`);
    if (mlpBias) problems.push(`${label('mlpBias')}: Mixtral's experts have no biases, got true`);
  } else if (raw.moe !== undefined && raw.moe !== null) {
    problems.push(`moe: only the mixtral preset has expert layers, got experts for arch '${arch}'`);
  }
  if (problems.length > 0) throw configError(where, problems);
  return Object.freeze({
    arch,
    head,
    labels,
    padTokenId,
    vocabSize,
    nLayer,
    nHead,
    nKvHead,
    nEmbd,
    headSize,
    intermediateSize,
    blockSize,
    positional: Object.freeze(positional),
    norm,
    normEps,
    mlp,
    activation,
    bias,
    attentionBias,
    mlpBias,
    qkNorm,
    slidingWindow,
    tiedEmbeddings,
    dropout,
    initStd,
    moe,
  });
}

function configError(where: string, problems: readonly string[]): ConfigError {
  return new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
    where,
    actual: problems.join('; '),
  });
}
