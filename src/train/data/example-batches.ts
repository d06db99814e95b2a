/**
 * Batches of labelled token sequences (classification and tagging examples), epoch after
 * epoch: each training epoch visits every example once in an order shuffled from the Rng
 * (Fisher-Yates), grouped `batchSize` at a time (the last batch of an epoch may be smaller);
 * a validation split walks its examples in order. Rows are right-padded with the pad id to
 * the longest row of the batch, with a padding mask (1 on real tokens) beside them, as HF's
 * DataCollatorWithPadding pads. The state (epoch, batch, the Rng at the epoch's start)
 * survives JSON, so a resumed run draws exactly the batches of an uninterrupted one.
 *
 * Legend: B batch (rows), T the longest row of the batch.
 */
import { Rng, type RngState } from '../../tensor/index.js';
import { padRows, type PaddedRows } from '../../models/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import type { BatchSource } from '../objectives/objective.js';
import { shuffleInPlace } from './shuffle.js';

export { padRows, type PaddedRows };

/** A token sequence of an example, with where it came from (file:line) for errors. */
export interface SequenceExample {
  readonly ids: Int32Array;
  readonly where: string;
}

interface EpochState {
  readonly epoch: number;
  readonly batch: number;
  readonly rng: RngState;
}

/** Example indices batch by batch, epoch after epoch; `collate` turns a batch of indices into tensors. */
export class ExampleBatches<Batch> implements BatchSource<Batch> {
  readonly #count: number;
  readonly #batchSize: number;
  readonly #shuffle: boolean;
  readonly #collate: (indices: readonly number[]) => Batch;
  #rng: Rng;
  #epochStart: RngState;
  #epoch = 0;
  #batch = 0;
  #order: number[];

  constructor(
    count: number,
    options: { readonly batchSize: number; readonly shuffle: boolean },
    rng: Rng,
    collate: (indices: readonly number[]) => Batch,
  ) {
    if (!(Number.isSafeInteger(count) && count > 0)) {
      throw new ConfigError('a split has no examples', { where: 'ExampleBatches', actual: count });
    }
    if (!(Number.isSafeInteger(options.batchSize) && options.batchSize > 0)) {
      throw new ConfigError('batchSize must be an integer >= 1', {
        where: 'ExampleBatches: batchSize',
        actual: options.batchSize,
      });
    }
    this.#count = count;
    this.#batchSize = options.batchSize;
    this.#shuffle = options.shuffle;
    this.#collate = collate;
    this.#rng = rng;
    this.#epochStart = rng.getState();
    this.#order = this.#planEpoch();
  }

  #planEpoch(): number[] {
    const order = Array.from({ length: this.#count }, (_, i) => i);
    return this.#shuffle ? shuffleInPlace(order, this.#rng) : order;
  }

  /** Batches per epoch (the same in every epoch). */
  get batchesPerEpoch(): number {
    return Math.ceil(this.#count / this.#batchSize);
  }

  get epoch(): number {
    return this.#epoch;
  }

  next(): Batch {
    if (this.#batch === this.batchesPerEpoch) {
      this.#epoch++;
      this.#batch = 0;
      this.#epochStart = this.#rng.getState();
      this.#order = this.#planEpoch();
    }
    const start = this.#batch++ * this.#batchSize;
    return this.#collate(this.#order.slice(start, start + this.#batchSize));
  }

  getState(): EpochState {
    return { epoch: this.#epoch, batch: this.#batch, rng: this.#epochStart };
  }

  setState(state: unknown): void {
    const s = state as Partial<EpochState> | null;
    if (
      typeof s !== 'object' ||
      s === null ||
      !Number.isInteger(s.epoch) ||
      !Number.isInteger(s.batch) ||
      s.rng === undefined
    ) {
      throw new FormatError('the batch state is not {epoch, batch, rng}', {
        where: 'trainer_state.json: rng.sampler',
      });
    }
    this.#rng = Rng.fromState(s.rng);
    this.#epochStart = s.rng;
    this.#order = this.#planEpoch();
    this.#epoch = s.epoch!;
    this.#batch = s.batch!;
  }
}

/**
 * Checks the sequences of a split against a model before any work: each fits the position
 * table and holds only ids the model embeds; the error names the example's file:line.
 */
export function checkSequences(
  examples: readonly SequenceExample[],
  limits: { readonly maxPositions: number; readonly vocabSize: number },
): void {
  for (const example of examples) {
    if (example.ids.length > limits.maxPositions) {
      throw new ConfigError('the sequence is longer than the position table', {
        where: example.where,
        expected: `at most ${limits.maxPositions} tokens (max_position_embeddings)`,
        actual: `${example.ids.length} tokens`,
        hint: 'shorten the text, or use a model with a longer max_position_embeddings',
      });
    }
    const bad = example.ids.find((id) => id < 0 || id >= limits.vocabSize);
    if (bad !== undefined) {
      throw new ConfigError('a token id is outside the model vocabulary', {
        where: example.where,
        expected: `ids < ${limits.vocabSize}`,
        actual: bad,
        hint: 'the tokenizer and the model come from different folders',
      });
    }
  }
}
