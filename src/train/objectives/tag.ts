/**
 * Token classification (tagging, NER; HF's *ForTokenClassification): words of a sentence
 * with one tag each, tokenized word by word (HF's `is_split_into_words`), the word's tag on
 * its first sub-token and -100 on its other sub-tokens and the special tokens
 * (data/word-labels.ts, as HF's run_ner.py). The loss is the mean softmax cross-entropy over
 * the labelled tokens, the head computed at those positions only (logits `{ at }`; the same
 * value as HF's loss over every position with -100 elsewhere).
 *
 * Metrics at each evaluation, over the whole validation split: a word's tag is the argmax at
 * its first sub-token, and the tags are scored by conlleval (metrics/conlleval.ts):
 * `val_f1`, `val_precision`, `val_recall` (entity level) and `val_token_accuracy`.
 *
 * Legend: B batch, T time, L labels, N labelled tokens of a batch.
 */
import { Rng, Tensor, crossEntropy, noGrad, scope } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import type { Tokenizer } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { ExampleBatches, checkSequences, padRows, type SequenceExample } from '../data/example-batches.js';
import { alignWordLabels, firstTokenOfWords, ignoreLabel, wordIdsFromCounts } from '../data/word-labels.js';
import { argmax } from '../baselines/text-classifier.js';
import { conlleval, type ConllevalReport } from '../metrics/conlleval.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

/** A sentence tokenized word by word. */
export interface WordSequence extends SequenceExample {
  /** The index of each word's first token in `ids`, -1 for a word that became no token. */
  readonly firstTokens: Int32Array;
  /** The word of each token, null for a special token (HF's `word_ids()`). */
  readonly wordIds: readonly (number | null)[];
}

export interface TagExample extends WordSequence {
  /** The tag id of each word. */
  readonly tags: Int32Array;
  /** The tag id of each token: the word's on its first token, -100 elsewhere. */
  readonly labels: Int32Array;
}

export interface TagData {
  readonly train: readonly TagExample[];
  readonly val: readonly TagExample[];
  /** The tag names by id (the head's id2label). */
  readonly labels: readonly string[];
  readonly batchSize: number;
  readonly padId: number;
}

export interface TagBatch {
  /** (B, T) int32, right-padded. */
  readonly ids: Tensor;
  /** (B, T) int32: 1 on real tokens. */
  readonly keys: Tensor;
  /** (N) int32: flat positions b * T + t of the labelled tokens. */
  readonly at: Tensor;
  /** (N) int32: their tag ids. */
  readonly targets: Tensor;
}

/** The special tokens the tokenizer's post-processor puts before and after one sequence. */
function specialsAround(tokenizer: Tokenizer): { before: number[]; after: number[] } {
  const probe = tokenizer.encodeDetailed('a');
  const first = probe.sequenceIds.findIndex((id) => id !== null);
  const last = probe.sequenceIds.length - 1 - [...probe.sequenceIds].reverse().findIndex((id) => id !== null);
  return { before: probe.ids.slice(0, first), after: probe.ids.slice(last + 1) };
}

/**
 * `words` tokenized one by one (no special tokens each) and joined between the
 * post-processor's specials ([CLS] ... [SEP]), with each word's first token: HF's
 * `tokenizer(words, is_split_into_words=True)` with `word_ids()`.
 *
 * @example
 * const { ids, firstTokens } = encodeWords(bert, ['Peter', 'Blackburn'], 'train.conll:1');
 */
export function encodeWords(tokenizer: Tokenizer, words: readonly string[], where: string): WordSequence {
  const { before, after } = specialsAround(tokenizer);
  const pieces = words.map((word) => tokenizer.encode(word, { addSpecialTokens: false }));
  const ids = Int32Array.from([...before, ...pieces.flat(), ...after]);
  const wordIds = wordIdsFromCounts(
    pieces.map((p) => p.length),
    { before: before.length, after: after.length },
  );
  return { ids, where, wordIds, firstTokens: firstTokenOfWords(wordIds, words.length) };
}

/** A tagging example: the words encoded, their tags aligned to the first sub-tokens. */
export function tagExample(
  tokenizer: Tokenizer,
  words: readonly string[],
  tags: Int32Array,
  where: string,
): TagExample {
  const sequence = encodeWords(tokenizer, words, where);
  return { ...sequence, tags, labels: alignWordLabels(sequence.wordIds, tags) };
}

/** The tag names of a model's token-classification head; any other head is a ConfigError. */
export function checkTokenClassifier(model: LanguageModel, where: string): readonly string[] {
  const head = model.head;
  if (head?.kind !== 'token-classification') {
    throw new ConfigError('the model has no token-classification head', {
      where,
      expected: 'a *ForTokenClassification model (config.json architectures)',
      actual: head?.kind ?? 'causal-lm',
      hint: 'fine-tune one with `lmforge finetune DIR --task tag`',
    });
  }
  return head.labels;
}

/**
 * Each sentence's tag id per word (the argmax at the word's first token; `fallback` for a
 * word that became no token), eval mode, no gradient.
 */
export function wordTagPredictions(
  model: LanguageModel,
  sequences: readonly WordSequence[],
  options: { readonly padId: number; readonly fallback: number; readonly batchSize?: number },
): Int32Array[] {
  const L = checkTokenClassifier(model, 'wordTagPredictions').length;
  const step = options.batchSize ?? 32;
  const out: Int32Array[] = [];
  for (let start = 0; start < sequences.length; start += step) {
    const slice = sequences.slice(start, start + step);
    scope(() =>
      noGrad(() => {
        const rows = padRows(
          slice.map((s) => s.ids),
          options.padId,
        );
        const logits = model.forward(
          { ids: rows.ids, attentionMask: { kind: 'padding', keys: rows.keys } },
          { logits: 'all', mode: 'eval' },
        ).logits!; // (B, T, L)
        const values = logits.floats();
        slice.forEach((sequence, b) => {
          out.push(
            Int32Array.from(sequence.firstTokens, (t) =>
              t < 0 ? options.fallback : argmax(values, (b * rows.length + t) * L, L),
            ),
          );
        });
      }),
    );
  }
  return out;
}

export class TagObjective implements Objective<TagBatch> {
  readonly kind = 'tag';
  readonly #data: TagData;

  constructor(data: TagData) {
    for (const [split, examples] of [
      ['training', data.train],
      ['validation', data.val],
    ] as const) {
      if (examples.length === 0) {
        throw new ConfigError(`the ${split} split has no sentences`, {
          where: 'TagObjective',
          hint: 'give more data',
        });
      }
    }
    const empty = [...data.train, ...data.val].find((e) => !e.labels.some((l) => l !== ignoreLabel));
    if (empty !== undefined) {
      throw new ConfigError('no word of the sentence became a token', {
        where: empty.where,
        hint: 'the tokenizer drops every character of these words',
      });
    }
    this.#data = data;
  }

  check(model: LanguageModel): void {
    const names = checkTokenClassifier(model, 'TagObjective');
    const { labels } = this.#data;
    if (names.length !== labels.length || names.some((name, i) => name !== labels[i])) {
      throw new ConfigError("the model's tags differ from the data's", {
        where: 'TagObjective: id2label',
        expected: JSON.stringify(labels),
        actual: JSON.stringify(names),
      });
    }
    checkSequences([...this.#data.train, ...this.#data.val], model);
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<TagBatch> {
    const examples = split === 'train' ? this.#data.train : this.#data.val;
    return new ExampleBatches(
      examples.length,
      { batchSize: this.#data.batchSize, shuffle: split === 'train' },
      rng,
      (indices) => {
        const chosen = indices.map((i) => examples[i]!);
        const rows = padRows(
          chosen.map((e) => e.ids),
          this.#data.padId,
        );
        const at: number[] = [];
        const targets: number[] = [];
        chosen.forEach((e, b) =>
          e.labels.forEach((label, t) => {
            if (label === ignoreLabel) return;
            at.push(b * rows.length + t);
            targets.push(label);
          }),
        );
        return {
          ids: rows.ids,
          keys: rows.keys,
          at: Tensor.fromArray(Int32Array.from(at), [at.length]),
          targets: Tensor.fromArray(Int32Array.from(targets), [targets.length]),
        };
      },
    );
  }

  get trainBatchesPerEpoch(): number {
    return Math.ceil(this.#data.train.length / this.#data.batchSize);
  }

  get valBatches(): number {
    return Math.ceil(this.#data.val.length / this.#data.batchSize);
  }

  loss(model: LanguageModel, batch: TagBatch, settings: ForwardSettings): ObjectiveLoss {
    const { logits } = model.forward(
      { ids: batch.ids, attentionMask: { kind: 'padding', keys: batch.keys } },
      {
        logits: { at: batch.at },
        mode: settings.mode,
        ...(settings.rng === undefined ? {} : { rng: settings.rng }),
      },
    ); // (N, L)
    return { loss: crossEntropy(logits!, batch.targets), tokens: batch.targets.size }; // () mean over N
  }

  /** conlleval of the validation split's predicted tags. */
  report(model: LanguageModel): ConllevalReport {
    const { val, labels, padId } = this.#data;
    const fallback = Math.max(0, labels.indexOf('O'));
    const predicted = wordTagPredictions(model, val, { padId, fallback });
    const names = (ids: Int32Array): string[] => Array.from(ids, (id) => labels[id]!);
    return conlleval(
      val.map((e) => names(e.tags)),
      predicted.map(names),
    );
  }

  metrics(model: LanguageModel): Readonly<Record<string, number>> {
    const report = this.report(model);
    return {
      val_f1: report.overall.f1,
      val_precision: report.overall.precision,
      val_recall: report.overall.recall,
      val_token_accuracy: report.tokenAccuracy,
    };
  }
}
