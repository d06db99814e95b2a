/**
 * Supervised fine-tuning (instruction / chat SFT): next-token cross-entropy over the
 * assistant's tokens only, as TRL's SFTTrainer with assistant-only loss. Batches come from
 * data/chat-data.ts (padded, or packed with a segments mask so that packed conversations
 * never attend each other); the mask of the counted targets is applied here, in loss(), so
 * a target outside the assistant's spans never reaches the loss whatever its value. The
 * loss is the mean over the batch's counted tokens (HF's token-level mean).
 *
 * Training batches come an epoch at a time (each conversation once per epoch, shuffled);
 * trainBatchesPerEpoch() gives the step count of a number of epochs. Validation batches
 * walk the validation conversations in order.
 */
import { Rng, Tensor, crossEntropy, noGrad } from '../../tensor/index.js';
import type { LanguageModel, ModelInputs } from '../../models/index.js';
import { ConfigError } from '../../util/errors.js';
import { EpochBatches, type BatchLayout, type ChatExample, type SftBatch } from '../data/chat-data.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

export interface SftData {
  readonly train: readonly ChatExample[];
  readonly val: readonly ChatExample[];
  /** Rows per batch. */
  readonly batchSize: number;
  /** Input positions per row at most (<= the model's context). */
  readonly blockSize: number;
  readonly layout: BatchLayout;
  /** The id written into padding. */
  readonly padId: number;
  /** Metrics besides the loss at each evaluation (held-out answer accuracy), by log name. */
  readonly metrics?: (model: LanguageModel) => Readonly<Record<string, number>>;
}

const ignored = -100;

export class SftObjective implements Objective<SftBatch> {
  readonly kind = 'sft';
  readonly #data: SftData;
  readonly metrics?: (model: LanguageModel) => Readonly<Record<string, number>>;

  constructor(data: SftData) {
    this.#data = data;
    for (const [split, examples] of [
      ['training', data.train],
      ['validation', data.val],
    ] as const) {
      if (examples.length === 0) {
        throw new ConfigError(`the ${split} split has no conversations that fit the context`, {
          where: 'SftObjective',
          hint: 'give more data, or conversations shorter than the context',
        });
      }
    }
    if (data.metrics !== undefined) this.metrics = data.metrics;
  }

  check(model: LanguageModel): void {
    if (this.#data.blockSize > model.maxPositions) {
      throw new ConfigError('the batch rows are longer than the model context', {
        where: 'SftObjective',
        expected: `blockSize <= ${model.maxPositions}`,
        actual: this.#data.blockSize,
      });
    }
    for (const example of [...this.#data.train, ...this.#data.val]) {
      const bad = example.ids.find((id) => id >= model.vocabSize);
      if (bad !== undefined) {
        throw new ConfigError('a token id is outside the model vocabulary', {
          where: example.where,
          expected: `ids < ${model.vocabSize}`,
          actual: bad,
          hint: 'the tokenizer has tokens the model has no rows for: resize the model first',
        });
      }
    }
  }

  #source(split: ObjectiveSplit, rng: Rng): EpochBatches {
    const { batchSize, blockSize, layout, padId } = this.#data;
    const examples = split === 'train' ? this.#data.train : this.#data.val;
    return new EpochBatches(examples, { batchSize, blockSize, layout, padId }, rng, split === 'train');
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<SftBatch> {
    return this.#source(split, rng);
  }

  /** Training batches in each of `epochs` epochs drawn from `rng` (the trainer's batch Rng, trainingBatchRng). */
  trainBatchesPerEpoch(rng: Rng, epochs: number): number[] {
    return this.#source('train', rng).batchesPerEpoch(epochs);
  }

  /** Batches that cover the validation split once. */
  get valBatches(): number {
    return this.#source('val', new Rng(0)).batchesPerEpoch(1)[0]!; // in order: the Rng is not drawn from
  }

  loss(model: LanguageModel, batch: SftBatch, settings: ForwardSettings): ObjectiveLoss {
    const logits = forwardBatch(model, batch, settings); // (B, T, V)
    return { loss: crossEntropy(logits, countedTargets(batch)), tokens: batch.trainedTokens }; // () mean over counted
  }
}

/** The batch through the model: positions and the segments mask when packed. */
function forwardBatch(model: LanguageModel, batch: SftBatch, settings: ForwardSettings): Tensor {
  const inputs: ModelInputs = {
    ids: batch.ids,
    ...(batch.positions === null ? {} : { positions: batch.positions }),
    ...(batch.segments === null
      ? {}
      : { attentionMask: { kind: 'segments', segments: batch.segments } as const }),
  };
  const { logits } = model.forward(inputs, {
    logits: 'all',
    mode: settings.mode,
    ...(settings.rng === undefined ? {} : { rng: settings.rng }),
  });
  return logits!;
}

/** Targets with every position the loss does not count set to the ignore index (-100): (B, T) int32. */
export function countedTargets(batch: Pick<SftBatch, 'targets' | 'trained'>): Tensor {
  const targets = batch.targets.values();
  const trained = batch.trained.values();
  const out = new Int32Array(targets.length);
  for (let i = 0; i < out.length; i++) out[i] = trained[i] === 1 ? targets[i]! : ignored;
  return Tensor.fromArray(out, batch.targets.shape);
}

/**
 * The mean loss of each conversation of a batch over its counted tokens (eval mode, no
 * gradient), in the order of batch.documents: what the packing test compares with each
 * conversation run alone.
 */
export function conversationLosses(model: LanguageModel, batch: SftBatch): number[] {
  return noGrad(() => {
    const logits = forwardBatch(model, batch, { mode: 'eval' });
    const losses = crossEntropy(logits, countedTargets(batch), { reduction: 'none' }).toArray(); // (B, T)
    const trained = batch.trained.values();
    const T = batch.ids.shape[1]!;
    return batch.documents.map(({ row, start, length }) => {
      let total = 0;
      let count = 0;
      for (let t = start; t < start + length; t++) {
        if (trained[row * T + t] !== 1) continue;
        total += losses[row * T + t]!;
        count++;
      }
      return total / count;
    });
  });
}
