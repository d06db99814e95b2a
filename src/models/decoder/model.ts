/**
 * DecoderLM: the decoder-only causal LM of the GPT-2, Llama, Mistral and Qwen presets, driven by
 * DecoderConfig and implementing the model contract (../model.ts). It reads top to bottom
 * as nanoGPT's model.py: token (+ position) embeddings, the pre-norm blocks
 * (../blocks/transformer-block.ts with ./block-spec.ts), a final norm and a head (the lm_head Linear, or the token
 * embedding when tied).
 *
 * Parameter paths equal the Hugging Face checkpoint keys of the config's `arch`
 * (GPT2LMHeadModel: transformer.h.3.attn.c_attn.weight; LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM: model.layers.3.self_attn.q_proj.weight; Qwen3ForCausalLM adds
 * model.layers.3.self_attn.q_norm.weight), so a saved model is an HF model folder.
 *
 * Legend: B batch, T time, C channels (nEmbd), V vocab, nH heads, nKV kv-heads, hs head size.
 */
import {
  type Tensor,
  Rng,
  add,
  dropout,
  embedding,
  isTensor,
  matmulTransposed,
  narrow,
} from '../../tensor/index.js';
import {
  Module,
  Linear,
  KVCache,
  RotaryEmbedding,
  ropeInverseFrequencies,
  sinusoidalTable,
  positionRows,
  type AttentionMask,
  type Projection,
} from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import { weightInit, type BuildInit } from '../blocks/transformer-block.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import type { ModelInit } from '../family.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';
import { DecoderBody } from './body.js';

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

  constructor(config: DecoderConfig, options: DecoderOptions = {}) {
    super();
    this.config = config;
    const build: BuildInit =
      options.init === 'empty'
        ? { init: 'empty' }
        : { init: 'random', rng: options.rng ?? new Rng(options.seed ?? 0) };
    this.addChild(archNames[config.arch].body, new DecoderBody(config, build));
    if (!config.tiedEmbeddings) {
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

  /** The untied output head (C -> V); null when the head is the token embedding. */
  get lmHead(): Projection | null {
    return this.config.tiedEmbeddings ? null : this.child<Projection>('lm_head');
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
    const cache = this.#cacheOf(inputs.cache, B);
    const offset = cache?.length ?? 0;
    this.#checkInputs(inputs, offset);
    const training = outputs.mode === undefined ? this.training : outputs.mode === 'train';
    const drop = this.#dropper(training, outputs.rng);
    const p = this.config.dropout;
    // #dropper has checked that training with dropout comes with an rng.
    const attentionDropout = training && p > 0 ? { p, rng: outputs.rng! } : null;
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
    const mask = maskOf(inputs.attentionMask);
    const stack = body.blocks.run(
      x,
      { offset, rope: this.#rope, cache, drop, attentionDropout, ...(mask === null ? {} : { mask }) },
      outputs,
    );
    x = body.finalNorm.forward(stack.output); // (B, T, C)
    const hiddenStates = stack.hiddenStates === null ? null : [...stack.hiddenStates, x];
    const attentions = stack.attentions;
    cache?.advance(T);
    const logits = outputs.logits ?? 'all';
    return {
      logits: logits === 'none' ? null : this.#head(logits === 'last' ? narrow(x, 1, T - 1, 1) : x),
      ...(hiddenStates === null ? {} : { hiddenStates }),
      ...(attentions === null ? {} : { attentions }),
    };
  }

  /** x (B, T', C) -> logits (B, T', V): the lm_head layer, or the token embedding when tied. */
  #head(x: Tensor): Tensor {
    const head = this.lmHead;
    return head === null ? matmulTransposed(x, this.body.embed.weight) : head.forward(x); // (B, T', V)
  }

  /** The cache as this model's KV cache, checked against the input. */
  #cacheOf(cache: ModelCache | undefined, B: number): KVCache | null {
    if (cache === undefined) return null;
    if (!(cache instanceof KVCache)) {
      throw new ConfigError('the cache was not created by this model', {
        where: 'DecoderLM.forward',
        expected: 'a cache from model.createCache()',
        actual: cache.constructor.name,
      });
    }
    if (cache.shape.batch !== B || cache.shape.nLayer !== this.config.nLayer) {
      throw new ShapeError('cache does not match the input', {
        where: 'DecoderLM.forward',
        expected: `batch ${B}, ${this.config.nLayer} layers`,
        actual: `batch ${cache.shape.batch}, ${cache.shape.nLayer} layers`,
      });
    }
    return cache;
  }

  /** Rejects inputs this model cannot take, before any work. */
  #checkInputs(inputs: ModelInputs, offset: number): void {
    const where = 'DecoderLM.forward';
    if (inputs.encoderOutput !== undefined) {
      throw new ConfigError('a decoder-only model has no cross-attention', {
        where: `${where}: encoderOutput`,
        hint: 'encoderOutput is for encoder-decoder families',
      });
    }
    checkPositions(inputs, offset, this.#rope !== null, this.config.blockSize, where);
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

  #dropper(training: boolean, rng: Rng | undefined): (x: Tensor) => Tensor {
    const p = this.config.dropout;
    if (p === 0 || !training) return (x) => x;
    if (rng === undefined) {
      throw new ConfigError('training with dropout needs an rng', {
        where: 'DecoderLM.forward',
        expected: 'options.rng',
        actual: `dropout ${p}, no rng`,
        hint: "pass { rng } to forward(), or run in eval mode (model.eval(), or mode: 'eval')",
      });
    }
    return (x) => dropout(x, p, rng, true);
  }

  override dispose(): void {
    super.dispose();
    this.#sinusoidal?.dispose();
    this.#rope?.dispose();
  }
}

/** The contract's attention mask as the attention layers' mask kind, with the causal rule kept. */
function maskOf(input: ModelInputs['attentionMask']): AttentionMask | null {
  if (input === undefined) return null;
  switch (input.kind) {
    case 'padding':
      return { kind: 'padding', keys: input.keys, causal: true };
    case 'additive':
      return { kind: 'additive', mask: input.mask, causal: true };
  }
}

/**
 * Checks `positions` (B, T) int32 against ids and the context: each in [0, blockSize), and
 * with RoPE each row's tokens consecutive (p, p + 1, ...; padding, where a padding mask says
 * so, may hold anything in range), for rotary attention depends on position differences
 * only, so a row shifted by its left padding attends exactly as the default. (Across the
 * calls of one cache a row's shift must stay the same; that is the caller's part.)
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
  for (let b = 0; b < B; b++) {
    let shift: number | null = null;
    for (let t = 0; t < T; t++) {
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
