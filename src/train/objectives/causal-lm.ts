/**
 * Next-token prediction (causal language modelling), the objective of decoder-only
 * pre-training as nanoGPT's train.py: random contiguous blocks of a token stream
 * (data/block-sampler.ts), cross-entropy of every position's next token (label-smoothed when
 * asked), plus the model's auxiliary loss when it returns one (MoE load balancing).
 */
import { Rng, crossEntropy } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { BlockSampler, type Batch } from '../data/block-sampler.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

export interface CausalLmData {
  readonly train: Int32Array;
  readonly val: Int32Array;
  /** Tokens per row (the context a training block covers). */
  readonly blockSize: number;
  readonly batchSize: number;
  /** eps of a label-smoothed cross-entropy (default 0: none). */
  readonly labelSmoothing?: number;
}

export class CausalLmObjective implements Objective<Batch> {
  readonly kind = 'causal-lm';
  readonly #data: CausalLmData;

  constructor(data: CausalLmData) {
    this.#data = data;
    // Fail now, not at the first evaluation, when a split is too short for one block.
    void this.batches('train', new Rng(0));
    void this.batches('val', new Rng(0));
  }

  check(model: LanguageModel): void {
    if (this.#data.blockSize > model.maxPositions) {
      throw new ConfigError('training block is longer than the model context', {
        where: 'Trainer',
        expected: `blockSize <= ${model.maxPositions}`,
        actual: this.#data.blockSize,
      });
    }
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<Batch> {
    const { blockSize, batchSize } = this.#data;
    const ids = split === 'train' ? this.#data.train : this.#data.val;
    const sampler = new BlockSampler(
      ids,
      blockSize,
      batchSize,
      rng,
      split === 'train' ? 'training' : 'validation',
    );
    return {
      next: () => sampler.next(),
      getState: () => sampler.getState(),
      setState: (state) => {
        if (typeof state !== 'object' || state === null) {
          throw new FormatError('the batch sampler state is not an object', {
            where: 'trainer_state.json: rng.sampler',
          });
        }
        sampler.setState(state as Parameters<BlockSampler['setState']>[0]);
      },
    };
  }

  loss(model: LanguageModel, batch: Batch, settings: ForwardSettings): ObjectiveLoss {
    const rng = settings.rng === undefined ? {} : { rng: settings.rng };
    const { logits, auxLoss, routerStats } = model.forward(
      { ids: batch.x },
      { logits: 'all', mode: settings.mode, routerStats: settings.mode === 'train', ...rng },
    ); // (B, T, V)
    const loss = crossEntropy(logits!, batch.y, { labelSmoothing: this.#data.labelSmoothing ?? 0 }); // () mean over B*T
    return {
      loss,
      tokens: batch.x.size,
      ...(auxLoss === undefined ? {} : { auxLoss }),
      ...(routerStats === undefined ? {} : { routerStats }),
    };
  }
}
