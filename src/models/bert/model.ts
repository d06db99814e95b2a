/**
 * BERT (Devlin et al., 2018) as Hugging Face's modeling_bert.py lays it out, on the shared
 * TransformerBlock (../blocks/) with BERT's names (./block-spec.ts):
 *
 *   BertEmbeddings  x = LayerNorm(word[ids] + position[0..T) + token_type[types]), dropout
 *   encoder         the post-norm blocks, bidirectional, keys masked by attention_mask
 *                   (pre-norm selectable, then a final LayerNorm)
 *   pooler          tanh(dense(x[:, 0])), the [CLS] summary (the heads that read it)
 *   head            masked-LM (cls.predictions, tied to the word embeddings), sequence
 *                   classification on the pooled output, token classification on every
 *                   position, or none (BertModel)
 *
 * BertBody is HF's BertModel (the `bert.` prefix of every head class); BertModel here is
 * the whole model the config names, implementing the model contract (../model.ts).
 * Parameter paths equal the HF checkpoint keys (`bert.encoder.layer.3.attention.self.query.weight`).
 *
 * Legend: B batch, T time, C channels (hidden_size), V vocab, L labels, nH heads.
 */
import { type Tensor, Rng, add, embedding, isTensor, narrow, tanh } from '../../tensor/index.js';
import {
  Module,
  Embedding,
  LayerNorm,
  Linear,
  positionRows,
  type AttentionDropout,
  type AttentionMask,
} from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import { BlockStack } from '../blocks/block-stack.js';
import { callAttentionDropout, callDropout } from '../blocks/forward-context.js';
import { weightInit, type BuildInit } from '../blocks/transformer-block.js';
import { ClassificationHead, firstToken, selectPositions } from '../heads/classification-head.js';
import { MaskedLmHead } from '../heads/masked-lm-head.js';
import type { ModelInit } from '../family.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelHead,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import { headHasPooler, type BertConfig } from './config.js';
import { bertBlockSpec } from './block-spec.js';

/** HF's BertEmbeddings: word + absolute position + token type, then LayerNorm. */
export class BertEmbeddings extends Module {
  constructor(config: BertConfig, build: BuildInit) {
    super();
    const { vocabSize, nEmbd: C, maxPositions, typeVocabSize, normEps } = config;
    const init = weightInit(build, config.initStd);
    this.addChild('word_embeddings', new Embedding(vocabSize, C, init));
    this.addChild('position_embeddings', new Embedding(maxPositions, C, init));
    this.addChild('token_type_embeddings', new Embedding(typeVocabSize, C, init));
    this.addChild('LayerNorm', new LayerNorm(C, { bias: true, eps: normEps, init: build.init }));
    // HF's padding_idx: the pad row starts at zero (BertPreTrainedModel._init_weights).
    if (build.init === 'random' && config.padTokenId !== null) {
      this.word.weight.floats().fill(0, config.padTokenId * C, (config.padTokenId + 1) * C);
    }
  }

  get word(): Embedding {
    return this.child<Embedding>('word_embeddings');
  }

  get position(): Embedding {
    return this.child<Embedding>('position_embeddings');
  }

  get tokenType(): Embedding {
    return this.child<Embedding>('token_type_embeddings');
  }

  get norm(): LayerNorm {
    return this.child<LayerNorm>('LayerNorm');
  }

  /** ids (B, T), positions and token types (B, T) or null (0..T-1, all 0) -> (B, T, C). */
  forward(ids: Tensor, positions: Tensor | null, tokenTypes: Tensor | null): Tensor {
    const T = ids.shape[1]!;
    const table = this.position.weight;
    const position =
      positions === null ? positionRows(table, 0, T, 'BertEmbeddings') : embedding(table, positions); // (T, C) or (B, T, C)
    const types = this.tokenType.weight;
    const tokenType = tokenTypes === null ? narrow(types, 0, 0, 1) : embedding(types, tokenTypes); // (1, C) or (B, T, C)
    return this.norm.forward(add(add(this.word.forward(ids), position), tokenType)); // (B, T, C)
  }
}

/** What the body computes for one call. */
export interface BodyResult {
  /** The last encoder state (B, T, C): HF's last_hidden_state. */
  readonly sequence: Tensor;
  /** L + 1 states (B, T, C): the embeddings' output, then every block's output. */
  readonly hiddenStates: readonly Tensor[] | null;
  /** (B, nH, T, T) per layer. */
  readonly attentions: readonly Tensor[] | null;
}

/** HF's BertModel: embeddings, encoder (`encoder.layer`), the pooler when the head reads it. */
export class BertBody extends Module {
  readonly config: BertConfig;

  constructor(config: BertConfig, build: BuildInit) {
    super();
    this.config = config;
    // Construction order is the order the random init draws: embeddings, blocks, pooler.
    this.addChild('embeddings', new BertEmbeddings(config, build));
    this.addChild('encoder.layer', BlockStack.of(bertBlockSpec(config), config.nLayer, build));
    if (config.placement === 'pre') {
      this.addChild(
        'encoder.LayerNorm',
        new LayerNorm(config.nEmbd, { bias: true, eps: config.normEps, init: build.init }),
      );
    }
    if (headHasPooler(config.head)) {
      const init = weightInit(build, config.initStd);
      this.addChild('pooler.dense', new Linear(config.nEmbd, config.nEmbd, { bias: true, ...init }));
    }
  }

  get embeddings(): BertEmbeddings {
    return this.child<BertEmbeddings>('embeddings');
  }

  get layers(): BlockStack {
    return this.child<BlockStack>('encoder.layer');
  }

  /** The final norm of a pre-norm encoder; null for BERT's post-norm. */
  get finalNorm(): LayerNorm | null {
    return this.config.placement === 'pre' ? this.child<LayerNorm>('encoder.LayerNorm') : null;
  }

  get poolerDense(): Linear | null {
    return headHasPooler(this.config.head) ? this.child<Linear>('pooler.dense') : null;
  }

  /**
   * The encoder over checked inputs: `mask` the padding (or additive) mask, non-causal;
   * `drop` the hidden dropout of this call.
   */
  run(
    inputs: { readonly ids: Tensor; readonly positions: Tensor | null; readonly tokenTypes: Tensor | null },
    call: {
      readonly mask: AttentionMask | null;
      readonly drop: (x: Tensor) => Tensor;
      readonly attentionDropout: AttentionDropout;
    },
    outputs: { readonly hiddenStates?: boolean; readonly attentions?: boolean },
  ): BodyResult {
    const { mask, drop, attentionDropout } = call;
    const x = drop(this.embeddings.forward(inputs.ids, inputs.positions, inputs.tokenTypes)); // (B, T, C)
    const context = {
      offset: 0,
      rope: null,
      cache: null,
      drop,
      attentionDropout,
      ...(mask === null ? {} : { mask }),
    };
    const stack = this.layers.run(x, context, outputs);
    const norm = this.finalNorm;
    const sequence = norm === null ? stack.output : norm.forward(stack.output); // (B, T, C)
    // The block inputs are the embeddings' output and blocks 0..L-2's outputs; with the last state, HF's L + 1.
    const hiddenStates = stack.hiddenStates === null ? null : [...stack.hiddenStates, sequence];
    return { sequence, hiddenStates, attentions: stack.attentions };
  }

  /** HF's BertPooler: tanh(dense(sequence[:, 0])) (B, T, C) -> (B, C). */
  pool(sequence: Tensor): Tensor {
    const dense = this.poolerDense;
    if (dense === null) {
      throw new ConfigError('this model has no pooler', {
        where: 'BertBody.pool',
        hint: 'BertForMaskedLM and BertForTokenClassification have none (HF add_pooling_layer=False)',
      });
    }
    return tanh(dense.forward(firstToken(sequence))); // (B, C)
  }
}

export interface BertOptions {
  /** 'empty' builds zero weights without drawing them, for a model about to be loaded (default 'random'). */
  readonly init?: ModelInit;
  /** Seed of the initialisation (default 0); ignored when `rng` is given. */
  readonly seed?: number;
  readonly rng?: Rng;
}

/** The model contract's mask as a non-causal attention mask. */
function maskOf(input: ModelInputs['attentionMask']): AttentionMask | null {
  if (input === undefined) return null;
  switch (input.kind) {
    case 'padding':
      return { kind: 'padding', keys: input.keys, causal: false };
    case 'additive':
      return { kind: 'additive', mask: input.mask, causal: false };
    case 'segments':
      return { kind: 'segments', segments: input.segments, causal: false };
  }
}

/**
 * Checks a (B, T) int32 input of ids into a table of `size` rows (positions, token types):
 * the error names the bad entry and the config field that sizes the table.
 */
function checkIndexInput(
  input: Tensor,
  B: number,
  T: number,
  size: number,
  name: string,
  field: string,
): void {
  const where = `BertModel.forward: ${name}`;
  if (input.dtype !== 'int32' || input.ndim !== 2 || input.shape[0] !== B || input.shape[1] !== T) {
    throw new ShapeError(`${name} must be (B, T) int32 like ids`, {
      where,
      expected: `(${B}, ${T}) int32`,
      actual: `(${input.shape.join(', ')}) ${input.dtype}`,
    });
  }
  const values = input.data; // the storage: offset and strides index it
  const [strideB, strideT] = input.strides as [number, number];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const value = values[input.offset + b * strideB + t * strideT]!;
      if (!(value >= 0 && value < size)) {
        throw new ConfigError(`${name} out of range`, {
          where: `${where}[${b}, ${t}]`,
          expected: `0 <= ${name} < ${size} (${field})`,
          actual: value,
        });
      }
    }
  }
}

/**
 * The BERT model of a config: the body and the head `config.head` names (BertForMaskedLM,
 * BertForSequenceClassification, BertForTokenClassification, or the bare BertModel).
 *
 * @example
 * const model = new BertModel(resolveBertConfig({ vocabSize: 100, nEmbd: 32, nLayer: 2, nHead: 4, maxPositions: 64 }), { seed: 1 });
 * const { logits } = model.forward({ ids, attentionMask: { kind: 'padding', keys }, tokenTypes }); // (B, T, 100)
 */
export class BertModel extends Module implements LanguageModel<BertConfig> {
  readonly family = 'bert';
  readonly kind = 'encoder';
  readonly config: BertConfig;
  readonly head: ModelHead;
  /** The body when it is mounted at the top (BertModel, no `bert.` prefix). */
  readonly #mountedBody: BertBody | null;
  readonly #classifier: ClassificationHead | null;

  constructor(config: BertConfig, options: BertOptions = {}) {
    super();
    this.config = config;
    const build: BuildInit =
      options.init === 'empty'
        ? { init: 'empty' }
        : { init: 'random', rng: options.rng ?? new Rng(options.seed ?? 0) };
    const body = new BertBody(config, build);
    this.#mountedBody = config.head === 'none' ? this.mount(body) : null;
    if (config.head !== 'none') this.addChild('bert', body);
    const init = weightInit(build, config.initStd);
    let classifier: ClassificationHead | null = null;
    switch (config.head) {
      case 'masked-lm':
        this.head = { kind: 'masked-lm' };
        this.addChild(
          'cls.predictions',
          new MaskedLmHead({
            nEmbd: config.nEmbd,
            vocabSize: config.vocabSize,
            activation: config.activation,
            normEps: config.normEps,
            embeddings: () => this.body.embeddings.word.weight,
            init,
          }),
        );
        break;
      case 'sequence-classification':
      case 'token-classification': {
        const labels = config.labels!;
        this.head = { kind: config.head, labels: labels.names };
        classifier = this.mount(
          new ClassificationHead({ nEmbd: config.nEmbd, labels, name: 'classifier', bias: true, init }),
        );
        break;
      }
      case 'none':
        this.head = { kind: 'none' };
        break;
    }
    this.#classifier = classifier;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxPositions(): number {
    return this.config.maxPositions;
  }

  get body(): BertBody {
    return this.#mountedBody ?? this.child<BertBody>('bert');
  }

  /** The masked-LM head (`cls.predictions`); null for the other heads. */
  get maskedLmHead(): MaskedLmHead | null {
    return this.config.head === 'masked-lm' ? this.child<MaskedLmHead>('cls.predictions') : null;
  }

  /** The classification head (`classifier`); null for masked-LM and the bare body. */
  get classifier(): ClassificationHead | null {
    return this.#classifier;
  }

  /** Shorthand for `forward({ ids }, options).logits`. An encoder has no cache: a ConfigError if one is given. */
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  /** The contract's call (model.ts): inputs in, the asked-for outputs back. */
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(input: Tensor | ModelInputs, options: LogitsOptions | OutputOptions = {}): Tensor | ModelOutputs {
    if (!isTensor(input)) return this.#run(input, options as OutputOptions);
    const { cache, ...outputs } = options as LogitsOptions;
    const result = this.#run(cache === undefined ? { ids: input } : { ids: input, cache }, outputs);
    if (result.logits === null) {
      throw new ConfigError('this model has no head, so no logits', {
        where: 'BertModel.forward',
        hint: 'a BertModel (bare body) returns hidden states: forward({ ids }, { hiddenStates: true })',
      });
    }
    return result.logits;
  }

  #run(inputs: ModelInputs, outputs: OutputOptions): ModelOutputs {
    this.#checkInputs(inputs, outputs);
    const c = this.config;
    const training = outputs.mode === undefined ? this.training : outputs.mode === 'train';
    const where = 'BertModel.forward';
    const drop = callDropout(c.dropout, training, outputs.rng, where);
    const attentionDropout = callAttentionDropout(c.attentionDropout, training, outputs.rng, where);
    const body = this.body;
    const result = body.run(
      { ids: inputs.ids, positions: inputs.positions ?? null, tokenTypes: inputs.tokenTypes ?? null },
      { mask: maskOf(inputs.attentionMask), drop, attentionDropout },
      outputs,
    );
    const x = result.sequence; // (B, T, C)
    const which = outputs.logits ?? 'all';
    let logits: Tensor | null = null;
    if (which !== 'none' && c.head !== 'none') {
      const classifierDrop = callDropout(c.classifierDropout ?? c.dropout, training, outputs.rng, where);
      switch (c.head) {
        case 'masked-lm':
          logits = this.maskedLmHead!.forward(selectPositions(x, which, where)); // (B, T', V) or (N, V)
          break;
        case 'token-classification':
          logits = this.#classifier!.forward(classifierDrop(selectPositions(x, which, where))); // (B, T', L) or (N, L)
          break;
        case 'sequence-classification':
          logits = this.#classifier!.forward(classifierDrop(body.pool(x))); // (B, L)
          break;
      }
    }
    return {
      logits,
      ...(result.hiddenStates === null ? {} : { hiddenStates: result.hiddenStates }),
      ...(result.attentions === null ? {} : { attentions: result.attentions }),
    };
  }

  /** Rejects inputs this model cannot take, before any work. */
  #checkInputs(inputs: ModelInputs, outputs: OutputOptions): void {
    const where = 'BertModel.forward';
    if (typeof outputs.logits === 'object' && this.config.head === 'sequence-classification') {
      throw new ConfigError('a sequence classifier has one output per row: no logits positions', {
        where: `${where}: logits.at`,
        hint: "use logits 'all'",
      });
    }
    const { ids } = inputs;
    if (ids.dtype !== 'int32' || ids.ndim !== 2) {
      throw new DTypeError('ids must be a (B, T) int32 tensor', {
        where,
        expected: '(B, T) int32',
        actual: `(${ids.shape.join(', ')}) ${ids.dtype}`,
      });
    }
    const [B, T] = ids.shape as [number, number];
    const { maxPositions, typeVocabSize } = this.config;
    if (T > maxPositions) {
      throw new ConfigError('the sequence is longer than the position table', {
        where: `${where}: ids`,
        expected: `at most ${maxPositions} tokens (max_position_embeddings)`,
        actual: `${T} tokens`,
        hint: 'truncate the text, or use a model with a longer max_position_embeddings',
      });
    }
    if (inputs.cache !== undefined) {
      throw new ConfigError('an encoder has no cache', {
        where: `${where}: cache`,
        hint: 'BERT reads the whole sequence at once: call forward without a cache',
      });
    }
    if (inputs.encoderOutput !== undefined) {
      throw new ConfigError('an encoder-only model has no cross-attention', {
        where: `${where}: encoderOutput`,
        hint: 'encoderOutput is for encoder-decoder families',
      });
    }
    if (inputs.positions !== undefined) {
      checkIndexInput(inputs.positions, B, T, maxPositions, 'positions', 'max_position_embeddings');
    }
    if (inputs.tokenTypes !== undefined) {
      checkIndexInput(inputs.tokenTypes, B, T, typeVocabSize, 'tokenTypes', 'type_vocab_size');
    }
  }

  /** Encoders have no KV cache: always a ConfigError. */
  createCache(_batch?: number, _maxT?: number): ModelCache {
    throw new ConfigError('an encoder has no cache', {
      where: 'BertModel.createCache',
      hint: 'BERT reads the whole sequence at once; generation needs a decoder',
    });
  }
}
