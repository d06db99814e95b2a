/**
 * Sequence classification (HF's *ForSequenceClassification with problem_type
 * single_label_classification): one label per text, the model's (B, L) logits (BERT: the
 * classifier on the pooled [CLS]; a decoder: `score` at each row's last real token) scored
 * by the mean softmax cross-entropy over the batch, as HF's loss. Batches are right-padded
 * rows with a padding mask (data/example-batches.ts); every example visits once per epoch.
 *
 * Metrics at each evaluation, over the whole validation split: `val_accuracy` and
 * `val_macro_f1` (metrics/classification.ts). classProbabilities() is the same forward for
 * callers that classify (the `classify` command, the final report).
 *
 * Legend: B batch, T time, L labels, N examples.
 */
import { Rng, Tensor, crossEntropy, noGrad, scope, softmax } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import { ConfigError } from '../../util/errors.js';
import { ExampleBatches, checkSequences, padRows, type SequenceExample } from '../data/example-batches.js';
import { argmax } from '../baselines/text-classifier.js';
import { classificationReport, type ClassificationReport } from '../metrics/classification.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

export interface ClassifyExample extends SequenceExample {
  /** The class id. */
  readonly label: number;
}

export interface ClassifyData {
  readonly train: readonly ClassifyExample[];
  readonly val: readonly ClassifyExample[];
  /** The class names by id (the head's id2label). */
  readonly labels: readonly string[];
  readonly batchSize: number;
  /** The id written into padding. */
  readonly padId: number;
}

export interface ClassifyBatch {
  /** (B, T) int32, right-padded. */
  readonly ids: Tensor;
  /** (B, T) int32: 1 on real tokens. */
  readonly keys: Tensor;
  /** (B) int32 class ids. */
  readonly labels: Tensor;
}

/** Rows per forward when classifying many texts (memory stays bounded). */
const predictBatch = 32;

/**
 * The class probabilities of each sequence, (N * L) row-major: softmax over the head's
 * logits, eval mode, no gradient, `batchSize` sequences per forward.
 *
 * @example
 * const p = classProbabilities(model, [tokenizer.encode('a young horse')].map((ids) => Int32Array.from(ids)), { padId: 0 });
 */
export function classProbabilities(
  model: LanguageModel,
  sequences: readonly Int32Array[],
  options: { readonly padId: number; readonly batchSize?: number },
): Float32Array {
  const L = checkSequenceClassifier(model, 'classProbabilities').length;
  const out = new Float32Array(sequences.length * L);
  const step = options.batchSize ?? predictBatch;
  for (let start = 0; start < sequences.length; start += step) {
    scope(() =>
      noGrad(() => {
        const rows = padRows(sequences.slice(start, start + step), options.padId);
        const { logits } = model.forward(
          { ids: rows.ids, attentionMask: { kind: 'padding', keys: rows.keys } },
          { logits: 'all', mode: 'eval' },
        );
        out.set(softmax(logits!, -1).floats(), start * L); // (B, L)
      }),
    );
  }
  return out;
}

/** The label names of a model's sequence-classification head; any other head is a ConfigError. */
export function checkSequenceClassifier(model: LanguageModel, where: string): readonly string[] {
  const head = model.head;
  if (head?.kind !== 'sequence-classification') {
    throw new ConfigError('the model has no sequence-classification head', {
      where,
      expected: 'a *ForSequenceClassification model (config.json architectures)',
      actual: head?.kind ?? 'causal-lm',
      hint: 'fine-tune one with `lmforge finetune DIR --task classify`',
    });
  }
  return head.labels;
}

/** The argmax class of each row of (N * L) probabilities. */
export function predictedClasses(probabilities: Float32Array, L: number): Int32Array {
  const out = new Int32Array(probabilities.length / L);
  for (let i = 0; i < out.length; i++) out[i] = argmax(probabilities, i * L, L);
  return out;
}

export class ClassifyObjective implements Objective<ClassifyBatch> {
  readonly kind = 'classify';
  readonly #data: ClassifyData;

  constructor(data: ClassifyData) {
    for (const [split, examples] of [
      ['training', data.train],
      ['validation', data.val],
    ] as const) {
      if (examples.length === 0) {
        throw new ConfigError(`the ${split} split has no examples`, {
          where: 'ClassifyObjective',
          hint: 'give more data',
        });
      }
    }
    this.#data = data;
  }

  check(model: LanguageModel): void {
    const names = checkSequenceClassifier(model, 'ClassifyObjective');
    const { labels } = this.#data;
    if (names.length !== labels.length || names.some((name, i) => name !== labels[i])) {
      throw new ConfigError("the model's labels differ from the data's", {
        where: 'ClassifyObjective: id2label',
        expected: JSON.stringify(labels),
        actual: JSON.stringify(names),
      });
    }
    checkSequences([...this.#data.train, ...this.#data.val], model);
  }

  #examples(split: ObjectiveSplit): readonly ClassifyExample[] {
    return split === 'train' ? this.#data.train : this.#data.val;
  }

  batches(
    split: ObjectiveSplit,
    rng: Rng,
  ): BatchSource<ClassifyBatch> & { readonly batchesPerEpoch: number } {
    const examples = this.#examples(split);
    return new ExampleBatches(
      examples.length,
      { batchSize: this.#data.batchSize, shuffle: split === 'train' },
      rng,
      (indices) => {
        const rows = padRows(
          indices.map((i) => examples[i]!.ids),
          this.#data.padId,
        );
        const labels = Int32Array.from(indices, (i) => examples[i]!.label);
        return { ids: rows.ids, keys: rows.keys, labels: Tensor.fromArray(labels, [labels.length]) };
      },
    );
  }

  /** Training batches per epoch. */
  get trainBatchesPerEpoch(): number {
    return Math.ceil(this.#data.train.length / this.#data.batchSize);
  }

  /** Batches that cover the validation split once. */
  get valBatches(): number {
    return Math.ceil(this.#data.val.length / this.#data.batchSize);
  }

  loss(model: LanguageModel, batch: ClassifyBatch, settings: ForwardSettings): ObjectiveLoss {
    const { logits } = model.forward(
      { ids: batch.ids, attentionMask: { kind: 'padding', keys: batch.keys } },
      { logits: 'all', mode: settings.mode, ...(settings.rng === undefined ? {} : { rng: settings.rng }) },
    ); // (B, L)
    return { loss: crossEntropy(logits!, batch.labels), tokens: batch.labels.size }; // () mean over B
  }

  /** The validation split's report (accuracy, macro-F1, per class). */
  report(model: LanguageModel): ClassificationReport {
    const { val, labels, padId } = this.#data;
    const probabilities = classProbabilities(
      model,
      val.map((e) => e.ids),
      { padId },
    );
    const gold = Int32Array.from(val, (e) => e.label);
    return classificationReport(gold, predictedClasses(probabilities, labels.length), labels);
  }

  metrics(model: LanguageModel): Readonly<Record<string, number>> {
    const report = this.report(model);
    return { val_accuracy: report.accuracy, val_macro_f1: report.macroF1 };
  }
}
