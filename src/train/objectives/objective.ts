/**
 * The training objective: what the trainer asks of a task, so that one loop (trainer.ts:
 * schedule, accumulation, clipping, evaluation, checkpoints, exact resume, divergence
 * checks) trains every kind of model. An objective owns its data (a split of token ids,
 * masked text, sentence pairs, labelled examples), makes batches from a seeded Rng, and
 * turns one batch into a scalar loss through the model contract (../../models/model.ts).
 *
 * Objectives today: causal-lm.ts (next-token prediction, decoders), masked-lm.ts
 * (masked-token prediction, encoders), seq2seq.ts (sequence-to-sequence, encoder-decoders)
 * and sft.ts (chat / instruction fine-tuning); classification/tagging heads plug in here.
 */
import type { Rng, Tensor } from '../../tensor/index.js';
import type { LanguageModel, ModelOutputs } from '../../models/index.js';

/** A split of an objective's data. */
export type ObjectiveSplit = 'train' | 'val';

/**
 * A resumable stream of batches: the trainer saves getState() in each checkpoint and a
 * resumed run calls setState() with it, so that it draws exactly the batches an
 * uninterrupted run would. The state must survive JSON.stringify / JSON.parse.
 */
export interface BatchSource<Batch> {
  /** The next batch (its tensors are created in the caller's scope). */
  next(): Batch;
  getState(): unknown;
  /** Restores a getState() value; throws a FormatError when it is not one. */
  setState(state: unknown): void;
}

/** Dropout mode and randomness of one forward pass. */
export interface ForwardSettings {
  readonly mode: 'train' | 'eval';
  /** Dropout randomness (train mode). */
  readonly rng?: Rng;
}

export interface ObjectiveLoss {
  /** () the objective's loss (the mean over the batch's targets): what evaluation reports. */
  readonly loss: Tensor;
  /** () a term the model adds (MoE load balancing); optimised with the loss, logged apart. */
  readonly auxLoss?: Tensor | undefined;
  /** Targets this batch trains on (tokens, masked tokens, examples): for throughput. */
  readonly tokens: number;
  /** Models with expert layers: the routers' statistics of this forward (logged per evaluation window). */
  readonly routerStats?: ModelOutputs['routerStats'] | undefined;
}

export interface Objective<Batch = unknown> {
  /** Recorded in trainer_state.json and the log ('causal-lm', 'masked-lm', ...). */
  readonly kind: string;
  /** Rejects a model this objective cannot train (context too short, no head), before any work. */
  check(model: LanguageModel): void;
  /**
   * Batches of a split, drawn from `rng` (the source keeps it). Throws a ConfigError when the
   * split cannot fill one batch; `what` names the split in that error ('training', 'validation').
   */
  batches(split: ObjectiveSplit, rng: Rng): BatchSource<Batch>;
  /** The loss of one batch (forward through `model` in `settings.mode`). */
  loss(model: LanguageModel, batch: Batch, settings: ForwardSettings): ObjectiveLoss;
  /**
   * Metrics besides the loss, computed at each evaluation on the validation split (accuracy,
   * BLEU ...), by their log names (`val_accuracy`); absent when the loss is all. A synchronous
   * one runs inside the trainer's scope and noGrad; one that decodes (BLEU by generation)
   * returns a Promise and scopes its own tensors, as the decoding loops do.
   */
  metrics?(
    model: LanguageModel,
  ): Readonly<Record<string, number>> | Promise<Readonly<Record<string, number>>>;
}
