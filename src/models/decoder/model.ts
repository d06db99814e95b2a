/**
 * DecoderLM: the decoder-only transformer family (GPT-2, Llama) driven by DecoderConfig.
 * Pre-norm blocks x += attn(norm1(x)); x += mlp(norm2(x)), a final norm and a linear
 * head (tied to the token embedding or not), read top to bottom as in nanoGPT's model.py.
 *
 * Parameter paths equal the Hugging Face checkpoint keys of the config's `arch`
 * (GPT2LMHeadModel: transformer.h.3.attn.c_attn.weight; LlamaForCausalLM:
 * model.layers.3.self_attn.q_proj.weight), so a saved model is an HF model folder.
 *
 * Legend: B batch, T time, C channels (nEmbd), V vocab, nH heads, nKV kv-heads, hs head size.
 */
import {
  type Tensor,
  Rng,
  add,
  dropout,
  isGradEnabled,
  isTensor,
  matmul,
  narrow,
  scope,
  transpose,
} from '../../tensor/index.js';
import { Module, Linear, KVCache, RotaryEmbedding, sinusoidalTable, positionRows } from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import { DecoderBody } from '../blocks/decoder-body.js';
import type { BlockContext } from '../blocks/decoder-block.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';

export interface DecoderOptions {
  /** 'empty' builds zero weights without drawing them, for a model about to be loaded (default 'random'). */
  readonly init?: 'random' | 'empty';
  /** Seed of the initialisation (default 0); ignored when `rng` is given. */
  readonly seed?: number;
  readonly rng?: Rng;
}

/** The options of the tensor-in, logits-out call `forward(ids, options)`. */
export type ForwardOptions = LogitsOptions;

/**
 * An Rng whose normals are all zero: init 'empty' builds the modules without drawing
 * their random initialisation (1.2 s for stories15M's 24M parameters, more than reading
 * them). Weights are 0 and norm scales 1 until loaded.
 */
class NoInitialisation extends Rng {
  constructor() {
    super(0);
  }

  override normal(): number {
    return 0;
  }
}

/**
 * The decoder's KV cache as the contract's ModelCache. truncate keeps the buffers and
 * moves the length back; reorder and cross-attention state need the nn cache's
 * row copies, which are not merged yet.
 */
class DecoderCache extends KVCache implements ModelCache {
  truncate(length: number): void {
    if (!(Number.isInteger(length) && length >= 0 && length <= this.length)) {
      throw new ConfigError('truncate length out of range', {
        where: 'ModelCache.truncate',
        expected: `an integer in [0, ${this.length}]`,
        actual: length,
      });
    }
    this.reset();
    this.advance(length);
  }

  reorder(_batchIndices: readonly number[]): void {
    throw new ConfigError('not supported yet', { where: 'ModelCache.reorder' });
  }

  setCross(_layer: number, _k: Tensor, _v: Tensor): void {
    throw new ConfigError('a decoder-only model has no cross-attention', { where: 'ModelCache.setCross' });
  }

  cross(_layer: number): null {
    return null;
  }
}

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
  readonly body: DecoderBody;
  /** Untied output head (V, C); null when tied to the token embedding. */
  readonly lmHead: Linear | null;
  readonly #sinusoidal: Tensor | null;
  readonly #rope: RotaryEmbedding | null;

  constructor(config: DecoderConfig, options: DecoderOptions = {}) {
    super();
    this.config = config;
    const rng =
      options.init === 'empty' ? new NoInitialisation() : (options.rng ?? new Rng(options.seed ?? 0));
    this.body = this.addChild(archNames[config.arch].body, new DecoderBody(config, rng));
    this.lmHead = config.tiedEmbeddings
      ? null
      : this.addChild(
          'lm_head',
          new Linear(config.nEmbd, config.vocabSize, { bias: false, std: config.initStd, rng }),
        );
    const positional = config.positional;
    this.#sinusoidal =
      positional.kind === 'sinusoidal' ? sinusoidalTable(config.blockSize, config.nEmbd) : null;
    this.#rope =
      positional.kind === 'rope'
        ? new RotaryEmbedding(config.headSize, config.blockSize, positional.theta)
        : null;
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
    this.#checkUnsupported(inputs, outputs, offset);
    const training = outputs.mode === undefined ? this.training : outputs.mode === 'train';
    const drop = this.#dropper(training, outputs.rng);
    const p = this.config.dropout;
    // #dropper has checked that training with dropout comes with an rng.
    const attentionDropout = training && p > 0 ? { p, rng: outputs.rng! } : null;
    const body = this.body;

    let x = body.embed.forward(ids); // (B, T, C)
    const table = body.positions?.weight ?? this.#sinusoidal;
    if (table !== null) x = add(x, positionRows(table, offset, T, where)); // (B, T, C)
    x = drop(x);
    const hiddenStates: Tensor[] | null = outputs.hiddenStates === true ? [] : null;
    // Without autograd nothing needs the intermediates: free each block's as it finishes.
    const freeEarly = !isGradEnabled();
    body.blocks.items.forEach((block, layer) => {
      hiddenStates?.push(x);
      const context: BlockContext = { offset, rope: this.#rope, cache, layer, drop, attentionDropout };
      const input = x;
      x = freeEarly ? scope(() => block.forward(input, context)) : block.forward(input, context); // (B, T, C)
    });
    x = body.finalNorm.forward(x); // (B, T, C)
    hiddenStates?.push(x);
    cache?.advance(T);
    const logits = outputs.logits ?? 'all';
    return {
      logits: logits === 'none' ? null : this.#head(logits === 'last' ? narrow(x, 1, T - 1, 1) : x),
      ...(hiddenStates === null ? {} : { hiddenStates }),
    };
  }

  /** x (B, T', C) -> logits (B, T', V) through the head (the token embedding when tied). */
  #head(x: Tensor): Tensor {
    const head = this.lmHead?.weight ?? this.body.embed.weight; // (V, C)
    return matmul(x, transpose(head)); // (B, T', V)
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

  /** Rejects inputs and outputs this model cannot honour yet, before any work. */
  #checkUnsupported(inputs: ModelInputs, outputs: OutputOptions, offset: number): void {
    const where = 'DecoderLM.forward';
    if (inputs.encoderOutput !== undefined) {
      throw new ConfigError('a decoder-only model has no cross-attention', {
        where: `${where}: encoderOutput`,
        hint: 'encoderOutput is for encoder-decoder families',
      });
    }
    if (inputs.attentionMask !== undefined) {
      throw new ConfigError('not supported yet', { where: `${where}: attentionMask` });
    }
    if (outputs.attentions === true) {
      throw new ConfigError('not supported yet', { where: `${where}: attentions` });
    }
    if (inputs.positions !== undefined) checkDefaultPositions(inputs.positions, inputs.ids, offset, where);
  }

  /** A KV cache for `batch` sequences of up to `maxT` positions (default blockSize). */
  createCache(batch: number, maxT: number = this.config.blockSize): DecoderCache {
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
    return new DecoderCache({ nLayer, batch, nKvHead, maxT, headSize });
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

/**
 * Positions other than the default (offset + 0..T-1 in every row) need per-row rotary and
 * position-table lookups, which the layers do not have yet: rejected, naming the first row.
 */
function checkDefaultPositions(positions: Tensor, ids: Tensor, offset: number, where: string): void {
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
  const values = positions.values();
  const [strideB, strideT] = positions.strides as [number, number];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      if (values[positions.offset + b * strideB + t * strideT] !== offset + t) {
        throw new ConfigError('per-row positions are not supported yet', {
          where: `${where}: positions[${b}]`,
          expected: `${offset}..${offset + T - 1} (the cache length onwards)`,
          actual: `${values[positions.offset + b * strideB + t * strideT]} at index ${t}`,
        });
      }
    }
  }
}
