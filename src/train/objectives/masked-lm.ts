/**
 * Masked-language-model pre-training (BERT; Devlin et al., 2018), as Hugging Face's
 * run_mlm.py with DataCollatorForLanguageModeling / DataCollatorForWholeWordMask:
 *
 * - Sequences (run_mlm's group_texts): the token stream (tokenized without special tokens)
 *   is cut into consecutive chunks of blockSize - 2 tokens, the remainder dropped, and each
 *   chunk is one sequence `[CLS] chunk [SEP]` of exactly blockSize tokens: no padding, token
 *   types all 0. A batch draws batchSize chunks uniformly, with replacement, from its rng.
 * - Dynamic masking, drawn per batch from the same rng (so every epoch masks anew): each
 *   non-special position is chosen with probability 0.15; of the chosen, 80% become [MASK],
 *   10% a random id (uniform over the whole vocabulary, as HF) and 10% stay as they are. The
 *   labels are the original ids at the chosen positions and -100 elsewhere. A sequence that
 *   drew no position gets one (uniform over its positions), as the original BERT predicts at
 *   least one token per sequence, so that no batch has an empty loss.
 * - Whole-word masking (option): words are a token and the `##` continuation tokens after it
 *   (a chunk starting inside a word makes that tail a word of its own); words are taken in a
 *   random order while they fit in round(0.15 T) tokens (at least 1), skipping one that would
 *   overflow, as DataCollatorForWholeWordMask; the 80/10/10 rule then applies per token.
 * - Loss: cross-entropy over the chosen positions only, the head computed there alone
 *   (logits `{ at }`, as the original BERT gathers the masked positions before its head;
 *   the same value as HF's loss over every position with labels -100 elsewhere).
 * - Metrics: the masked-token accuracy on the validation split (`val_masked_accuracy`):
 *   argmax == label over the chosen positions of the first metricBatches batches of
 *   consecutive validation chunks, masked from a fixed seed, so every evaluation of a run
 *   scores the same positions.
 *
 * The batch source's state is its rng, saved in each checkpoint (exact resume).
 */
import { Rng, Tensor, argmax, crossEntropy, type RngState } from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import type { Tokenizer } from '../../tokenizers/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

export interface MaskedLmBatch {
  /** (B, T) int32: the sequences after masking. */
  readonly ids: Tensor;
  /** (B, T) int32: the original id at each chosen position, -100 elsewhere. */
  readonly labels: Tensor;
}

/** The ids masking needs: the specials of a BERT tokenizer. */
export interface MaskedLmTokens {
  readonly cls: number;
  readonly sep: number;
  readonly mask: number;
  readonly pad: number;
  /** Ids never chosen for prediction ([CLS], [SEP], [PAD], [MASK], every special token). */
  readonly special: ReadonlySet<number>;
  /** Random replacements are drawn from [0, vocabSize). */
  readonly vocabSize: number;
  /** continuation[id] is 1 for a `##` word-piece continuation (whole-word masking). */
  readonly continuation: Uint8Array;
}

export interface MaskingOptions {
  /** Share of the positions predicted (default 0.15). */
  readonly probability?: number;
  /** Mask whole words (a token and its `##` continuations) instead of single tokens. */
  readonly wholeWord?: boolean;
}

/** The special tokens masked-LM needs, by their BERT names. */
const requiredTokens = ['[CLS]', '[SEP]', '[MASK]', '[PAD]'] as const;

/**
 * The masked-LM ids of a tokenizer: [CLS] [SEP] [MASK] [PAD] must all exist (a ConfigError
 * at `where` names the missing ones), continuations are the vocabulary's `##` pieces.
 *
 * @example
 * const tokens = maskedLmTokens(await loadTokenizer('bert/tokenizer.json'));
 */
export function maskedLmTokens(tokenizer: Tokenizer, where = 'tokenizer'): MaskedLmTokens {
  const ids = requiredTokens.map((token) => tokenizer.specialTokens.get(token) ?? tokenizer.tokenToId(token));
  const missing = requiredTokens.filter((_, i) => ids[i] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      `the tokenizer has no ${missing.join(' ')} token${missing.length === 1 ? '' : 's'}`,
      {
        where,
        expected: `a BERT tokenizer with ${requiredTokens.join(' ')}`,
        hint: 'masked-LM training needs a WordPiece tokenizer.json such as a BERT model folder has',
      },
    );
  }
  const [cls, sep, mask, pad] = ids as [number, number, number, number];
  const vocabSize = tokenizer.vocabSize;
  const continuation = new Uint8Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) {
    if (tokenizer.idToToken(id)?.startsWith('##') === true) continuation[id] = 1;
  }
  const special = new Set<number>([cls, sep, mask, pad, ...tokenizer.specialTokens.values()]);
  return { cls, sep, mask, pad, special, vocabSize, continuation };
}

/**
 * Masks `sequences` (B * T ids, rows of T) in place as the file header says, drawing from
 * `rng`; returns the labels (-100 where nothing is predicted).
 *
 * @example
 * const labels = maskSequences(ids, 128, tokens, new Rng(0)); // ids now hold [MASK]s
 */
export function maskSequences(
  sequences: Int32Array,
  T: number,
  tokens: MaskedLmTokens,
  rng: Rng,
  options: MaskingOptions = {},
): Int32Array {
  const probability = options.probability ?? 0.15;
  if (!(probability > 0 && probability < 1)) {
    throw new ConfigError('masking probability out of range', {
      where: 'maskSequences',
      expected: 'a number in (0, 1)',
      actual: probability,
    });
  }
  const labels = new Int32Array(sequences.length).fill(-100);
  const chosen: number[] = [];
  for (let row = 0; row * T < sequences.length; row++) {
    const start = row * T;
    chosen.length = 0;
    const eligible: number[] = [];
    for (let t = start; t < start + T; t++) if (!tokens.special.has(sequences[t]!)) eligible.push(t);
    if (eligible.length === 0) continue;
    if (options.wholeWord === true) {
      chooseWholeWords(sequences, eligible, Math.max(1, Math.round(T * probability)), tokens, rng, chosen);
    } else {
      for (const t of eligible) if (rng.uniform() < probability) chosen.push(t);
      if (chosen.length === 0) chosen.push(eligible[rng.randint(0, eligible.length)]!);
    }
    for (const t of chosen) {
      labels[t] = sequences[t]!;
      const u = rng.uniform();
      if (u < 0.8) sequences[t] = tokens.mask;
      else if (u < 0.9) sequences[t] = rng.randint(0, tokens.vocabSize);
    }
  }
  return labels;
}

/** DataCollatorForWholeWordMask._whole_word_mask over one row's eligible positions. */
function chooseWholeWords(
  sequences: Int32Array,
  eligible: readonly number[],
  budget: number,
  tokens: MaskedLmTokens,
  rng: Rng,
  chosen: number[],
): void {
  const words: number[][] = [];
  for (const t of eligible) {
    const last = words[words.length - 1];
    // A continuation joins the word right before it (not across a special token).
    if (last !== undefined && tokens.continuation[sequences[t]!] === 1 && last[last.length - 1] === t - 1)
      last.push(t);
    else words.push([t]);
  }
  for (let i = words.length - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [words[i], words[j]] = [words[j]!, words[i]!];
  }
  for (const word of words) {
    if (chosen.length >= budget) break;
    if (chosen.length + word.length > budget) continue;
    chosen.push(...word);
  }
}

/**
 * The chosen positions of a batch as flat indices b * T + t (N) and their labels (N): the
 * model computes its head there only, as the original BERT's gather_indexes (the same loss
 * as over every position with -100 elsewhere, without the (B, T, V) logits).
 */
function chosenPositions(labels: Tensor): { readonly at: Tensor; readonly targets: Tensor } {
  const values = labels.values();
  const at: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i] !== -100) at.push(i);
  return {
    at: Tensor.fromArray(Int32Array.from(at), [at.length]),
    targets: Tensor.fromArray(
      Int32Array.from(at, (i) => values[i]!),
      [at.length],
    ),
  };
}

export interface MaskedLmData {
  readonly train: Int32Array;
  readonly val: Int32Array;
  /** Tokens per sequence, [CLS] and [SEP] included. */
  readonly blockSize: number;
  readonly batchSize: number;
  readonly tokens: MaskedLmTokens;
  readonly masking?: MaskingOptions;
  /** Validation batches the accuracy metric reads (default 8). */
  readonly metricBatches?: number;
}

/** The seed of the metric's masking: the same positions at every evaluation. */
const metricSeed = 0x6d6c6d;

export class MaskedLmObjective implements Objective<MaskedLmBatch> {
  readonly kind = 'masked-lm';
  readonly #data: MaskedLmData;

  constructor(data: MaskedLmData) {
    if (!(Number.isSafeInteger(data.blockSize) && data.blockSize >= 3)) {
      throw new ConfigError('a masked-LM sequence needs room for [CLS], a token and [SEP]', {
        where: 'MaskedLmObjective',
        expected: 'blockSize >= 3',
        actual: data.blockSize,
      });
    }
    this.#data = data;
    // Fail now, not at the first evaluation, when a split is too short for one sequence.
    this.#chunks('train');
    this.#chunks('val');
  }

  /** Chunks of a split: how many sequences it holds. */
  #chunks(split: ObjectiveSplit): number {
    const ids = split === 'train' ? this.#data.train : this.#data.val;
    const length = this.#data.blockSize - 2;
    const n = Math.floor(ids.length / length);
    if (n < 1) {
      throw new ConfigError(
        `the ${split === 'train' ? 'training' : 'validation'} split is shorter than one sequence`,
        {
          where: 'MaskedLmObjective',
          expected: `at least blockSize - 2 = ${length} tokens`,
          actual: `${ids.length} tokens`,
          hint: 'use more text or a smaller --block-size',
        },
      );
    }
    return n;
  }

  check(model: LanguageModel): void {
    if (model.kind !== 'encoder' || model.head?.kind !== 'masked-lm') {
      throw new ConfigError('masked-LM training needs an encoder with a masked-LM head', {
        where: 'Trainer',
        expected: 'an encoder with a masked-lm head (BertForMaskedLM)',
        actual: `a ${model.kind} with a ${model.head?.kind ?? 'causal-lm'} head`,
      });
    }
    if (this.#data.blockSize > model.maxPositions) {
      throw new ConfigError('training sequences are longer than the model context', {
        where: 'Trainer',
        expected: `blockSize <= ${model.maxPositions} (max_position_embeddings)`,
        actual: this.#data.blockSize,
      });
    }
  }

  /** The sequences of chunks `indices` of a split, before masking: (B * T) ids. */
  #sequences(split: ObjectiveSplit, indices: readonly number[]): Int32Array {
    const { blockSize: T, tokens } = this.#data;
    const ids = split === 'train' ? this.#data.train : this.#data.val;
    const out = new Int32Array(indices.length * T);
    indices.forEach((chunk, b) => {
      out[b * T] = tokens.cls;
      out.set(ids.subarray(chunk * (T - 2), (chunk + 1) * (T - 2)), b * T + 1);
      out[(b + 1) * T - 1] = tokens.sep;
    });
    return out;
  }

  #batch(split: ObjectiveSplit, indices: readonly number[], rng: Rng): MaskedLmBatch {
    const { blockSize: T, tokens, masking } = this.#data;
    const sequences = this.#sequences(split, indices);
    const labels = maskSequences(sequences, T, tokens, rng, masking);
    const shape = [indices.length, T];
    return { ids: Tensor.fromArray(sequences, shape), labels: Tensor.fromArray(labels, shape) };
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<MaskedLmBatch> {
    const n = this.#chunks(split);
    let random = rng;
    return {
      next: () => {
        const indices = Array.from({ length: this.#data.batchSize }, () => random.randint(0, n));
        return this.#batch(split, indices, random);
      },
      getState: () => random.getState(),
      setState: (state) => {
        if (typeof state !== 'object' || state === null) {
          throw new FormatError('the masked-LM batch state is not an object', {
            where: 'trainer_state.json: rng.sampler',
          });
        }
        random = Rng.fromState(state as RngState);
      },
    };
  }

  loss(model: LanguageModel, batch: MaskedLmBatch, settings: ForwardSettings): ObjectiveLoss {
    const { at, targets } = chosenPositions(batch.labels);
    const { logits, auxLoss } = model.forward(
      { ids: batch.ids },
      { logits: { at }, mode: settings.mode, ...(settings.rng === undefined ? {} : { rng: settings.rng }) },
    ); // (N, V)
    const loss = crossEntropy(logits!, targets); // () mean over the chosen positions
    return { loss, tokens: at.size, ...(auxLoss === undefined ? {} : { auxLoss }) };
  }

  /** `val_masked_accuracy`: see the file header. */
  metrics(model: LanguageModel): Readonly<Record<string, number>> {
    const { batchSize } = this.#data;
    const n = this.#chunks('val');
    const rng = new Rng(metricSeed);
    let correct = 0;
    let total = 0;
    for (let b = 0; b < (this.#data.metricBatches ?? 8) && b * batchSize < n; b++) {
      const indices = Array.from(
        { length: Math.min(batchSize, n - b * batchSize) },
        (_, i) => b * batchSize + i,
      );
      const batch = this.#batch('val', indices, rng);
      const { at, targets } = chosenPositions(batch.labels);
      const { logits } = model.forward({ ids: batch.ids }, { logits: { at }, mode: 'eval' }); // (N, V)
      const guesses = argmax(logits!, -1).values(); // (N)
      const labels = targets.values();
      total += labels.length;
      for (let i = 0; i < labels.length; i++) if (guesses[i] === labels[i]) correct++;
    }
    return { val_masked_accuracy: correct / total };
  }
}
