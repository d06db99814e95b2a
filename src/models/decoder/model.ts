/**
 * DecoderLM: the decoder-only causal LM of the GPT-2, Llama, Mistral, Qwen and Mixtral presets, driven by
 * DecoderConfig and implementing the model contract (../model.ts). It reads top to bottom
 * as nanoGPT's model.py: token (+ position) embeddings, the pre-norm blocks
 * (../blocks/transformer-block.ts with ./block-spec.ts), a final norm and a head (the lm_head Linear, or the token
 * embedding when tied; or, for sequence classification, `score` at each row's last real
 * token, as HF's GPT2ForSequenceClassification / LlamaForSequenceClassification).
 *
 * Parameter paths equal the Hugging Face checkpoint keys of the config's `arch`
 * (GPT2LMHeadModel: transformer.h.3.attn.c_attn.weight; LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM: model.layers.3.self_attn.q_proj.weight; Qwen3ForCausalLM adds
 * model.layers.3.self_attn.q_norm.weight; MixtralForCausalLM:
 * model.layers.3.block_sparse_moe.experts.5.w1.weight), so a saved model is an HF model folder.
 * With expert layers (config.moe) the blocks share one RouterRecorder per call, from which
 * the auxiliary loss (ModelOutputs.auxLoss) and the router statistics are returned.
 *
 * Legend: B batch, T time, C channels (nEmbd), V vocab, nH heads, nKV kv-heads, hs head size.
 */
import {
  type Tensor,
  Rng,
  add,
  embedding,
  isGradEnabled,
  isTensor,
  matmulTransposed,
} from '../../tensor/index.js';
import {
  Module,
  Linear,
  KVCache,
  RotaryEmbedding,
  ropeInverseFrequencies,
  RouterRecorder,
  routerAuxLoss,
  sinusoidalTable,
  positionRows,
  leftPaddingOf,
  type AttentionMask,
  type MoeContext,
  type Projection,
} from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import { weightInit, type BuildInit } from '../blocks/transformer-block.js';
import {
  callAttentionDropout,
  callDropout,
  isTraining,
  kvCacheOf,
  layerMaskOf,
} from '../blocks/forward-context.js';
import {
  ClassificationHead,
  lastTokenPositions,
  selectPositions,
  tokensAt,
} from '../heads/classification-head.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelHead,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import type { ModelInit } from '../family.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';
import { DecoderBody } from './body.js';
import { fusedDecodeBlocks, fusedDecodePlan } from './fused-decode.js';

export interface DecoderOptions {
  /** 'empty' builds zero weights without drawing them, for a model about to be loaded (default 'random'). */
  readonly init?: ModelInit;
  /** Seed of the initialisation (default 0); ignored when `rng` is given. */
  readonly seed?: number;
  readonly rng?: Rng;
}

/** The options of the tensor-in, logits-out call `forward(ids, options)`. */
export type ForwardOptions = LogitsOptions;

/**
 * The decoder-only causal LM of the GPT-2 and Llama presets, implementing the model
 * contract (model.ts). `forward(ids)` is the nn-style shorthand for
 * `forward({ ids }).logits` that training loops and tests use.
 *
 * @example
 * const model = new DecoderLM(gpt2Preset({ vocabSize: 65, nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64 }), { seed: 1337 });
 * const logits = scope(() => model.forward(ids)); // ids (B, T) int32 -> (B, T, 65)
 *
 * // incremental decoding, dropout off for these calls only
 * const cache = model.createCache(1, 256);
 * noGrad(() => model.forward({ ids: prompt, cache }, { logits: 'last', mode: 'eval' })); // fills [0, T)
 * noGrad(() => model.forward({ ids: next, cache }, { logits: 'last', mode: 'eval' }));   // (1, 1) -> (1, 1, V)
 */
export class DecoderLM extends Module implements LanguageModel<DecoderConfig> {
  readonly kind = 'decoder';
  readonly config: DecoderConfig;
  readonly #sinusoidal: Tensor | null;
  readonly #rope: RotaryEmbedding | null;
  readonly head: ModelHead = { kind: 'causal-lm' };
  readonly #score: ClassificationHead | null = null;

  constructor(config: DecoderConfig, options: DecoderOptions = {}) {
    super();
    this.config = config;
    const build: BuildInit =
      options.init === 'empty'
        ? { init: 'empty' }
        : { init: 'random', rng: options.rng ?? new Rng(options.seed ?? 0) };
    this.addChild(archNames[config.arch].body, new DecoderBody(config, build));
    if (config.head === 'sequence-classification') {
      const labels = config.labels!;
      this.head = { kind: 'sequence-classification', labels: labels.names };
      const init = weightInit(build, config.initStd);
      this.#score = this.mount(
        new ClassificationHead({ nEmbd: config.nEmbd, labels, name: 'score', bias: false, init }),
      );
    } else if (!config.tiedEmbeddings) {
      this.addChild(
        'lm_head',
        new Linear(config.nEmbd, config.vocabSize, { bias: false, ...weightInit(build, config.initStd) }),
      );
    }
    const positional = config.positional;
    this.#sinusoidal =
      positional.kind === 'sinusoidal' ? sinusoidalTable(config.blockSize, config.nEmbd) : null;
    this.#rope =
      positional.kind === 'rope'
        ? new RotaryEmbedding(
            config.headSize,
            config.blockSize,
            ropeInverseFrequencies(config.headSize, positional.theta, positional.scaling),
          )
        : null;
  }

  get body(): DecoderBody {
    return this.child<DecoderBody>(archNames[this.config.arch].body);
  }

  /** The untied output head (C -> V); null when the head is the token embedding (or a classifier). */
  get lmHead(): Projection | null {
    return this.config.tiedEmbeddings || this.#score !== null ? null : this.child<Projection>('lm_head');
  }

  /** The sequence-classification head (`score`); null for a causal LM. */
  get score(): ClassificationHead | null {
    return this.#score;
  }

  get family(): string {
    return this.config.arch;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxPositions(): number {
    return this.config.blockSize;
  }

  /**
   * ids (B, T) int32 -> logits (B, T, V), or (B, 1, V) with `logits: 'last'`. With a cache,
   * ids continue the cached positions (T = 1 for one decoding step).
   */
  forward(ids: Tensor, options?: ForwardOptions): Tensor;
  /** The contract's call (model.ts): inputs in, the asked-for outputs back. */
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(input: Tensor | ModelInputs, options: ForwardOptions | OutputOptions = {}): Tensor | ModelOutputs {
    if (!isTensor(input)) return this.#run(input, options as OutputOptions);
    const { cache, ...outputs } = options as LogitsOptions;
    return this.#run(cache === undefined ? { ids: input } : { ids: input, cache }, outputs).logits!;
  }

  #run(inputs: ModelInputs, outputs: OutputOptions): ModelOutputs {
    const where = 'DecoderLM.forward';
    const ids = inputs.ids;
    if (ids.dtype !== 'int32' || ids.ndim !== 2) {
      throw new DTypeError('ids must be a (B, T) int32 tensor', {
        where,
        expected: '(B, T) int32',
        actual: `(${ids.shape.join(', ')}) ${ids.dtype}`,
      });
    }
    const [B, T] = ids.shape as [number, number];
    const cache = kvCacheOf(inputs.cache, B, this.config.nLayer, where);
    const offset = cache?.length ?? 0;
    this.#checkInputs(inputs, outputs, offset);
    const training = isTraining(outputs.mode, this.training);
    const p = this.config.dropout;
    const drop = callDropout(p, training, outputs.rng, where);
    const attentionDropout = callAttentionDropout(p, training, outputs.rng, where);
    const body = this.body;

    let x = body.embed.forward(ids); // (B, T, C)
    const table = body.positions?.weight ?? this.#sinusoidal;
    if (table !== null) {
      const rows =
        inputs.positions === undefined
          ? positionRows(table, offset, T, where)
          : embedding(table, inputs.positions);
      x = add(x, rows); // (B, T, C) + (T, C) or (B, T, C)
    }
    x = drop(x);
    const mask = maskOf(inputs.attentionMask, inputs.positions, T);
    const moe = this.#moeContext(training, outputs);
    // One token of one sequence with a cache and nothing but logits asked for: one kernel
    // call per block (./fused-decode.ts), bit for bit the blocks below.
    const fused =
      B === 1 &&
      T === 1 &&
      inputs.attentionMask === undefined &&
      inputs.positions === undefined &&
      outputs.hiddenStates !== true &&
      outputs.attentions !== true &&
      !(training && p > 0)
        ? fusedDecodePlan(this.config, body.blocks.items, this.#rope, cache)
        : null;
    const stack =
      fused !== null
        ? { output: fusedDecodeBlocks(fused, this.config, x, cache!), hiddenStates: null, attentions: null }
        : body.blocks.run(
            x,
            {
              offset,
              rope: this.#rope,
              cache,
              drop,
              attentionDropout,
              ...(mask === null ? {} : { mask }),
              ...(moe === null ? {} : { moe }),
            },
            outputs,
          );
    x = body.finalNorm.forward(stack.output); // (B, T, C)
    const hiddenStates = stack.hiddenStates === null ? null : [...stack.hiddenStates, x];
    const attentions = stack.attentions;
    cache?.advance(T);
    const records = moe?.recorder?.records;
    const which = outputs.logits ?? 'all';
    let logits: Tensor | null = null;
    if (which !== 'none') {
      const score = this.#score;
      // A classifier reads each row's last real token (HF: the last non-pad token).
      logits =
        score === null
          ? this.#head(selectPositions(x, which, where)) // (B, T', V) or (N, V)
          : score.forward(
              tokensAt(x, lastTokenPositions(ids, paddingKeysOf(inputs), this.config.padTokenId)),
            ); // (B, L)
    }
    return {
      logits,
      ...(hiddenStates === null ? {} : { hiddenStates }),
      ...(attentions === null ? {} : { attentions }),
      ...(moe?.recorder?.losses === true ? { auxLoss: routerAuxLoss(records!, this.config.moe!) } : {}),
      ...(outputs.routerStats === true && records !== undefined
        ? { routerStats: records.map((r) => r.stats) }
        : {}),
    };
  }

  /**
   * The expert layers' context of one call (null for a dense model): the mode, the rng for
   * router jitter, and a recorder when router statistics are asked for or the auxiliary loss
   * is due (nonzero coefficients, while autograd records: it is a training term).
   */
  #moeContext(training: boolean, outputs: OutputOptions): MoeContext | null {
    const moe = this.config.moe;
    if (moe === null) return null;
    const losses = (moe.auxLossCoef > 0 || moe.zLossCoef > 0) && isGradEnabled();
    const recorder = losses || outputs.routerStats === true ? new RouterRecorder({ losses }) : null;
    return {
      training,
      ...(outputs.rng === undefined ? {} : { rng: outputs.rng }),
      ...(recorder === null ? {} : { recorder }),
    };
  }

  /** x (..., C) -> logits (..., V): the lm_head layer, or the token embedding when tied. */
  #head(x: Tensor): Tensor {
    const head = this.lmHead;
    return head === null ? matmulTransposed(x, this.body.embed.weight) : head.forward(x); // (B, T', V)
  }

  /** Rejects inputs this model cannot take, before any work. */
  #checkInputs(inputs: ModelInputs, outputs: OutputOptions, offset: number): void {
    const where = 'DecoderLM.forward';
    if (inputs.tokenTypes !== undefined) {
      throw new ConfigError('a decoder has no token-type embedding', {
        where: `${where}: tokenTypes`,
        hint: 'token types (segments) are for encoders such as BERT',
      });
    }
    if (this.#score !== null && typeof outputs.logits === 'object') {
      throw new ConfigError('a sequence classifier has one output per row: no logits positions', {
        where: `${where}: logits.at`,
        hint: "use logits 'all'",
      });
    }
    if (this.#score !== null && inputs.cache !== undefined) {
      throw new ConfigError('a sequence classifier reads whole sequences: no cache', {
        where: `${where}: cache`,
        hint: 'call forward without a cache',
      });
    }
    for (const key of ['encoderOutput', 'sourceIds', 'sourceMask'] as const) {
      if (inputs[key] === undefined) continue;
      throw new ConfigError('a decoder-only model has no encoder or cross-attention', {
        where: `${where}: ${key}`,
        hint: `${key} is for encoder-decoder families`,
      });
    }
    checkPositions(inputs, offset, this.#rope !== null, this.config.blockSize, where);
  }

  /**
   * Whether a one-token step with `cache` (no autograd, nothing but logits asked for) runs
   * through the fused decode kernel (./fused-decode.ts) rather than the blocks' ops.
   */
  fusesDecode(cache: ModelCache): boolean {
    return (
      cache instanceof KVCache &&
      fusedDecodePlan(this.config, this.body.blocks.items, this.#rope, cache) !== null
    );
  }

  /** A KV cache for `batch` sequences of up to `maxT` positions (default blockSize). */
  createCache(batch: number, maxT: number = this.config.blockSize): KVCache {
    if (
      !Number.isInteger(batch) ||
      batch < 1 ||
      !Number.isInteger(maxT) ||
      maxT < 1 ||
      maxT > this.config.blockSize
    ) {
      throw new ConfigError('cache size out of range', {
        where: 'DecoderLM.createCache',
        expected: `batch >= 1, 1 <= maxT <= ${this.config.blockSize} (blockSize)`,
        actual: `batch ${batch}, maxT ${maxT}`,
      });
    }
    const { nLayer, nKvHead, headSize } = this.config;
    return new KVCache({ nLayer, batch, nKvHead, maxT, headSize });
  }

  override dispose(): void {
    super.dispose();
    this.#sinusoidal?.dispose();
    this.#rope?.dispose();
  }
}

/** The (B, Tk) keys of a padding mask; null without one. */
function paddingKeysOf(inputs: ModelInputs): Tensor | null {
  return inputs.attentionMask?.kind === 'padding' ? inputs.attentionMask.keys : null;
}

/**
 * The contract's attention mask as the attention layers' mask kind, with the causal rule: a
 * left-padded batch with each row's own positions attends row by row (batch invariance).
 */
function maskOf(
  input: ModelInputs['attentionMask'],
  positions: Tensor | undefined,
  T: number,
): AttentionMask | null {
  if (input?.kind === 'padding' && positions !== undefined) {
    const rows = leftPaddingOf(input.keys, positions, T);
    if (rows !== null) return rows;
  }
  return layerMaskOf(input, true);
}

/**
 * Checks `positions` (B, T) int32 against ids and the context: each in [0, blockSize), and
 * with RoPE each row's tokens consecutive (p, p + 1, ...; padding, where a padding mask says
 * so, may hold anything in range), for rotary attention depends on position differences
 * only, so a row shifted by its left padding attends exactly as the default. With a
 * segments mask the rule holds within each document: a token never attends another
 * document, so each may restart its positions (packed sequences). (Across the calls of one
 * cache a row's shift must stay the same; that is the caller's part.)
 */
function checkPositions(
  inputs: ModelInputs,
  offset: number,
  rope: boolean,
  blockSize: number,
  where: string,
): void {
  const { ids, positions } = inputs;
  if (positions === undefined) return;
  const [B, T] = ids.shape as [number, number];
  if (
    positions.dtype !== 'int32' ||
    positions.ndim !== 2 ||
    positions.shape[0] !== B ||
    positions.shape[1] !== T
  ) {
    throw new ShapeError('positions must be (B, T) int32 like ids', {
      where: `${where}: positions`,
      expected: `(${B}, ${T}) int32`,
      actual: `(${positions.shape.join(', ')}) ${positions.dtype}`,
    });
  }
  const at = (t: Tensor, b: number, j: number): number =>
    t.values()[t.offset + b * t.strides[0]! + j * t.strides[1]!]!;
  const mask = inputs.attentionMask;
  // The padding mask covers every key so far (cached + new): new token t is key offset + t.
  const isToken = (b: number, t: number): boolean =>
    mask?.kind !== 'padding' || mask.keys.shape[1] !== offset + T || at(mask.keys, b, offset + t) !== 0;
  // A new document (segments mask) may start its positions anew: new token t is key offset + t.
  const newDocument = (b: number, t: number): boolean =>
    mask?.kind === 'segments' &&
    t > 0 &&
    at(mask.segments, b, offset + t) !== at(mask.segments, b, offset + t - 1);
  for (let b = 0; b < B; b++) {
    let shift: number | null = null;
    for (let t = 0; t < T; t++) {
      if (newDocument(b, t)) shift = null;
      const p = at(positions, b, t);
      if (!(p >= 0 && p < blockSize)) {
        throw new ConfigError('position out of range', {
          where: `${where}: positions[${b}, ${t}]`,
          expected: `0 <= position < ${blockSize} (blockSize)`,
          actual: p,
        });
      }
      if (!rope || !isToken(b, t)) continue;
      shift ??= p - t;
      if (p !== shift + t) {
        throw new ConfigError('with rotary positions, each row of positions must be consecutive', {
          where: `${where}: positions[${b}, ${t}]`,
          expected: shift + t,
          actual: p,
          hint: 'RoPE depends on position differences; per-row shifts (left padding) are supported, gaps are not',
        });
      }
    }
  }
}
