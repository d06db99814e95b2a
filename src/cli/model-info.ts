/**
 * `lmforge info DIR` (or FILE.gguf): what a model folder holds and how it was loaded: the
 * family and architecture (head size, biases, q/k norms, sliding window, RoPE scaling; the
 * experts of a mixture of experts), parameter count, the weights (one file or shards, the
 * dtypes converted from, keys not loaded), the tokenizer and its special tokens, the ids
 * generation stops at, and the training state when the folder is an lmforge run (with the
 * last router statistics of its log, for experts). Everything reported is validated first,
 * as loading would (config.json, the safetensors headers against it, every weight finite),
 * so a folder that cannot be loaded is an error, not a page of numbers. describeModelFolder
 * returns numbers and enums (for --json); formatModelInfo renders them.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  eosIdFromTokenizerConfig,
  eosIdsFor,
  generationConfigFromHf,
  tokenizerConfigToken,
} from '../generate/index.js';
import {
  checkGguf,
  checkModelFolder,
  familyOf,
  generationConfigFileName,
  tokenizerConfigFileName,
  tokenizerFileName,
  type AnyModelConfig,
} from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import {
  readLastRouterRecord,
  readTrainerState,
  recoverRunFolder,
  trainerStateFile,
  type RouterLogRecord,
} from '../train/index.js';

/** How a tokenizer splits text, from its tokenizer.json. */
export type TokenizerKind =
  'char' | 'byte-level-bpe' | 'bpe' | 'wordpiece' | 'unigram' | 'wordlevel' | 'sentencepiece' | 'unknown';

interface TokenizerJson {
  readonly model?: { readonly type?: string; readonly merges?: unknown[]; readonly vocab?: unknown };
  readonly pre_tokenizer?: unknown;
  readonly decoder?: unknown;
}

/** Whether a tokenizer.json component (or a Sequence of them) includes ByteLevel. */
function hasByteLevel(component: unknown): boolean {
  if (typeof component !== 'object' || component === null) return false;
  const { type, pretokenizers, decoders } = component as Record<string, unknown>;
  if (type === 'ByteLevel') return true;
  const parts = pretokenizers ?? decoders;
  return Array.isArray(parts) && parts.some(hasByteLevel);
}

/**
 * A BPE with no merges whose every token is one code point is a character-level
 * tokenizer (that is how CharTokenizer saves itself); byte-level BPE has a ByteLevel
 * pre-tokenizer or decoder.
 */
export function tokenizerKind(json: TokenizerJson): TokenizerKind {
  const model = json.model ?? {};
  switch (model.type) {
    case 'BPE': {
      const vocab = typeof model.vocab === 'object' && model.vocab !== null ? Object.keys(model.vocab) : [];
      if ((model.merges ?? []).length === 0 && vocab.every((token) => [...token].length === 1)) return 'char';
      return hasByteLevel(json.pre_tokenizer) || hasByteLevel(json.decoder) ? 'byte-level-bpe' : 'bpe';
    }
    case 'WordPiece':
      return 'wordpiece';
    case 'Unigram':
      return 'unigram';
    case 'WordLevel':
      return 'wordlevel';
    default:
      return 'unknown';
  }
}

export interface ModelInfo {
  readonly folder: string;
  /** The family (HF model_type). */
  readonly model_type: string;
  readonly parameters: number;
  readonly layers: number;
  readonly heads: number;
  readonly kv_heads: number;
  readonly width: number;
  readonly mlp: { readonly kind: string; readonly intermediate_size: number };
  readonly context: number;
  readonly vocab_size: number;
  readonly positions: string;
  readonly norm: string;
  readonly tied_embeddings: boolean;
  /** Attention details (decoders): head size, which projections have a bias, q/k norm, sliding window. */
  readonly attention?: {
    readonly head_size: number;
    readonly bias: string;
    readonly qk_norm: boolean;
    readonly sliding_window: { readonly size: number; readonly layers: readonly number[] } | null;
  };
  readonly mlp_bias?: boolean;
  /** RoPE's theta and frequency scaling ({ kind: 'none' | 'linear' | 'llama3', ... }). */
  readonly rope?: { readonly theta: number; readonly scaling: Readonly<Record<string, string | number>> };
  /** Folders only: the weights as stored. */
  readonly weights?: {
    /** File names: model.safetensors, or the shards. */
    readonly files: readonly string[];
    /** The index file of a sharded checkpoint, else null. */
    readonly index: string | null;
    /** Parameter tensors per stored dtype. */
    readonly dtypes: Readonly<Record<string, number>>;
    /** The stored dtypes converted to float32 on load (F16, BF16, F64). */
    readonly converted_from: readonly string[];
    /** Stored keys not loaded (buffers, a tied head's copy). */
    readonly ignored_keys: readonly string[];
    /** The keys were saved without the body prefix (a base model's checkpoint). */
    readonly bare_keys: boolean;
  };
  /** Encoder-decoder folders: the encoder's stack (the fields above are the decoder's). */
  readonly encoder?: {
    readonly layers: number;
    readonly heads: number;
    readonly intermediate_size: number;
    readonly vocab_size: number;
    readonly shared_embeddings: boolean;
  };
  /** Models with expert layers. */
  readonly moe?: {
    readonly experts: number;
    readonly experts_per_token: number;
    readonly shared_experts: number;
    readonly routing: string;
    readonly capacity_factor: number | null;
    readonly aux_loss_coef: number;
    readonly z_loss_coef: number;
    readonly jitter: number;
    /** Parameters one token runs through. */
    readonly active_parameters: number;
  };
  /** Run folders of models with expert layers: the last `router` record of log.jsonl (null before the first evaluation). */
  readonly router?: RouterLogRecord | null;
  /** The HF class config.json names, when the family states it (BertForMaskedLM ...). */
  readonly architecture?: string;
  /** A classification head's labels (id2label). */
  readonly labels?: readonly string[];
  readonly tokenizer: {
    readonly kind: TokenizerKind;
    readonly vocab_size: number;
    readonly eos_id: number | null;
  } | null;
  /** Folders only: tokenizer_config.json's special tokens with their ids (null: not named, or no such file). */
  readonly special_tokens?: Readonly<
    Record<SpecialTokenField, { readonly content: string; readonly id: number | null } | null>
  >;
  /** Folders only: where the generation defaults come from: generation_config.json, config.json's token ids, or none. */
  readonly generation_config?: 'generation_config.json' | 'config.json' | null;
  /** Folders only: the ids `generate` stops at (generation_config.json, else tokenizer_config.json, else the tokenizer). */
  readonly eos_ids?: readonly number[];
  /** Run folders only: the optimiser steps completed. */
  readonly step?: number;
  readonly training?: {
    readonly step: number;
    readonly iters: number;
    /** 'completed', 'early-stopped', 'stop-requested', ... or 'in-progress' (the run was cut off). */
    readonly status: string;
    readonly tokens_seen: number;
    readonly last_eval: {
      readonly step: number;
      readonly train_loss: number;
      readonly val_loss: number;
      readonly val_perplexity: number;
    } | null;
    readonly data: {
      readonly description: string;
      readonly train_tokens: number;
      readonly val_tokens: number;
    };
    readonly recipe: {
      readonly batch_size: number;
      readonly block_size: number;
      readonly grad_accum: number;
      readonly lr: number;
      readonly min_lr: number;
      readonly warmup: number;
      readonly beta2: number;
      readonly weight_decay: number;
      readonly grad_clip: number | null;
      readonly seed: number;
    };
  };
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  /** .gguf files only: the format version, alignment, general.name and tensors per ggml type. */
  readonly gguf?: {
    readonly version: number;
    readonly alignment: number;
    readonly name: string | null;
    readonly tensor_types: Readonly<Record<string, number>>;
  };
}

/** The architecture fields of ModelInfo, from a resolved config. */
function architectureOf(config: AnyModelConfig) {
  const a = familyOf(config.arch).describe(config);
  return {
    model_type: config.arch,
    layers: a.layers,
    heads: a.heads,
    kv_heads: a.kvHeads,
    width: a.width,
    mlp: { kind: a.mlp.kind, intermediate_size: a.mlp.intermediateSize },
    context: a.context,
    vocab_size: a.vocabSize,
    positions: a.positions,
    norm: a.norm,
    tied_embeddings: a.tiedEmbeddings,
    ...(a.attention === undefined
      ? {}
      : {
          attention: {
            head_size: a.attention.headSize,
            bias: a.attention.bias,
            qk_norm: a.attention.qkNorm,
            sliding_window: a.attention.slidingWindow,
          },
        }),
    ...(a.mlpBias === undefined ? {} : { mlp_bias: a.mlpBias }),
    ...(a.rope === undefined ? {} : { rope: a.rope }),
    ...(a.encoder === undefined
      ? {}
      : {
          encoder: {
            layers: a.encoder.layers,
            heads: a.encoder.heads,
            intermediate_size: a.encoder.intermediateSize,
            vocab_size: a.encoder.vocabSize,
            shared_embeddings: a.encoder.sharedEmbeddings,
          },
        }),
    ...(a.moe === undefined
      ? {}
      : {
          moe: {
            experts: a.moe.experts,
            experts_per_token: a.moe.expertsPerToken,
            shared_experts: a.moe.sharedExperts,
            routing: a.moe.routing,
            capacity_factor: a.moe.capacityFactor,
            aux_loss_coef: a.moe.auxLossCoef,
            z_loss_coef: a.moe.zLossCoef,
            jitter: a.moe.jitter,
            active_parameters: a.moe.activeParameters,
          },
        }),
    ...(a.architecture === undefined ? {} : { architecture: a.architecture }),
    ...(a.labels === undefined ? {} : { labels: a.labels }),
  };
}

/**
 * `lmforge info FILE.gguf`: checked as loading would (header, metadata, every tensor read
 * and finite, the vocabulary against the embedding), without building the model.
 */
/** The tokenizer kind of each GGUF vocabulary type. */
const ggufTokenizerKinds = { gpt2: 'byte-level-bpe', llama: 'sentencepiece', bert: 'wordpiece' } as const;

export async function describeGgufFile(path: string): Promise<ModelInfo> {
  const { config, parameters, tokenizer, summary } = await checkGguf(path);
  return {
    folder: path,
    ...architectureOf(config),
    parameters,
    tokenizer: {
      kind: ggufTokenizerKinds[summary.tokenizerModel],
      vocab_size: tokenizer.vocabSize,
      eos_id: tokenizer.eosId ?? null,
    },
    files: [{ name: basename(path), bytes: (await stat(path)).size }],
    gguf: {
      version: summary.version,
      alignment: summary.alignment,
      name: summary.name ?? null,
      tensor_types: summary.tensorTypes,
    },
  };
}

type SpecialTokenField = 'bos_token' | 'eos_token' | 'pad_token' | 'unk_token';
const specialTokenFields: readonly SpecialTokenField[] = ['bos_token', 'eos_token', 'pad_token', 'unk_token'];

/** A tokenizer_config.json's special tokens and their ids. */
function specialTokensOf(
  json: Record<string, unknown> | null,
  tokenizer: Tokenizer | null,
): NonNullable<ModelInfo['special_tokens']> {
  const entry = (field: SpecialTokenField): { content: string; id: number | null } | null => {
    const content = tokenizerConfigToken(json, field);
    if (content === undefined) return null;
    const id = tokenizer?.specialTokens.get(content) ?? tokenizer?.tokenToId(content) ?? null;
    return { content, id };
  };
  return Object.fromEntries(specialTokenFields.map((field) => [field, entry(field)])) as NonNullable<
    ModelInfo['special_tokens']
  >;
}

export async function describeModelFolder(dir: string): Promise<ModelInfo> {
  await recoverRunFolder(dir);
  const { config, parameters, weights, generationConfig, tokenizerConfig } = await checkModelFolder(dir);
  const names = (await readdir(dir)).sort();
  let tokenizer: ModelInfo['tokenizer'] = null;
  let loaded: Tokenizer | null = null;
  if (names.includes(tokenizerFileName)) {
    // A tokenizer.json that does not load is an error here as it is for generate and eval.
    loaded = await loadTokenizer(dir);
    tokenizer = {
      kind: tokenizerKind(loaded.toJSON() as TokenizerJson),
      vocab_size: loaded.vocabSize,
      eos_id: loaded.eosId ?? null,
    };
  }
  // The ids generate stops at, resolved as generate resolves them (a bad field is an error here too).
  const tokenizerConfigPath = join(dir, tokenizerConfigFileName);
  const generationPath = names.includes(generationConfigFileName)
    ? join(dir, generationConfigFileName)
    : join(dir, 'config.json');
  const generation =
    generationConfig === null ? null : generationConfigFromHf(generationConfig, generationPath);
  const tokenizerConfigEos =
    loaded === null ? undefined : eosIdFromTokenizerConfig(tokenizerConfig, loaded, tokenizerConfigPath);
  const eosIds =
    loaded === null
      ? (generation?.eosTokenIds ?? [])
      : eosIdsFor(generation ?? { eosTokenIds: null }, loaded, tokenizerConfigEos);
  const files = await Promise.all(
    names.map(async (name) => ({ name, bytes: (await stat(join(dir, name))).size })),
  );
  const info: ModelInfo = {
    folder: dir,
    ...architectureOf(config),
    parameters,
    weights: {
      files: weights.files.map((file) => basename(file)),
      index: weights.index === null ? null : basename(weights.index),
      dtypes: weights.dtypes,
      converted_from: Object.keys(weights.dtypes).filter((dtype) => dtype !== 'F32'),
      ignored_keys: weights.ignoredKeys,
      bare_keys: weights.bareKeys,
    },
    tokenizer,
    special_tokens: specialTokensOf(tokenizerConfig, loaded),
    generation_config:
      generationConfig === null
        ? null
        : names.includes(generationConfigFileName)
          ? 'generation_config.json'
          : 'config.json',
    eos_ids: eosIds,
    files,
  };
  if (!names.includes(trainerStateFile)) return info;
  const state = await readTrainerState(dir);
  const o = state.options;
  return {
    ...info,
    ...(info.moe === undefined ? {} : { router: await readLastRouterRecord(dir) }),
    step: state.step,
    training: {
      step: state.step,
      iters: o.iters,
      status: state.stopReason ?? 'in-progress',
      tokens_seen: state.tokensSeen,
      last_eval:
        state.lastEval === null || state.lastEvalStep === null
          ? null
          : {
              step: state.lastEvalStep,
              train_loss: state.lastEval.trainLoss,
              val_loss: state.lastEval.valLoss,
              val_perplexity: Math.exp(state.lastEval.valLoss),
            },
      data: {
        description: state.data.description,
        train_tokens: state.data.trainTokens,
        val_tokens: state.data.valTokens,
      },
      recipe: {
        batch_size: o.batchSize,
        block_size: o.blockSize,
        grad_accum: o.gradAccum,
        lr: o.lr,
        min_lr: o.minLr,
        warmup: o.warmup,
        beta2: o.beta2,
        weight_decay: o.weightDecay,
        grad_clip: o.gradClip ?? null,
        seed: o.seed,
      },
    },
  };
}

const tokenizerNames: Readonly<Record<TokenizerKind, string>> = {
  char: 'character-level',
  'byte-level-bpe': 'byte-level BPE',
  bpe: 'BPE',
  wordpiece: 'WordPiece',
  unigram: 'Unigram',
  wordlevel: 'word-level',
  sentencepiece: 'SentencePiece (llama.cpp)',
  unknown: 'unknown kind',
};

/** ', theta 500000, llama3 scaling (factor 8, ...)' for a RoPE model; '' otherwise. */
function ropeLine(rope: ModelInfo['rope']): string {
  if (rope === undefined) return '';
  const { kind, ...parameters } = rope.scaling;
  const detail = Object.entries(parameters)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
  return ` (theta ${rope.theta}${kind === 'none' ? '' : `, ${kind} scaling: ${detail}`})`;
}

/** The human-readable lines of `info`. */
export function formatModelInfo(info: ModelInfo): string[] {
  const lines = [
    `folder: ${info.folder}`,
    `model_type: ${info.model_type}${info.architecture === undefined ? '' : ` (${info.architecture})`}`,
    `parameters: ${info.parameters.toLocaleString('en-US')}`,
    `layers: ${info.layers}, heads: ${info.heads} (kv ${info.kv_heads}), width: ${info.width}`,
    `mlp: ${info.mlp.kind} ${info.mlp.intermediate_size}`,
    `context: ${info.context}, vocabulary: ${info.vocab_size}`,
    `positions: ${info.positions}${ropeLine(info.rope)}, norm: ${info.norm}, tied embeddings: ${info.tied_embeddings}`,
  ];
  const at = info.attention;
  if (at !== undefined) {
    const window =
      at.sliding_window === null
        ? 'none'
        : `${at.sliding_window.size} in ${at.sliding_window.layers.length === info.layers ? 'every layer' : `layers ${at.sliding_window.layers.join(', ')}`}`;
    lines.push(
      `attention: head size ${at.head_size}, biases ${at.bias}, q/k norm ${at.qk_norm ? 'yes' : 'no'}, sliding window ${window}` +
        (info.mlp_bias === undefined ? '' : `; mlp biases ${info.mlp_bias ? 'yes' : 'no'}`),
    );
  }
  const w = info.weights;
  if (w !== undefined) {
    const dtypes = Object.entries(w.dtypes)
      .map(([dtype, count]) => `${count} ${dtype}`)
      .join(', ');
    lines.push(
      `weights: ${w.index === null ? w.files.join(', ') : `${w.files.length} shards (${w.index})`}; ${dtypes} tensors` +
        (w.converted_from.length === 0 ? '' : ` (${w.converted_from.join(', ')} converted to float32)`) +
        (w.bare_keys ? '; keys without the body prefix' : '') +
        (w.ignored_keys.length === 0 ? '' : `; not loaded: ${w.ignored_keys.join(', ')}`),
    );
  }
  const encoder = info.encoder;
  if (encoder !== undefined) {
    lines.splice(
      3,
      0,
      `encoder: ${encoder.layers} layers, ${encoder.heads} heads, mlp ${encoder.intermediate_size}, ` +
        `source vocabulary ${encoder.vocab_size}${encoder.shared_embeddings ? ' (embeddings shared with the decoder)' : ''}; decoder:`,
    );
  }
  const moe = info.moe;
  if (moe !== undefined) {
    const shared = moe.shared_experts > 0 ? `, ${moe.shared_experts} shared` : '';
    const capacity = moe.capacity_factor === null ? 'dropless' : `capacity factor ${moe.capacity_factor}`;
    lines.push(
      `experts: ${moe.experts} per layer, ${moe.experts_per_token} per token${shared} (${moe.routing} routing, ${capacity}); ` +
        `${moe.active_parameters.toLocaleString('en-US')} parameters active per token`,
      `router losses: load balancing x ${moe.aux_loss_coef}, z-loss x ${moe.z_loss_coef}`,
    );
  }
  if (info.labels !== undefined) lines.push(`labels: ${info.labels.join(', ')}`);
  const g = info.gguf;
  if (g !== undefined) {
    const types = Object.entries(g.tensor_types).map(([type, n]) => `${type} ${n}`);
    lines.push(
      `gguf: v${g.version}, alignment ${g.alignment}, tensors ${types.join(', ')}${g.name === null ? '' : `, name ${JSON.stringify(g.name)}`}`,
    );
  }
  const t = info.tokenizer;
  lines.push(
    t === null
      ? 'tokenizer: none'
      : `tokenizer: ${tokenizerNames[t.kind]}, ${t.vocab_size} ids${t.eos_id === null ? '' : `, eos ${t.eos_id}`}`,
  );
  const special = Object.entries(info.special_tokens ?? {})
    .filter(([, token]) => token !== null)
    .map(
      ([field, token]) =>
        `${field} ${JSON.stringify(token!.content)} (${token!.id ?? 'not in the vocabulary'})`,
    );
  if (special.length > 0) lines.push(`special tokens (tokenizer_config.json): ${special.join(', ')}`);
  const eos = info.eos_ids;
  if (eos !== undefined) {
    lines.push(
      `generation stops at: ${eos.length === 0 ? 'no id' : `id${eos.length === 1 ? '' : 's'} ${eos.join(', ')}`}` +
        (info.generation_config === null ? '' : ` (defaults from ${info.generation_config})`),
    );
  }
  const training = info.training;
  if (training !== undefined) {
    lines.push(`training: step ${training.step} of ${training.iters} (${training.status})`);
    const e = training.last_eval;
    if (e !== null) {
      lines.push(
        `last eval: step ${e.step}: train loss ${e.train_loss.toFixed(4)}, val loss ${e.val_loss.toFixed(4)} (ppl ${e.val_perplexity.toFixed(2)})`,
      );
    }
    lines.push(`tokens seen: ${training.tokens_seen}`);
    const router = info.router;
    if (router !== undefined && router !== null) {
      const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;
      lines.push(
        `router (${router.passes} passes to step ${router.step}): load-balancing loss ${router.balance_loss.toFixed(4)}, ` +
          `z-loss ${router.z_loss.toFixed(4)}`,
      );
      router.layers.forEach((layer, i) => {
        lines.push(
          `  layer ${i}: load ${layer.load.map(percent).join(' ')}, entropy ${layer.entropy.toFixed(3)}, dropped ${percent(layer.dropped)}`,
        );
      });
    }
    const d = training.data;
    lines.push(`data: ${d.description} (${d.train_tokens} train / ${d.val_tokens} val tokens)`);
    const r = training.recipe;
    lines.push(
      `recipe: batch ${r.batch_size}x${r.block_size}${r.grad_accum > 1 ? ` x${r.grad_accum} accum` : ''}, lr ${r.lr} -> ${r.min_lr} ` +
        `(warm-up ${r.warmup}), beta2 ${r.beta2}, weight decay ${r.weight_decay}, clip ${r.grad_clip ?? 'none'}, seed ${r.seed}`,
    );
  }
  lines.push(`files: ${info.files.map((f) => `${f.name} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(', ')}`);
  return lines;
}
