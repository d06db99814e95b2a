/**
 * Sequence-to-sequence training (translation), as "Attention Is All You Need" and HF's
 * MarianMTModel train: teacher forcing over length-bucketed, padded batches of sentence pairs
 * (data/pairs.ts: source ids + padding mask, decoder inputs = shift_tokens_right(labels)),
 * the label-smoothed cross-entropy of every target id (smoothing 0.1 as in the paper,
 * section 5.4; padding labels -100 count nowhere), the mean over the batch's target ids.
 *
 * Metrics at each evaluation: val_bleu and val_chrf (sacreBLEU's corpus BLEU and chrF2) of a
 * fixed subset of the validation pairs (the first `metricPairs`, default 64), decoded greedily
 * (src/generate/translate.ts) and detokenized, against their target texts. Greedy decoding
 * keeps an evaluation short; `lmforge eval` scores with the folder's own decoding (beam search).
 */
import { Rng, crossEntropy } from '../../tensor/index.js';
import { isEncoderDecoder, type LanguageModel } from '../../models/index.js';
import { corpusBleu, corpusChrf } from '../../eval/index.js';
import { resolveTranslationConfig, translateIds, type TranslationConfig } from '../../generate/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import {
  PairBatcher,
  labelIgnoreIndex,
  type EncodedPair,
  type PairBatch,
  type PairBatching,
  type PairBatcherState,
} from '../data/pairs.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';
import { jsonText } from '../../util/preview.js';

export interface Seq2seqData {
  readonly train: readonly EncodedPair[];
  readonly val: readonly EncodedPair[];
  /** The target texts of `val`, in order: the references of val_bleu / val_chrf. */
  readonly valTargets: readonly string[];
  readonly batching: PairBatching;
  readonly padTokenId: number;
  readonly decoderStartTokenId: number;
  readonly eosTokenId: number;
  /** eps of the label-smoothed cross-entropy, in [0, 1) (default 0.1). */
  readonly labelSmoothing?: number;
  /** Target ids -> text, for the metrics (the tokenizer's decode without special tokens). */
  readonly detokenize: (ids: readonly number[]) => string;
  /** Validation pairs decoded for the metrics (default 64; 0: no metrics). */
  readonly metricPairs?: number;
}

export class Seq2seqObjective implements Objective<PairBatch> {
  readonly kind = 'seq2seq';
  readonly #data: Seq2seqData;
  readonly #labelSmoothing: number;
  readonly #metricPairs: number;

  constructor(data: Seq2seqData) {
    const labelSmoothing = data.labelSmoothing ?? 0.1;
    const metricPairs = data.metricPairs ?? 64;
    const problems: string[] = [];
    if (!(labelSmoothing >= 0 && labelSmoothing < 1))
      problems.push(`labelSmoothing must be in [0, 1) (got ${labelSmoothing})`);
    if (!(Number.isInteger(metricPairs) && metricPairs >= 0))
      problems.push(`metricPairs must be an integer >= 0 (got ${metricPairs})`);
    if (data.valTargets.length !== data.val.length)
      problems.push(
        `valTargets must hold one text per validation pair (${data.val.length}, got ${data.valTargets.length})`,
      );
    if (problems.length > 0) {
      throw new ConfigError('invalid sequence-to-sequence data', {
        where: 'Seq2seqObjective',
        actual: problems.join('; '),
      });
    }
    this.#data = data;
    this.#labelSmoothing = labelSmoothing;
    this.#metricPairs = Math.min(metricPairs, data.val.length);
    // Fail now, not at the first evaluation, when a split cannot make a batch.
    void this.batches('train', new Rng(0));
    void this.batches('val', new Rng(0));
  }

  check(model: LanguageModel): void {
    if (!isEncoderDecoder(model)) {
      throw new ConfigError('sequence-to-sequence training needs an encoder-decoder model', {
        where: 'Trainer',
        expected: "a model of kind 'encoder-decoder' (train --arch marian)",
        actual: model.kind,
      });
    }
    const { padTokenId, decoderStartTokenId } = this.#data;
    if (model.padTokenId !== padTokenId || model.decoderStartTokenId !== decoderStartTokenId) {
      throw new ConfigError("the batches' pad and start ids differ from the model's", {
        where: 'Trainer',
        expected: `pad ${model.padTokenId}, decoder start ${model.decoderStartTokenId} (config.json)`,
        actual: `pad ${padTokenId}, decoder start ${decoderStartTokenId}`,
      });
    }
    const longest = (pairs: readonly EncodedPair[]): EncodedPair | undefined =>
      pairs.find((p) => Math.max(p.source.length, p.target.length) > model.maxPositions);
    const over = longest(this.#data.train) ?? longest(this.#data.val);
    if (over !== undefined) {
      throw new ConfigError("a pair is longer than the model's positions", {
        where: over.where,
        expected: `at most ${model.maxPositions} ids a side (max_position_embeddings)`,
        actual: `source ${over.source.length}, target ${over.target.length} ids`,
      });
    }
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<PairBatch> {
    const pairs = split === 'train' ? this.#data.train : this.#data.val;
    if (pairs.length === 0) {
      throw new ConfigError(`no ${split === 'train' ? 'training' : 'validation'} pairs`, {
        where: 'Seq2seqObjective',
        hint: 'give parallel data with at least one pair in each split',
      });
    }
    const { batching, padTokenId, decoderStartTokenId } = this.#data;
    const batcher = new PairBatcher(pairs, { batching, padTokenId, decoderStartTokenId, shuffle: true, rng });
    return {
      next: () => batcher.next(),
      getState: () => batcher.getState(),
      setState: (state) => {
        const s = state as Partial<PairBatcherState> | null;
        if (typeof s !== 'object' || s === null || typeof s.epoch !== 'number' || typeof s.rng !== 'object') {
          throw new FormatError('the pair batcher state is not one', {
            where: 'trainer_state.json: rng.sampler',
            expected: '{ epoch, cursor, rng }',
            actual: jsonText(state),
          });
        }
        batcher.setState(s as PairBatcherState);
      },
    };
  }

  loss(model: LanguageModel, batch: PairBatch, settings: ForwardSettings): ObjectiveLoss {
    const { logits, auxLoss } = model.forward(
      { ids: batch.decoderInputIds, sourceIds: batch.sourceIds, sourceMask: batch.sourceKeys },
      { logits: 'all', mode: settings.mode, ...(settings.rng === undefined ? {} : { rng: settings.rng }) },
    ); // (B, T, V)
    const loss = crossEntropy(logits!, batch.labels, {
      ignoreIndex: labelIgnoreIndex,
      labelSmoothing: this.#labelSmoothing,
    }); // () mean over the target ids
    return { loss, tokens: batch.targetTokens, ...(auxLoss === undefined ? {} : { auxLoss }) };
  }

  /** val_bleu and val_chrf of the first metricPairs validation pairs, decoded greedily. */
  async metrics(model: LanguageModel): Promise<Readonly<Record<string, number>>> {
    const n = this.#metricPairs;
    if (n === 0 || !isEncoderDecoder(model)) return {};
    const pairs = this.#data.val.slice(0, n);
    const references = this.#data.valTargets.slice(0, n);
    const longest = Math.max(...pairs.map((p) => p.target.length));
    const config: TranslationConfig = resolveTranslationConfig({
      // Twice the longest reference (EOS included) is room enough; an untrained model that
      // never emits EOS then costs that many steps, not the whole position table.
      maxNewTokens: Math.min(model.maxPositions - 1, 2 * longest),
      minNewTokens: 0,
      numBeams: 1,
      lengthPenalty: 1,
      earlyStopping: false,
      numReturnSequences: 1,
      noRepeatNgramSize: 0,
      repetitionPenalty: 1,
      decoderStartTokenId: this.#data.decoderStartTokenId,
      eosTokenIds: [this.#data.eosTokenId],
      padTokenId: this.#data.padTokenId,
      forcedEosTokenId: null,
      badWordsIds: [[this.#data.padTokenId]],
      sampling: { kind: 'greedy' },
      seed: 0,
    });
    const decoded = await translateIds(
      model,
      pairs.map((p) => [...p.source]),
      config,
      { batchSize: 32, where: (i) => pairs[i]!.where },
    );
    const hypotheses = decoded.map(([best]) => this.#data.detokenize(best!.ids));
    return {
      val_bleu: corpusBleu(hypotheses, [references]).score,
      val_chrf: corpusChrf(hypotheses, [references]).score,
    };
  }
}
