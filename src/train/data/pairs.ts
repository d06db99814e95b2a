/**
 * Parallel data for sequence-to-sequence training (translation): text pairs read from a
 * file, tokenized, and cut into length-bucketed, padded batches laid out as Hugging Face's
 * Marian training does.
 *
 *   files      TSV `source<TAB>target` (exactly one tab a line) or JSON Lines
 *              `{"source": "...", "target": "..."}`; a bad line is a FormatError naming
 *              file:line (no tab, two tabs, an empty side, bad JSON, a missing field)
 *   tokens     source = encode(source) + EOS, target = encode(target) + EOS (MarianTokenizer
 *              ends both with </s>); a pair longer than the model's positions is an error
 *              naming file:line and the lengths, unless overflow is 'truncate' (the first
 *              max - 1 ids and EOS are kept)
 *   batches    per epoch: the pairs shuffled with a seeded Rng, sorted by length within
 *              windows of `bucketWindow` pairs (similar lengths share a batch: little
 *              padding), cut by a batch size or a token budget (B * longest side <= budget,
 *              fairseq's max_tokens), and the batches shuffled
 *   layout     sourceIds (B, S) right-padded with pad, sourceKeys (B, S) 1/0 (HF's
 *              attention_mask), labels (B, T) = target with -100 on padding, and
 *              decoderInputIds (B, T) = shift_tokens_right(labels): [start, labels[:-1]],
 *              -100 as pad (teacher forcing)
 *
 * The batcher's state is the Rng state at the start of the epoch plus the epoch and the
 * batch cursor, so a resumed run draws exactly the batches an uninterrupted one would.
 */
import { extname } from 'node:path';
import { Rng, Tensor, type RngState } from '../../tensor/index.js';
import type { EncodeOptions, Tokenizer } from '../../tokenizers/index.js';
import { findDuplicateKey } from '../../io/json-duplicate-key.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { readTextFile } from './text-file.js';
import { jsonText } from '../../util/preview.js';

export type PairFormat = 'tsv' | 'jsonl';

export interface TextPair {
  readonly source: string;
  readonly target: string;
  /** `file:line` (1-based), for error messages about this pair. */
  readonly where: string;
}

/** The label value that contributes no loss (PyTorch cross_entropy's and HF's ignore_index). */
export const labelIgnoreIndex = -100;

/** The format a file's extension says: .tsv / .txt are TSV, .jsonl / .ndjson JSON Lines. */
export function pairFormatOf(path: string): PairFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.tsv' || extension === '.txt') return 'tsv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  throw new ConfigError('cannot tell the parallel data format from the file name', {
    where: path,
    expected: 'a .tsv, .txt, .jsonl or .ndjson file, or an explicit format',
    actual: extension === '' ? 'no extension' : extension,
  });
}

/** Rejects a side that is empty or only whitespace. */
function checkSide(text: string, side: 'source' | 'target', where: string): void {
  if (text.trim() === '') {
    throw new FormatError(`the ${side} side is empty`, {
      where,
      expected: `non-empty ${side} text`,
      actual: text === '' ? 'nothing' : 'only whitespace',
    });
  }
}

function parseTsvLine(line: string, where: string): TextPair {
  const tabs = line.split('\t').length - 1;
  if (tabs !== 1) {
    throw new FormatError(tabs === 0 ? 'a line without a tab' : 'a line with more than one tab', {
      where,
      expected: 'source<TAB>target, exactly one tab',
      actual: `${tabs} tabs`,
    });
  }
  const [source, target] = line.split('\t') as [string, string];
  checkSide(source, 'source', where);
  checkSide(target, 'target', where);
  return { source, target, where };
}

function parseJsonLine(line: string, where: string): TextPair {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new FormatError('a line is not valid JSON', {
      where,
      expected: '{"source": "...", "target": "..."}',
      actual: (error as Error).message,
      cause: error,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError('a line is not a JSON object', {
      where,
      expected: '{"source": "...", "target": "..."}',
      actual: Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value,
    });
  }
  const duplicate = findDuplicateKey(line);
  if (duplicate !== null) throw new FormatError('a key appears twice', { where, actual: duplicate });
  const record = value as Record<string, unknown>;
  for (const side of ['source', 'target'] as const) {
    if (typeof record[side] !== 'string') {
      throw new FormatError(`"${side}" must be a string`, {
        where: `${where}: ${side}`,
        actual: record[side] === undefined ? 'missing' : jsonText(record[side]),
      });
    }
    checkSide(record[side], side, where);
  }
  return { source: record.source as string, target: record.target as string, where };
}

/**
 * The pairs of a file's text, one a line (a final newline ends the last line; a CR before
 * each newline is dropped). `path` names the file in errors.
 */
export function parsePairs(text: string, path: string, format: PairFormat): TextPair[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const pairs = lines.map((raw, i) => {
    const where = `${path}:${i + 1}`;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      throw new FormatError('an empty line', {
        where,
        expected: format === 'tsv' ? 'source<TAB>target' : '{"source": "...", "target": "..."}',
      });
    }
    return format === 'tsv' ? parseTsvLine(line, where) : parseJsonLine(line, where);
  });
  if (pairs.length === 0) throw new FormatError('no pairs in the file', { where: path });
  return pairs;
}

/**
 * The pairs of a parallel data file (UTF-8 text; see readTextFile for what is rejected).
 *
 * @example
 * const pairs = await readPairs('train.en-de.tsv');          // TSV by extension
 * const more = await readPairs('dev.jsonl', 'jsonl');
 */
export async function readPairs(path: string, format: PairFormat = pairFormatOf(path)): Promise<TextPair[]> {
  return parsePairs(await readTextFile(path), path, format);
}

export interface PairTokenization {
  /** Encodes the sources. */
  readonly source: Tokenizer;
  /** Encodes the targets: the same object for a joint vocabulary. */
  readonly target: Tokenizer;
  /** Appended to both sides (MarianTokenizer's </s>). */
  readonly eosTokenId: number;
  /** Longest source in ids, EOS included: the encoder's positions. */
  readonly maxSourceLength: number;
  /** Longest target in ids, EOS included (= decoder inputs): the decoder's positions. */
  readonly maxTargetLength: number;
  /** What a longer pair does: 'error' (default) or 'truncate' (keep the first max - 1 ids and EOS). */
  readonly overflow?: 'error' | 'truncate';
  /** Append eosTokenId (default true); false when the tokenizer's post-processor already ends with it. */
  readonly appendEos?: boolean;
  /** Passed to encode (default false: the post-processor's BOS/EOS are left out). */
  readonly addSpecialTokens?: boolean;
}

export interface EncodedPair {
  /** Source ids, EOS last. */
  readonly source: Int32Array;
  /** Target ids, EOS last: the labels. */
  readonly target: Int32Array;
  readonly where: string;
  /** True when overflow 'truncate' shortened a side. */
  readonly truncated: boolean;
}

/** Tokenizes every pair; see the file header for lengths and EOS. */
export function encodePairs(pairs: readonly TextPair[], tokenization: PairTokenization): EncodedPair[] {
  const { eosTokenId, maxSourceLength, maxTargetLength } = tokenization;
  const overflow = tokenization.overflow ?? 'error';
  const appendEos = tokenization.appendEos ?? true;
  const problems: string[] = [];
  if (!(Number.isInteger(eosTokenId) && eosTokenId >= 0))
    problems.push(`eosTokenId must be an id >= 0 (got ${eosTokenId})`);
  for (const [name, value] of [
    ['maxSourceLength', maxSourceLength],
    ['maxTargetLength', maxTargetLength],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 2))
      problems.push(`${name} must be an integer >= 2 (got ${value})`);
  }
  if (overflow !== 'error' && overflow !== 'truncate')
    problems.push(`overflow must be 'error' or 'truncate' (got ${String(overflow)})`);
  if (problems.length > 0) {
    throw new ConfigError('invalid pair tokenization', { where: 'encodePairs', actual: problems.join('; ') });
  }
  const options: EncodeOptions = { addSpecialTokens: tokenization.addSpecialTokens ?? false };
  const encode = (tokenizer: Tokenizer, text: string): number[] => {
    const ids = tokenizer.encode(text, options);
    if (appendEos) ids.push(eosTokenId);
    return ids;
  };
  return pairs.map((pair) => {
    let source = encode(tokenization.source, pair.source);
    let target = encode(tokenization.target, pair.target);
    const tooLong = source.length > maxSourceLength || target.length > maxTargetLength;
    if (tooLong && overflow === 'error') {
      throw new ConfigError("the pair is longer than the model's positions", {
        where: pair.where,
        expected: `source <= ${maxSourceLength} and target <= ${maxTargetLength} ids (EOS included)`,
        actual: `source ${source.length}, target ${target.length} ids`,
        hint: 'truncate long pairs (overflow: truncate, --truncate) or leave them out of the data',
      });
    }
    // Truncation keeps the end marker: the first max - 1 ids, then the side's last id (EOS).
    const cut = (ids: number[], max: number): number[] =>
      ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]!];
    source = cut(source, maxSourceLength);
    target = cut(target, maxTargetLength);
    return {
      source: Int32Array.from(source),
      target: Int32Array.from(target),
      where: pair.where,
      truncated: tooLong,
    };
  });
}

/** How a batch is filled: a fixed number of pairs, or a budget of B * (longest side) ids. */
export type PairBatching =
  | { readonly kind: 'sentences'; readonly size: number }
  | { readonly kind: 'tokens'; readonly budget: number };

export interface PairBatcherOptions {
  readonly batching: PairBatching;
  readonly padTokenId: number;
  /** The decoder's first input (Marian: the pad id). */
  readonly decoderStartTokenId: number;
  /** Shuffle the pairs and the batches every epoch (training); false keeps the file order and sorts windows only. */
  readonly shuffle: boolean;
  /**
   * Pairs sorted by length together (default 1000); batches are cut within a window, so a
   * window smaller than a batch makes smaller batches.
   */
  readonly bucketWindow?: number;
  /** The shuffling Rng (its state is the batcher's); default new Rng(seed ?? 0). */
  readonly rng?: Rng;
  readonly seed?: number;
}

export interface PairBatch {
  /** (B, S) int32, right-padded with padTokenId. */
  readonly sourceIds: Tensor;
  /** (B, S) int32: 1 for a source id, 0 for padding (the encoder's padding keys). */
  readonly sourceKeys: Tensor;
  /** (B, T) int32: shift_tokens_right(labels): [decoderStartTokenId, labels[0 .. T - 2]], -100 as padTokenId. */
  readonly decoderInputIds: Tensor;
  /** (B, T) int32: the target ids (EOS last), labelIgnoreIndex on padding. */
  readonly labels: Tensor;
  /** Labels that count (not padding): the divisor of a mean loss. */
  readonly targetTokens: number;
  /** file:line of each row. */
  readonly where: readonly string[];
}

export interface PairBatcherState {
  readonly epoch: number;
  /** Batches of this epoch already handed out. */
  readonly cursor: number;
  /** The Rng at the start of this epoch (the epoch's order is drawn from it). */
  readonly rng: RngState;
}

/**
 * Length-bucketed batches of encoded pairs, epoch after epoch.
 *
 * @example
 * const batcher = new PairBatcher(encodePairs(await readPairs('train.tsv'), tokenization),
 *   { batching: { kind: 'tokens', budget: 4096 }, padTokenId: pad, decoderStartTokenId: pad, shuffle: true, seed: 1 });
 * const { sourceIds, sourceKeys, decoderInputIds, labels } = batcher.next();
 */
export class PairBatcher {
  readonly #pairs: readonly EncodedPair[];
  readonly #options: Required<Omit<PairBatcherOptions, 'rng' | 'seed'>>;
  #rng: Rng;
  #epochStart: RngState;
  #epoch = 0;
  #cursor = 0;
  #plan: number[][];

  constructor(pairs: readonly EncodedPair[], options: PairBatcherOptions) {
    const bucketWindow = options.bucketWindow ?? 1000;
    const problems: string[] = [];
    const { batching } = options;
    if (batching.kind === 'sentences' && !(Number.isInteger(batching.size) && batching.size >= 1)) {
      problems.push(`batch size must be an integer >= 1 (got ${batching.size})`);
    }
    if (batching.kind === 'tokens' && !(Number.isInteger(batching.budget) && batching.budget >= 1)) {
      problems.push(`token budget must be an integer >= 1 (got ${batching.budget})`);
    }
    if (batching.kind !== 'sentences' && batching.kind !== 'tokens') {
      problems.push(
        `batching kind must be 'sentences' or 'tokens' (got ${String((batching as PairBatching).kind)})`,
      );
    }
    for (const [name, id] of [
      ['padTokenId', options.padTokenId],
      ['decoderStartTokenId', options.decoderStartTokenId],
    ] as const) {
      if (!(Number.isInteger(id) && id >= 0)) problems.push(`${name} must be an id >= 0 (got ${id})`);
    }
    if (!(Number.isInteger(bucketWindow) && bucketWindow >= 1))
      problems.push(`bucketWindow must be an integer >= 1 (got ${bucketWindow})`);
    if (pairs.length === 0) problems.push('there are no pairs');
    if (problems.length > 0)
      throw new ConfigError('invalid pair batching', { where: 'PairBatcher', actual: problems.join('; ') });
    if (batching.kind === 'tokens') {
      const over = pairs.find((p) => Math.max(p.source.length, p.target.length) > batching.budget);
      if (over !== undefined) {
        throw new ConfigError('a pair alone exceeds the token budget', {
          where: over.where,
          expected: `at most ${batching.budget} ids a side (the token budget)`,
          actual: `source ${over.source.length}, target ${over.target.length} ids`,
          hint: 'raise the token budget or truncate long pairs',
        });
      }
    }
    this.#pairs = pairs;
    this.#options = {
      batching,
      padTokenId: options.padTokenId,
      decoderStartTokenId: options.decoderStartTokenId,
      shuffle: options.shuffle,
      bucketWindow,
    };
    this.#rng = options.rng ?? new Rng(options.seed ?? 0);
    this.#epochStart = this.#rng.getState();
    this.#plan = this.#planEpoch();
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Batches in one epoch (the same every epoch for a sentence count; may vary by a few with a token budget). */
  get batchesPerEpoch(): number {
    return this.#plan.length;
  }

  /** The next batch; after the last batch of an epoch, the first of the next. Tensors are created in the caller's scope. */
  next(): PairBatch {
    if (this.#cursor === this.#plan.length) {
      this.#epoch++;
      this.#cursor = 0;
      this.#epochStart = this.#rng.getState();
      this.#plan = this.#planEpoch();
    }
    return this.#batch(this.#plan[this.#cursor++]!);
  }

  getState(): PairBatcherState {
    return { epoch: this.#epoch, cursor: this.#cursor, rng: this.#epochStart };
  }

  /** Continues exactly where the batcher that gave `state` was. */
  setState(state: PairBatcherState): void {
    this.#rng = Rng.fromState(state.rng);
    this.#epochStart = state.rng;
    this.#plan = this.#planEpoch();
    if (!(Number.isInteger(state.cursor) && state.cursor >= 0 && state.cursor <= this.#plan.length)) {
      throw new ConfigError('the batcher state does not fit this data', {
        where: 'PairBatcher.setState: cursor',
        expected: `an integer in [0, ${this.#plan.length}] (batches per epoch)`,
        actual: state.cursor,
        hint: 'resume with the same data, batching and bucket window',
      });
    }
    this.#epoch = state.epoch;
    this.#cursor = state.cursor;
  }

  /** One epoch's batches (pair indices), drawn from the Rng. */
  #planEpoch(): number[][] {
    const { shuffle, bucketWindow, batching } = this.#options;
    const n = this.#pairs.length;
    const order = Array.from({ length: n }, (_, i) => i);
    if (shuffle) shuffleInPlace(order, this.#rng);
    const longest = (i: number): number =>
      Math.max(this.#pairs[i]!.source.length, this.#pairs[i]!.target.length);
    const batches: number[][] = [];
    for (let start = 0; start < n; start += bucketWindow) {
      // Array.prototype.sort is stable: equal lengths keep the (shuffled) order.
      const window = order.slice(start, start + bucketWindow).sort((a, b) => longest(a) - longest(b));
      let batch: number[] = [];
      let width = 0;
      for (const i of window) {
        const fits =
          batching.kind === 'sentences'
            ? batch.length < batching.size
            : (batch.length + 1) * Math.max(width, longest(i)) <= batching.budget;
        if (!fits) {
          batches.push(batch);
          batch = [];
          width = 0;
        }
        batch.push(i);
        width = Math.max(width, longest(i));
      }
      if (batch.length > 0) batches.push(batch);
    }
    if (shuffle) shuffleInPlace(batches, this.#rng);
    return batches;
  }

  #batch(indices: readonly number[]): PairBatch {
    const { padTokenId, decoderStartTokenId } = this.#options;
    const pairs = indices.map((i) => this.#pairs[i]!);
    const B = pairs.length;
    const S = Math.max(...pairs.map((p) => p.source.length));
    const T = Math.max(...pairs.map((p) => p.target.length));
    const sourceIds = new Int32Array(B * S).fill(padTokenId);
    const sourceKeys = new Int32Array(B * S);
    const labels = new Int32Array(B * T).fill(labelIgnoreIndex);
    const decoderInputIds = new Int32Array(B * T).fill(padTokenId);
    let targetTokens = 0;
    pairs.forEach((pair, b) => {
      sourceIds.set(pair.source, b * S);
      sourceKeys.fill(1, b * S, b * S + pair.source.length);
      labels.set(pair.target, b * T);
      // shift_tokens_right over the padded labels: the start id, then labels[0 .. T - 2] with
      // -100 as pad. A row shorter than T so keeps its EOS as an input (under an ignored label).
      decoderInputIds[b * T] = decoderStartTokenId;
      decoderInputIds.set(pair.target.subarray(0, Math.min(pair.target.length, T - 1)), b * T + 1);
      targetTokens += pair.target.length;
    });
    return {
      sourceIds: Tensor.fromArray(sourceIds, [B, S]), // (B, S)
      sourceKeys: Tensor.fromArray(sourceKeys, [B, S]), // (B, S)
      decoderInputIds: Tensor.fromArray(decoderInputIds, [B, T]), // (B, T)
      labels: Tensor.fromArray(labels, [B, T]), // (B, T)
      targetTokens,
      where: pairs.map((p) => p.where),
    };
  }
}

/** Fisher-Yates with the Rng (uniform over permutations). */
function shuffleInPlace<T>(items: T[], rng: Rng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
