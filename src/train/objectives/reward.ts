/**
 * Reward modelling on preference pairs (InstructGPT, Ouyang et al. 2022, eq. 1; TRL's
 * RewardTrainer): a model with a one-label sequence-classification head scores each
 * (prompt, response) as r, read at the last real token, and the Bradley-Terry loss of a pair
 *
 *   loss = -log sigmoid(r_chosen - r_rejected - margin)      (margin 0 without one; Llama 2's margin loss)
 *
 * is averaged over the batch. -log sigmoid(d) is computed as the cross-entropy of the two
 * logits [r_rejected + margin, r_chosen] with target 1 (= log(e^a + e^b) - b, the fused,
 * stable log-sum-exp: no overflow for large |d| and the exact gradient sigmoid(-d) at d = 0).
 *
 * A batch holds B pairs as 2B right-padded rows (chosen rows first, then rejected) with a
 * padding mask, so one forward scores both sides. Training batches visit every pair once per
 * epoch in an order shuffled from the source's Rng (state saved for exact resume); validation
 * walks the pairs in order, and metrics() reports `val_accuracy` (r_chosen > r_rejected) and
 * `val_margin` (mean r_chosen - r_rejected) over every validation pair.
 *
 * Legend: B pairs, T positions.
 */
import { Rng, Tensor, crossEntropy, narrow, noGrad, reshape, stack, add } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import { ConfigError } from '../../util/errors.js';
import { ExampleBatches } from '../data/example-batches.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

/** A pair as token ids: prompt + chosen response, prompt + rejected response. */
export interface RewardExample {
  readonly chosen: Int32Array;
  readonly rejected: Int32Array;
  /** 0 without one. */
  readonly margin: number;
  readonly where: string;
}

export interface RewardBatch {
  /** (2B, T) int32: B chosen rows, then B rejected rows, right-padded with padId. */
  readonly ids: Tensor;
  /** (2B, T) int32 1 on real tokens. */
  readonly keys: Tensor;
  /** (B) float32 margins. */
  readonly margins: Tensor;
  readonly pairs: number;
  readonly tokens: number;
}

/**
 * The Bradley-Terry loss of scores: chosen (B), rejected (B), margins (B) -> () mean of
 * -log sigmoid(chosen - rejected - margin).
 *
 * @example
 * bradleyTerryLoss(tensor([2, 0]), tensor([1, 1]), tensor([0, 0])); // mean(-log sigmoid([1, -1])) = 0.8133
 */
export function bradleyTerryLoss(chosen: Tensor, rejected: Tensor, margins: Tensor): Tensor {
  const B = chosen.shape[0]!;
  if (chosen.ndim !== 1 || !rejected.shape.every((n, i) => n === chosen.shape[i]) || rejected.ndim !== 1) {
    throw new ConfigError('chosen and rejected scores must be two (B) vectors', {
      where: 'bradleyTerryLoss',
      expected: `(${B}) and (${B})`,
      actual: `(${chosen.shape.join(', ')}) and (${rejected.shape.join(', ')})`,
    });
  }
  const logits = stack([add(rejected, margins), chosen], 1); // (B, 2)
  const targets = Tensor.fromArray(new Int32Array(B).fill(1), [B]);
  return crossEntropy(logits, targets); // ()
}

/** Rows of token ids right-padded into (rows, T) ids and keys. */
function padRows(rows: readonly Int32Array[], padId: number): { ids: Tensor; keys: Tensor; tokens: number } {
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(padId);
  const keys = new Int32Array(rows.length * T);
  let tokens = 0;
  rows.forEach((row, r) => {
    ids.set(row, r * T);
    keys.fill(1, r * T, r * T + row.length);
    tokens += row.length;
  });
  return {
    ids: Tensor.fromArray(ids, [rows.length, T]),
    keys: Tensor.fromArray(keys, [rows.length, T]),
    tokens,
  };
}

/** The batch of `indices` (pairs of `examples`). */
export function collateRewardBatch(
  examples: readonly RewardExample[],
  indices: readonly number[],
  padId: number,
): RewardBatch {
  const chosen = indices.map((i) => examples[i]!.chosen);
  const rejected = indices.map((i) => examples[i]!.rejected);
  const { ids, keys, tokens } = padRows([...chosen, ...rejected], padId);
  const margins = Tensor.fromArray(
    Float32Array.from(indices, (i) => examples[i]!.margin),
    [indices.length],
  );
  return { ids, keys, margins, pairs: indices.length, tokens };
}

/** Chosen and rejected scores (B) each of a batch (one forward over its 2B rows). */
export function rewardScores(
  model: LanguageModel,
  batch: Pick<RewardBatch, 'ids' | 'keys' | 'pairs'>,
  settings: ForwardSettings,
): { chosen: Tensor; rejected: Tensor } {
  const { logits } = model.forward(
    { ids: batch.ids, attentionMask: { kind: 'padding', keys: batch.keys } },
    { mode: settings.mode, ...(settings.rng === undefined ? {} : { rng: settings.rng }) },
  ); // (2B, 1)
  const scores = reshape(logits!, [2 * batch.pairs]); // (2B)
  return { chosen: narrow(scores, 0, 0, batch.pairs), rejected: narrow(scores, 0, batch.pairs, batch.pairs) };
}

export interface RewardData {
  readonly train: readonly RewardExample[];
  readonly val: readonly RewardExample[];
  /** Pairs per batch (2 rows each). */
  readonly batchSize: number;
  /** The id written into padding (masked out). */
  readonly padId: number;
}

/** The pairwise accuracy and mean score difference of a model over pairs (eval mode, no gradient). */
export function pairwiseAccuracy(
  model: LanguageModel,
  examples: readonly RewardExample[],
  batchSize: number,
  padId: number,
): { accuracy: number; margin: number } {
  let right = 0;
  let difference = 0;
  for (let start = 0; start < examples.length; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, examples.length - start) }, (_, i) => start + i);
    noGrad(() => {
      const batch = collateRewardBatch(examples, indices, padId);
      const { chosen, rejected } = rewardScores(model, batch, { mode: 'eval' });
      const c = chosen.toArray() as number[];
      const r = rejected.toArray() as number[];
      c.forEach((score, i) => {
        if (score > r[i]!) right++;
        difference += score - r[i]!;
      });
    });
  }
  return { accuracy: right / examples.length, margin: difference / examples.length };
}

export class RewardObjective implements Objective<RewardBatch> {
  readonly kind = 'reward';
  readonly #data: RewardData;

  constructor(data: RewardData) {
    for (const [split, examples] of [
      ['training', data.train],
      ['validation', data.val],
    ] as const) {
      if (examples.length === 0) {
        throw new ConfigError(`the ${split} split has no preference pairs that fit the context`, {
          where: 'RewardObjective',
          hint: 'give more pairs, or shorter ones',
        });
      }
    }
    this.#data = data;
  }

  check(model: LanguageModel): void {
    const head = model.head;
    if (head?.kind !== 'sequence-classification' || head.labels.length !== 1) {
      throw new ConfigError('a reward model needs a sequence-classification head with one label', {
        where: 'RewardObjective',
        expected: 'num_labels 1',
        actual:
          head === undefined
            ? 'causal-lm'
            : head.kind === 'sequence-classification'
              ? `num_labels ${head.labels.length}`
              : head.kind,
      });
    }
    for (const example of [...this.#data.train, ...this.#data.val]) {
      for (const row of [example.chosen, example.rejected]) {
        if (row.length > model.maxPositions) {
          throw new ConfigError('a pair is longer than the model context', {
            where: example.where,
            expected: `at most ${model.maxPositions} tokens`,
            actual: row.length,
          });
        }
        const bad = row.find((id) => id >= model.vocabSize);
        if (bad !== undefined) {
          throw new ConfigError('a token id is outside the model vocabulary', {
            where: example.where,
            expected: `ids < ${model.vocabSize}`,
            actual: bad,
          });
        }
      }
    }
  }

  get trainPairs(): readonly RewardExample[] {
    return this.#data.train;
  }

  get valPairs(): readonly RewardExample[] {
    return this.#data.val;
  }

  /** Tokens of every training row (both sides of each pair). */
  get trainTokens(): number {
    return this.#data.train.reduce((n, e) => n + e.chosen.length + e.rejected.length, 0);
  }

  get valTokens(): number {
    return this.#data.val.reduce((n, e) => n + e.chosen.length + e.rejected.length, 0);
  }

  /** Training steps of `epochs` epochs. */
  stepsFor(epochs: number): number {
    return epochs * Math.ceil(this.#data.train.length / this.#data.batchSize);
  }

  /** Validation batches that cover every validation pair once. */
  get valBatches(): number {
    return Math.ceil(this.#data.val.length / this.#data.batchSize);
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<RewardBatch> {
    const { batchSize, padId } = this.#data;
    const examples = split === 'train' ? this.#data.train : this.#data.val;
    // Every pair once per epoch, shuffled (training) or in order (validation).
    return new ExampleBatches(examples.length, { batchSize, shuffle: split === 'train' }, rng, (indices) =>
      collateRewardBatch(examples, indices, padId),
    );
  }

  loss(model: LanguageModel, batch: RewardBatch, settings: ForwardSettings): ObjectiveLoss {
    const { chosen, rejected } = rewardScores(model, batch, settings);
    return { loss: bradleyTerryLoss(chosen, rejected, batch.margins), tokens: batch.tokens };
  }

  metrics(model: LanguageModel): Readonly<Record<string, number>> {
    const { accuracy, margin } = pairwiseAccuracy(
      model,
      this.#data.val,
      this.#data.batchSize,
      this.#data.padId,
    );
    return { val_accuracy: accuracy, val_margin: margin };
  }
}
