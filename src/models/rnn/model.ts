/**
 * RnnLM: an LSTM or GRU language model implementing the model contract (../model.ts), read
 * top to bottom as PyTorch's examples/word_language_model RNNModel: token embedding,
 * dropout, a stack of recurrent layers (dropout between them), dropout, and a linear head
 * (optionally tied to the embedding). Parameter paths equal that model's state_dict keys
 * (`encoder.weight`, `rnn.weight_ih_l0`, `rnn.weight_hh_l0`, `rnn.bias_ih_l0`,
 * `rnn.bias_hh_l0`, ..., `decoder.weight`, `decoder.bias`), nn.LSTM / nn.GRU's own names.
 *
 * Each layer is one fused op over the whole sequence (tensor/ops/rnn.ts: lstm, gru), after
 * one matmul for the input projections of every step. The cache is the recurrent state
 * (./state.ts): a decoding step costs the same at any position.
 *
 * Legend: B batch, T time, C embedding width, H hidden size, V vocab, G gates (4 or 3).
 */
import {
  type Tensor,
  Rng,
  add,
  contiguous,
  dropout,
  gru,
  isTensor,
  lstm,
  matmulTransposed,
  narrow,
  rand,
  transpose,
  zeros,
} from '../../tensor/index.js';
import { Embedding, Module } from '../../nn/index.js';
import { ConfigError, DTypeError, ShapeError } from '../../util/errors.js';
import type { ModelInit } from '../family.js';
import type {
  LanguageModel,
  LogitsOptions,
  ModelCache,
  ModelInputs,
  ModelOutputs,
  OutputOptions,
} from '../model.js';
import { gatesOf, type RnnConfig } from './config.js';
import { RnnState } from './state.js';

/** U(-range, range), or zeros for a model about to be loaded. */
function uniform(shape: number[], range: number, rng: Rng | null): Tensor {
  if (rng === null) return zeros(shape);
  const t = rand(shape, rng);
  const values = t.values();
  for (let i = 0; i < values.length; i++) values[i] = (2 * values[i]! - 1) * range;
  return t;
}

/** The stacked recurrent layers' parameters, named as nn.LSTM / nn.GRU name them. */
export class RnnStack extends Module {
  readonly #layers: number;

  constructor(config: RnnConfig, rng: Rng | null) {
    super();
    const G = gatesOf[config.cell];
    const H = config.hiddenSize;
    // PyTorch's reset_parameters: every weight and bias from U(-1/sqrt(H), 1/sqrt(H)).
    const range = 1 / Math.sqrt(H);
    for (let k = 0; k < config.nLayer; k++) {
      const input = k === 0 ? config.nEmbd : H;
      this.addParameter(`weight_ih_l${k}`, uniform([G * H, input], range, rng));
      this.addParameter(`weight_hh_l${k}`, uniform([G * H, H], range, rng));
      this.addParameter(`bias_ih_l${k}`, uniform([G * H], range, rng));
      this.addParameter(`bias_hh_l${k}`, uniform([G * H], range, rng));
    }
    this.#layers = config.nLayer;
  }

  /** The four tensors of layer k: W_ih (GH, in), W_hh (GH, H), b_ih, b_hh (GH). */
  layer(k: number): { weightIh: Tensor; weightHh: Tensor; biasIh: Tensor; biasHh: Tensor } {
    if (!(k >= 0 && k < this.#layers))
      throw new ConfigError('no such layer', { where: 'RnnStack.layer', actual: k });
    const own = new Map(this.namedParameters());
    return {
      weightIh: own.get(`weight_ih_l${k}`)!,
      weightHh: own.get(`weight_hh_l${k}`)!,
      biasIh: own.get(`bias_ih_l${k}`)!,
      biasHh: own.get(`bias_hh_l${k}`)!,
    };
  }
}

/** The output layer: x W^T + b, W (V, H) its own or the embedding's (tied). */
export class RnnHead extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(weight: Tensor, V: number) {
    super();
    this.weight = this.addParameter('weight', weight);
    this.bias = this.addParameter('bias', zeros([V]));
  }

  /** x (..., H) -> (..., V). */
  forward(x: Tensor): Tensor {
    return add(matmulTransposed(x, this.weight), this.bias);
  }
}

export interface RnnOptions {
  readonly init?: ModelInit;
  readonly seed?: number;
}

/**
 * @example
 * const model = new RnnLM(resolveRnnConfig({ arch: 'lmforge-lstm', vocabSize: 65, nLayer: 2, nEmbd: 128 }), { seed: 1 });
 * const logits = model.forward(ids); // (B, T) int32 -> (B, T, 65)
 * const state = model.createCache(1);
 * model.forward({ ids: prompt, cache: state }, { logits: 'last', mode: 'eval' }); // then one id at a time
 */
export class RnnLM extends Module implements LanguageModel<RnnConfig> {
  readonly kind = 'decoder';
  readonly config: RnnConfig;

  constructor(config: RnnConfig, options: RnnOptions = {}) {
    super();
    this.config = config;
    const rng = options.init === 'empty' ? null : new Rng(options.seed ?? 0);
    const { vocabSize: V, nEmbd: C, hiddenSize: H } = config;
    const encoder = this.addChild('encoder', new Embedding(V, C, { init: 'empty' }));
    if (rng !== null) encoder.weight.values().set(uniform([V, C], config.initRange, rng).values());
    this.addChild('rnn', new RnnStack(config, rng));
    const headWeight = config.tiedEmbeddings ? encoder.weight : uniform([V, H], config.initRange, rng);
    this.addChild('decoder', new RnnHead(headWeight, V));
  }

  get family(): string {
    return this.config.arch;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxPositions(): number {
    return this.config.maxPositions;
  }

  get encoder(): Embedding {
    return this.child<Embedding>('encoder');
  }

  get rnn(): RnnStack {
    return this.child<RnnStack>('rnn');
  }

  get decoder(): RnnHead {
    return this.child<RnnHead>('decoder');
  }

  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(input: Tensor | ModelInputs, options: LogitsOptions | OutputOptions = {}): Tensor | ModelOutputs {
    if (!isTensor(input)) return this.#run(input, options as OutputOptions);
    const { cache, ...outputs } = options as LogitsOptions;
    return this.#run(cache === undefined ? { ids: input } : { ids: input, cache }, outputs).logits!;
  }

  #run(inputs: ModelInputs, outputs: OutputOptions): ModelOutputs {
    const ids = inputs.ids;
    if (ids.dtype !== 'int32' || ids.ndim !== 2) {
      throw new DTypeError('ids must be a (B, T) int32 tensor', {
        where: 'RnnLM.forward',
        expected: '(B, T) int32',
        actual: `(${ids.shape.join(', ')}) ${ids.dtype}`,
      });
    }
    const [B, T] = ids.shape as [number, number];
    const state = this.#stateOf(inputs.cache, B);
    this.#checkInputs(inputs, outputs, T + (state?.length ?? 0));
    const drop = this.#dropper(outputs);
    const { cell, nLayer } = this.config;
    let x = contiguous(transpose(drop(this.encoder.forward(ids)), 0, 1)); // (T, B, C)
    const hiddenStates: Tensor[] = [];
    for (let k = 0; k < nLayer; k++) {
      if (outputs.hiddenStates === true) hiddenStates.push(transpose(x, 0, 1)); // (B, T, C or H)
      const { weightIh, weightHh, biasIh, biasHh } = this.rnn.layer(k);
      const previous = state?.state(k) ?? null;
      const h0 = previous?.h ?? zeros([B, this.config.hiddenSize]);
      let result;
      if (cell === 'lstm') {
        // Both biases fold into the input projection: gates = x W_ih^T + b_ih + b_hh + h W_hh^T.
        const xProj = add(matmulTransposed(x, weightIh), add(biasIh, biasHh)); // (T, B, 4H)
        result = lstm(xProj, weightHh, h0, previous?.c ?? zeros([B, this.config.hiddenSize]));
      } else {
        // b_hh stays in the recurrent part: n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)).
        result = gru(add(matmulTransposed(x, weightIh), biasIh), weightHh, biasHh, h0); // xProj (T, B, 3H)
      }
      state?.write(k, result.output, result.cells);
      x = k < nLayer - 1 ? drop(result.output) : result.output; // (T, B, H)
    }
    state?.advance(T);
    const out = transpose(drop(x), 0, 1); // (B, T, H)
    if (outputs.hiddenStates === true) hiddenStates.push(out);
    const logits = outputs.logits ?? 'all';
    return {
      logits:
        logits === 'none' ? null : this.decoder.forward(logits === 'last' ? narrow(out, 1, T - 1, 1) : out),
      ...(outputs.hiddenStates === true ? { hiddenStates } : {}),
    };
  }

  /** Rejects inputs and outputs a recurrent model cannot take, before any work. */
  #checkInputs(inputs: ModelInputs, outputs: OutputOptions, length: number): void {
    const where = 'RnnLM.forward';
    const refuse = (field: string, message: string, hint: string): never => {
      throw new ConfigError(message, { where: `${where}: ${field}`, hint });
    };
    if (inputs.attentionMask !== undefined) {
      refuse(
        'attentionMask',
        'a recurrent model has no attention mask',
        'right-pad batches: later positions never change earlier ones',
      );
    }
    if (inputs.positions !== undefined) {
      refuse('positions', 'a recurrent model has no positions', 'the state carries the position');
    }
    if (inputs.encoderOutput !== undefined) {
      refuse(
        'encoderOutput',
        'a recurrent model has no cross-attention',
        'encoderOutput is for encoder-decoder families',
      );
    }
    if (outputs.attentions === true) {
      refuse(
        'attentions',
        'a recurrent model has no attention probabilities',
        'ask for hiddenStates instead',
      );
    }
    if (length > this.config.maxPositions) {
      throw new ShapeError('the sequence is longer than the model takes', {
        where,
        expected: `at most ${this.config.maxPositions} positions (max_position_embeddings)`,
        actual: length,
      });
    }
  }

  #stateOf(cache: ModelCache | undefined, B: number): RnnState | null {
    if (cache === undefined) return null;
    if (!(cache instanceof RnnState)) {
      throw new ConfigError('the cache was not created by this model', {
        where: 'RnnLM.forward',
        expected: 'a state from model.createCache()',
        actual: cache.constructor.name,
      });
    }
    const { batch, nLayer, hiddenSize, cell } = cache.shape;
    if (
      batch !== B ||
      nLayer !== this.config.nLayer ||
      hiddenSize !== this.config.hiddenSize ||
      cell !== this.config.cell
    ) {
      throw new ShapeError('the recurrent state does not match the input', {
        where: 'RnnLM.forward',
        expected: `batch ${B}, ${this.config.nLayer} ${this.config.cell} layers of ${this.config.hiddenSize}`,
        actual: `batch ${batch}, ${nLayer} ${cell} layers of ${hiddenSize}`,
      });
    }
    return cache;
  }

  /** A recurrent state for `batch` sequences of up to `maxT` positions (default maxPositions). */
  createCache(batch: number, maxT: number = this.config.maxPositions): RnnState {
    if (!(
      Number.isInteger(batch) &&
      batch >= 1 &&
      Number.isInteger(maxT) &&
      maxT >= 1 &&
      maxT <= this.config.maxPositions
    )) {
      throw new ConfigError('state size out of range', {
        where: 'RnnLM.createCache',
        expected: `batch >= 1, 1 <= maxT <= ${this.config.maxPositions} (maxPositions)`,
        actual: `batch ${batch}, maxT ${maxT}`,
      });
    }
    const { cell, nLayer, hiddenSize } = this.config;
    return new RnnState({ cell, nLayer, batch, hiddenSize, maxT });
  }

  #dropper(outputs: OutputOptions): (x: Tensor) => Tensor {
    const p = this.config.dropout;
    const training = outputs.mode === undefined ? this.training : outputs.mode === 'train';
    if (p === 0 || !training) return (x) => x;
    const rng = outputs.rng;
    if (rng === undefined) {
      throw new ConfigError('training with dropout needs an rng', {
        where: 'RnnLM.forward',
        expected: 'options.rng',
        actual: `dropout ${p}, no rng`,
        hint: "pass { rng } to forward(), or run in eval mode (model.eval(), or mode: 'eval')",
      });
    }
    return (x) => dropout(x, p, rng, true);
  }
}
