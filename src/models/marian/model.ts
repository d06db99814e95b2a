/**
 * MarianMTModel: the encoder-decoder transformer of "Attention Is All You Need" (Vaswani et
 * al., 2017) as Hugging Face's MarianMTModel lays it out, implementing the model contract
 * (../model.ts) as an EncoderDecoderModel. It reads top to bottom as HF's modeling_marian.py:
 *
 *   encoder:  x = embed_tokens(src) * sqrt(C) + sinusoid[0..S)      (B, S, C), dropout
 *             bidirectional blocks with the source padding mask       (B, S, C)
 *   decoder:  y = embed_tokens(tgt) * sqrt(C) + sinusoid[t0..t0+T)   (B, T, C), dropout
 *             causal blocks, each cross-attending the encoder output  (B, T, C)
 *   head:     logits = y lm_head^T + final_logits_bias                 (B, T, V)
 *
 * (the sqrt(C) only with scale_embedding; a pre-norm model ends each stack in a LayerNorm).
 * The blocks are the shared TransformerBlock (./block-spec.ts). The token embeddings are
 * one table `model.shared` when shared (the encoder's and decoder's embed_tokens are the same
 * module, the head its transpose when tied); the pad id is their padding row (zero at init,
 * never trained by lookups, as nn.Embedding(padding_idx)). The sinusoid is Marian's (sines
 * in the first half, cosines in the second; nn/layers/positional.ts), computed here and not
 * saved, as HF does not save it; learned positions are `embed_positions` parameters.
 * `final_logits_bias` (1, V) is a persistent buffer: saved, loaded when a checkpoint has it
 * (HF's Helsinki-NLP models keep Marian's output bias there), never trained.
 *
 * Decoding: `encode()` once per source, then forward() per step with the cache and the
 * encoder output; each layer's cross-attention keys and values are projected on the first
 * step and read from the cache after (KVCache.setCross), and the self-attention keys and
 * values grow in the cache as for decoders.
 *
 * Legend: B batch, S source positions, T target positions, C channels (d_model), V vocab,
 * nH heads, L layers.
 */
import {
  Rng,
  type Tensor,
  add,
  embedding,
  isTensor,
  matmulTransposed,
  mul,
  narrow,
  zeros,
} from '../../tensor/index.js';
import {
  Module,
  Embedding,
  Linear,
  KVCache,
  sinusoidalTable,
  positionRows,
  type AttentionDropout,
  type AttentionMask,
  type Projection,
} from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import { BlockStack } from '../blocks/block-stack.js';
import { makeNorm, weightInit, type BuildInit, type Norm } from '../blocks/transformer-block.js';
import {
  callAttentionDropout,
  callDropout,
  isTraining,
  kvCacheOf,
  layerMaskOf,
} from '../blocks/forward-context.js';
import type { ModelInit } from '../family.js';
import type {
  EncoderDecoderModel,
  EncoderOutput,
  ForwardMode,
  LogitsOptions,
  ModeOptions,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import type { MarianConfig } from './config.js';
import { marianBlockSpec, marianNormSpec, type MarianSide } from './block-spec.js';

export interface MarianOptions {
  /** 'empty' builds zero weights without drawing them, for a model about to be loaded (default 'random'). */
  readonly init?: ModelInit;
  /** Seed of the initialisation (default 0); ignored when `rng` is given. */
  readonly seed?: number;
  readonly rng?: Rng;
}

/** The dropout closures of one call. */
interface Dropouts {
  readonly drop: (x: Tensor) => Tensor;
  readonly activationDrop: (x: Tensor) => Tensor;
  readonly attentionDropout: AttentionDropout;
}

/** The encoder side a decoder call cross-attends: hidden states (null once cached) and source padding. */
interface CrossSource {
  readonly hiddenStates: Tensor | null;
  readonly keys: Tensor | undefined;
  readonly batch: number;
  /** The encoder's self-attention (B, nH, S, S) per layer, when this call encoded with outputs.attentions. */
  readonly attentions: Tensor[] | null;
}

/** An (B, n) int32 tensor check: the message names `what` and the expected shape. */
function checkIds(t: Tensor, what: string, where: string, batch?: number): [number, number] {
  if (t.dtype !== 'int32' || t.ndim !== 2 || (batch !== undefined && t.shape[0] !== batch)) {
    throw new DTypeError(`${what} must be a (B, n) int32 tensor`, {
      where: `${where}: ${what}`,
      expected: `(${batch ?? 'B'}, n) int32`,
      actual: `(${t.shape.join(', ')}) ${t.dtype}`,
    });
  }
  return t.shape as [number, number];
}

/**
 * One side of the model: HF's MarianEncoder / MarianDecoder (`embed_tokens`, learned
 * `embed_positions`, `layers`, and a pre-norm stack's `layer_norm`).
 */
export class MarianStack extends Module {
  readonly side: MarianSide;
  readonly #config: MarianConfig;

  constructor(config: MarianConfig, side: MarianSide, embedTokens: Embedding, build: BuildInit) {
    super();
    this.side = side;
    this.#config = config;
    this.addChild('embed_tokens', embedTokens);
    if (config.positions === 'learned') {
      const init = weightInit(build, config.initStd);
      this.addChild('embed_positions', new Embedding(config.maxPositions, config.dModel, init));
    }
    const layers = side === 'encoder' ? config.encoderLayers : config.decoderLayers;
    this.addChild('layers', BlockStack.of(marianBlockSpec(config, side), layers, build));
    if (config.normPlacement === 'pre')
      this.addChild('layer_norm', makeNorm(marianNormSpec, config.dModel, build));
  }

  get embedTokens(): Embedding {
    return this.child<Embedding>('embed_tokens');
  }

  /** Learned positions (P, C); null with the sinusoid. */
  get embedPositions(): Embedding | null {
    return this.#config.positions === 'learned' ? this.child<Embedding>('embed_positions') : null;
  }

  get layers(): BlockStack {
    return this.child<BlockStack>('layers');
  }

  /** The final norm of a pre-norm stack; null for post-norm. */
  get layerNorm(): Norm | null {
    return this.#config.normPlacement === 'pre' ? this.child<Norm>('layer_norm') : null;
  }

  /**
   * ids (B, T) -> embed_tokens(ids) * scale + positions (B, T, C): positions [offset,
   * offset + T) of `table` (the sinusoid, or the learned one), or the rows `positions` names.
   */
  embed(
    ids: Tensor,
    offset: number,
    positions: Tensor | undefined,
    sinusoid: Tensor | null,
    where: string,
  ): Tensor {
    const config = this.#config;
    let x = this.embedTokens.forward(ids); // (B, T, C)
    if (config.scaleEmbedding) x = mul(x, Math.sqrt(config.dModel)); // (B, T, C)
    const table = this.embedPositions?.weight ?? sinusoid!;
    const T = ids.shape[1]!;
    const rows =
      positions === undefined ? positionRows(table, offset, T, where) : embedding(table, positions); // (T, C) or (B, T, C)
    return add(x, rows); // (B, T, C)
  }
}

/**
 * The Marian encoder-decoder (HF MarianMTModel); see the file header.
 *
 * @example
 * const model = new MarianMTModel(marianPreset({ vocabSize: 60, dModel: 32, maxPositions: 32 }), { seed: 1 });
 * const logits = model.forward({ ids: decoderInputIds, sourceIds, sourceMask }).logits; // (B, T, 60)
 *
 * // translation, one encoder pass and a cached decoder
 * const encoderOutput = noGrad(() => model.encode(sourceIds, { sourceMask, mode: 'eval' }));
 * const cache = model.createCache(B);
 * noGrad(() => model.forward({ ids: start, cache, encoderOutput }, { logits: 'last', mode: 'eval' })); // (B, 1, V)
 */
export class MarianMTModel extends Module implements EncoderDecoderModel<MarianConfig> {
  readonly kind = 'encoder-decoder';
  readonly family = 'marian';
  readonly config: MarianConfig;
  /** Marian's (P, C) sinusoid, shared by both stacks; null with learned positions. */
  readonly #sinusoid: Tensor | null;
  readonly #finalLogitsBias: Tensor;

  constructor(config: MarianConfig, options: MarianOptions = {}) {
    super();
    this.config = config;
    const build: BuildInit =
      options.init === 'empty'
        ? { init: 'empty' }
        : { init: 'random', rng: options.rng ?? new Rng(options.seed ?? 0) };
    const { vocabSize, decoderVocabSize, dModel: C, padTokenId } = config;
    // HF: nn.Embedding(V, C, padding_idx=pad), N(0, init_std^2) with the pad row zeroed.
    const embeddingOf = (rows: number): Embedding =>
      new Embedding(rows, C, { ...weightInit(build, config.initStd), paddingIdx: padTokenId });
    // Construction order is the order the random init draws: shared, encoder, decoder, head.
    const shared = config.shareEmbeddings ? this.addChild('model.shared', embeddingOf(vocabSize)) : null;
    this.addChild(
      'model.encoder',
      new MarianStack(config, 'encoder', shared ?? embeddingOf(vocabSize), build),
    );
    this.addChild(
      'model.decoder',
      new MarianStack(config, 'decoder', shared ?? embeddingOf(decoderVocabSize), build),
    );
    this.#finalLogitsBias = this.addBuffer('final_logits_bias', zeros([1, decoderVocabSize]));
    if (!config.tieWordEmbeddings) {
      this.addChild(
        'lm_head',
        new Linear(C, decoderVocabSize, { bias: false, ...weightInit(build, config.initStd) }),
      );
    }
    this.#sinusoid =
      config.positions === 'sinusoidal' ? sinusoidalTable(config.maxPositions, C, 'halves') : null;
  }

  get encoder(): MarianStack {
    return this.child<MarianStack>('model.encoder');
  }

  get decoder(): MarianStack {
    return this.child<MarianStack>('model.decoder');
  }

  /** The shared source/target embedding; null when the two sides have their own. */
  get shared(): Embedding | null {
    return this.config.shareEmbeddings ? this.child<Embedding>('model.shared') : null;
  }

  /** The untied output head (C -> V); null when the head is the decoder's token embedding. */
  get lmHead(): Projection | null {
    return this.config.tieWordEmbeddings ? null : this.child<Projection>('lm_head');
  }

  /** (1, V), added to every row of logits. */
  get finalLogitsBias(): Tensor {
    return this.#finalLogitsBias;
  }

  /** The target (output) vocabulary. */
  get vocabSize(): number {
    return this.config.decoderVocabSize;
  }

  get sourceVocabSize(): number {
    return this.config.vocabSize;
  }

  get maxPositions(): number {
    return this.config.maxPositions;
  }

  get decoderStartTokenId(): number {
    return this.config.decoderStartTokenId;
  }

  get padTokenId(): number {
    return this.config.padTokenId;
  }

  get eosTokenId(): number {
    return this.config.eosTokenId;
  }

  get forcedEosTokenId(): number | null {
    return this.config.forcedEosTokenId;
  }

  /** The dropout closures of one call; training with any rate > 0 needs an rng. */
  #dropouts(mode: ForwardMode | undefined, rng: Rng | undefined, where: string): Dropouts {
    const training = isTraining(mode, this.training);
    const { dropout, attentionDropout, activationDropout } = this.config;
    return {
      drop: callDropout(dropout, training, rng, where),
      activationDrop: callDropout(activationDropout, training, rng, where),
      attentionDropout: callAttentionDropout(attentionDropout, training, rng, where),
    };
  }

  /**
   * sourceIds (B, S) int32 -> the encoder output (hiddenStates (B, S, C), keys = sourceMask).
   * `sourceMask` (B, S) 1/0 marks the tokens (HF attention_mask); absent: every position.
   */
  encode(sourceIds: Tensor, options: ModeOptions & { readonly sourceMask?: Tensor } = {}): EncoderOutput {
    return this.#encode(sourceIds, options, false).encoded;
  }

  /** encode(), and with `attentions` the encoder's self-attention probabilities (B, nH, S, S) per layer. */
  #encode(
    sourceIds: Tensor,
    options: ModeOptions & { readonly sourceMask?: Tensor },
    attentions: boolean,
  ): { encoded: EncoderOutput; attentions: Tensor[] | null } {
    const where = 'MarianMTModel.encode';
    const [B, S] = checkIds(sourceIds, 'sourceIds', where);
    const sourceMask = options.sourceMask;
    if (sourceMask !== undefined && checkIds(sourceMask, 'sourceMask', where, B)[1] !== S) {
      throw new ShapeError('sourceMask must have one entry per source id', {
        where: `${where}: sourceMask`,
        expected: `(${B}, ${S})`,
        actual: `(${sourceMask.shape.join(', ')})`,
      });
    }
    const { drop, activationDrop, attentionDropout } = this.#dropouts(options.mode, options.rng, where);
    const encoder = this.encoder;
    const x = drop(encoder.embed(sourceIds, 0, undefined, this.#sinusoid, where)); // (B, S, C)
    const mask: AttentionMask | undefined =
      sourceMask === undefined ? undefined : { kind: 'padding', keys: sourceMask, causal: false };
    const context = { offset: 0, rope: null, cache: null, drop, activationDrop, attentionDropout };
    const stack = encoder.layers.run(x, mask === undefined ? context : { ...context, mask }, { attentions });
    const h = encoder.layerNorm?.forward(stack.output) ?? stack.output; // (B, S, C)
    return {
      encoded: sourceMask === undefined ? { hiddenStates: h } : { hiddenStates: h, keys: sourceMask },
      attentions: stack.attentions,
    };
  }

  /**
   * Decoder ids (B, T) int32 -> logits (B, T, V), with the source as `sourceIds` (+
   * `sourceMask`) or `encoderOutput` in the inputs; with a cache, ids continue the cached
   * positions. The shorthand forward(ids) has no source and is an error.
   */
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(input: Tensor | ModelInputs, options: LogitsOptions | OutputOptions = {}): Tensor | ModelOutputs {
    if (!isTensor(input)) return this.#run(input, options as OutputOptions);
    const { cache, ...outputs } = options as LogitsOptions;
    return this.#run(cache === undefined ? { ids: input } : { ids: input, cache }, outputs).logits!;
  }

  #run(inputs: ModelInputs, outputs: OutputOptions): ModelOutputs {
    const where = 'MarianMTModel.forward';
    const [B, T] = checkIds(inputs.ids, 'ids', where);
    const cache = kvCacheOf(inputs.cache, B, this.config.decoderLayers, where);
    const offset = cache?.length ?? 0;
    const source = this.#crossSource(inputs, cache, outputs, where);
    if (source.batch !== B) {
      throw new ShapeError('the source and the decoder ids have different batch sizes', {
        where,
        expected: `${B} source rows (ids are (${B}, ${T}))`,
        actual: source.batch,
      });
    }
    this.#checkPositions(inputs, where);
    const { drop, activationDrop, attentionDropout } = this.#dropouts(outputs.mode, outputs.rng, where);
    const decoder = this.decoder;
    const x = drop(decoder.embed(inputs.ids, offset, inputs.positions, this.#sinusoid, where)); // (B, T, C)
    const mask = layerMaskOf(inputs.attentionMask, true);
    const crossMask: AttentionMask | undefined =
      source.keys === undefined ? undefined : { kind: 'padding', keys: source.keys, causal: false };
    const stack = decoder.layers.run(
      x,
      {
        offset,
        rope: null,
        cache,
        drop,
        activationDrop,
        attentionDropout,
        ...(mask === null ? {} : { mask }),
        cross: {
          encoderOutput: source.hiddenStates,
          ...(crossMask === undefined ? {} : { mask: crossMask }),
        },
      },
      outputs,
    );
    const y = decoder.layerNorm?.forward(stack.output) ?? stack.output; // (B, T, C)
    cache?.advance(T);
    const logits = outputs.logits ?? 'all';
    return {
      logits: logits === 'none' ? null : this.#head(logits === 'last' ? narrow(y, 1, T - 1, 1) : y),
      ...(stack.hiddenStates === null ? {} : { hiddenStates: [...stack.hiddenStates, y] }),
      ...(stack.attentions === null ? {} : { attentions: stack.attentions }),
      ...(stack.crossAttentions === null ? {} : { crossAttentions: stack.crossAttentions }),
      ...(source.attentions === null ? {} : { encoderAttentions: source.attentions }),
    };
  }

  /**
   * What the decoder cross-attends: the given encoder output, or the encoding of sourceIds
   * (skipped when the cache holds the cross-attention state already: only the mask is read).
   */
  #crossSource(
    inputs: ModelInputs,
    cache: KVCache | null,
    outputs: OutputOptions,
    where: string,
  ): CrossSource {
    const { encoderOutput, sourceIds, sourceMask } = inputs;
    if (encoderOutput !== undefined && (sourceIds !== undefined || sourceMask !== undefined)) {
      throw new ConfigError('give the source once: encoderOutput or sourceIds, not both', {
        where: `${where}: sourceIds`,
        hint: 'encoderOutput is the cached encoding of sourceIds',
      });
    }
    if (encoderOutput !== undefined) {
      const h = encoderOutput.hiddenStates;
      if (h.ndim !== 3 || h.shape[2] !== this.config.dModel) {
        throw new ShapeError('encoderOutput.hiddenStates must be (B, S, d_model)', {
          where: `${where}: encoderOutput.hiddenStates`,
          expected: `(B, S, ${this.config.dModel})`,
          actual: `(${h.shape.join(', ')})`,
        });
      }
      const keys = encoderOutput.keys;
      if (keys !== undefined && checkIds(keys, 'encoderOutput.keys', where, h.shape[0])[1] !== h.shape[1]) {
        throw new ShapeError('encoderOutput.keys must have one entry per encoder position', {
          where: `${where}: encoderOutput.keys`,
          expected: `(${h.shape[0]}, ${h.shape[1]})`,
          actual: `(${keys.shape.join(', ')})`,
        });
      }
      return { hiddenStates: h, keys, batch: h.shape[0]!, attentions: null };
    }
    if (sourceIds === undefined) {
      if (sourceMask !== undefined) {
        throw new ConfigError('sourceMask without sourceIds', { where: `${where}: sourceMask` });
      }
      throw new ConfigError('an encoder-decoder model needs the source', {
        where,
        expected: 'inputs.sourceIds (+ sourceMask), or inputs.encoderOutput from model.encode()',
        actual: 'decoder ids only',
      });
    }
    const [batch] = checkIds(sourceIds, 'sourceIds', where);
    if (cache !== null && cache.cross(0) !== null) {
      if (sourceMask !== undefined) checkIds(sourceMask, 'sourceMask', where, batch);
      return { hiddenStates: null, keys: sourceMask, batch, attentions: null };
    }
    const { encoded, attentions } = this.#encode(
      sourceIds,
      {
        ...(sourceMask === undefined ? {} : { sourceMask }),
        ...(outputs.mode === undefined ? {} : { mode: outputs.mode }),
        ...(outputs.rng === undefined ? {} : { rng: outputs.rng }),
      },
      outputs.attentions === true,
    );
    return { hiddenStates: encoded.hiddenStates, keys: encoded.keys, batch, attentions };
  }

  /** positions (B, T) int32 like ids, each in [0, maxPositions). */
  #checkPositions(inputs: ModelInputs, where: string): void {
    const positions = inputs.positions;
    if (positions === undefined) return;
    const [B, T] = inputs.ids.shape as [number, number];
    if (checkIds(positions, 'positions', where, B)[1] !== T) {
      throw new ShapeError('positions must be (B, T) like ids', {
        where: `${where}: positions`,
        expected: `(${B}, ${T})`,
        actual: `(${positions.shape.join(', ')})`,
      });
    }
    const values = positions.toArray();
    const bad = values.findIndex((p) => !(p >= 0 && p < this.config.maxPositions));
    if (bad >= 0) {
      throw new ConfigError('position out of range', {
        where: `${where}: positions (flat index ${bad})`,
        expected: `0 <= position < ${this.config.maxPositions} (max_position_embeddings)`,
        actual: values[bad],
      });
    }
  }

  /** y (B, T', C) -> logits (B, T', V): lm_head (or the decoder's embedding, tied) + final_logits_bias. */
  #head(y: Tensor): Tensor {
    const head = this.lmHead;
    const logits = head === null ? matmulTransposed(y, this.decoder.embedTokens.weight) : head.forward(y); // (B, T', V)
    return add(logits, this.#finalLogitsBias); // (B, T', V) + (1, V)
  }

  /**
   * A KV cache for `batch` decoder rows of up to `maxT` target positions (default
   * maxPositions), with room for each layer's cross-attention keys and values.
   */
  createCache(batch: number, maxT: number = this.config.maxPositions): KVCache {
    const P = this.config.maxPositions;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(maxT) || maxT < 1 || maxT > P) {
      throw new ConfigError('cache size out of range', {
        where: 'MarianMTModel.createCache',
        expected: `batch >= 1, 1 <= maxT <= ${P} (max_position_embeddings)`,
        actual: `batch ${batch}, maxT ${maxT}`,
      });
    }
    const { decoderLayers: nLayer, decoderHeads: nKvHead, dModel } = this.config;
    return new KVCache({ nLayer, batch, nKvHead, maxT, headSize: dModel / nKvHead });
  }

  override dispose(): void {
    super.dispose();
    this.#sinusoid?.dispose();
  }
}
