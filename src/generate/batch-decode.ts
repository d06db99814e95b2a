/**
 * Batched decoding over any LanguageModel, several sentences at once: what greedy and
 * sampled decoding (here) and beam search (beam.ts) share, and greedy/sampled decoding.
 *
 *   decoder-only:    each sentence continues its prompt; prompts of different lengths are
 *                    left-padded, with HF's attention_mask (0 on the padding) and positions
 *                    cumsum(mask) - 1, so every row decodes as it would alone
 *   encoder-decoder: the caller runs the encoder and passes its output (B, S, C) with the
 *                    source padding keys; every row starts from decoderStartTokenId and
 *                    cross-attends its sentence's encoder rows (repeated once per beam)
 *
 * One step feeds every row its last id through the KV cache (or, with useCache false, the
 * whole sequence again: the reference the cache must equal) and reads the last position's
 * logits. A row that finished (an EOS id) is fed padTokenId from then on and generates
 * nothing more, as HF pads finished sequences; the loop ends when every row finished or
 * after maxNewTokens.
 *
 * Legend: B sentences, N rows (B x rows per sentence), T positions, S source positions,
 * C channels, V vocab.
 */
import { Rng, Tensor, contiguous, keep, noGrad, scope } from '../tensor/index.js';
import type { EncoderOutput, LanguageModel, ModelCache, ModelInputs } from '../models/index.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import { type ProcessorOptions, logSoftmaxRow, processRow } from './logits-processors.js';
import { type Sampling, selectToken, validateSampling } from './sampling.js';

/** What the sentences of a batch decode from. */
export type DecodeSource =
  /** Decoder-only models: one prompt (non-empty ids) per sentence. */
  | { readonly kind: 'prompts'; readonly prompts: readonly (readonly number[])[] }
  /** Encoder-decoder models: the encoder's output for B sentences and the decoder's first id. */
  | { readonly kind: 'encoder'; readonly encoderOutput: EncoderOutput; readonly decoderStartTokenId: number };

/** What every batched search takes (HF generate's names in camelCase). */
export interface SearchOptions {
  /** Ids to generate at most per sentence, EOS included (>= 1). */
  readonly maxNewTokens: number;
  /** Ids that end a sequence (HF eos_token_id); empty: only maxNewTokens ends one. */
  readonly eosTokenIds?: readonly number[];
  /** Fed to finished rows (HF pad_token_id); default the first EOS id, else 0. */
  readonly padTokenId?: number;
  /** The last position can only be this id (HF forced_eos_token_id); default none. */
  readonly forcedEosTokenId?: number | null;
  /** No n-gram of this size appears twice in a sequence (HF no_repeat_ngram_size); 0 (default) is off. */
  readonly noRepeatNgramSize?: number;
  /** Id sequences never generated (HF bad_words_ids; Marian bans [[pad]]). */
  readonly badWordsIds?: readonly (readonly number[])[];
  /** EOS is banned before this many ids (HF min_new_tokens); default 0. */
  readonly minNewTokens?: number;
  /** CTRL repetition penalty (> 0, default 1: none). */
  readonly repetitionPenalty?: number;
  /** Default true; false recomputes every sequence each step (the reference for the cache). */
  readonly useCache?: boolean;
  /** Aborting ends the search after the current step (the best so far is returned). */
  readonly signal?: AbortSignal;
}

/** An EOS id ended it, maxNewTokens did, or the caller's signal stopped the search. */
export type SequenceFinish = 'eos' | 'length' | 'aborted';

/** One decoded sequence. */
export interface DecodedSequence {
  /** The generated ids, the final EOS included, no prompt, start id or padding. */
  readonly ids: readonly number[];
  /**
   * Beam search: HF's sequence score, logProb / ids.length^lengthPenalty. Greedy and
   * sampling: logProb.
   */
  readonly score: number;
  /**
   * Sum of the log-probabilities of the ids: beam search after the logits processors (as
   * HF's beam scores; a forced EOS counts 0), greedy and sampling under the model's own
   * distribution (before processors).
   */
  readonly logProb: number;
  readonly finishReason: SequenceFinish;
}

/** The options every search resolves: processors, ids, limits. */
export interface ResolvedSearch extends ProcessorOptions {
  readonly eos: ReadonlySet<number>;
  readonly padTokenId: number;
  readonly useCache: boolean;
  readonly signal: AbortSignal | undefined;
}

const isId = (id: unknown, V: number): boolean =>
  Number.isInteger(id) && (id as number) >= 0 && (id as number) < V;

/** Resolves the shared options, pushing what is wrong with them (against the model) onto `problems`. */
export function resolveSearch(
  model: LanguageModel,
  options: SearchOptions,
  problems: string[],
): ResolvedSearch {
  const V = model.vocabSize;
  const eosTokenIds = options.eosTokenIds ?? [];
  const idProblem = (name: string, id: unknown): void => {
    if (!isId(id, V)) problems.push(`${name} must be an id in [0, ${V}) (got ${String(id)})`);
  };
  if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 1)) {
    problems.push(`maxNewTokens must be an integer >= 1 (got ${options.maxNewTokens})`);
  }
  eosTokenIds.forEach((id, i) => idProblem(`eosTokenIds[${i}]`, id));
  const padTokenId = options.padTokenId ?? eosTokenIds[0] ?? 0;
  idProblem('padTokenId', padTokenId);
  const forcedEosTokenId = options.forcedEosTokenId ?? null;
  if (forcedEosTokenId !== null) idProblem('forcedEosTokenId', forcedEosTokenId);
  const count = (name: string, value: number): void => {
    if (!(Number.isInteger(value) && value >= 0))
      problems.push(`${name} must be an integer >= 0 (got ${value})`);
  };
  const noRepeatNgramSize = options.noRepeatNgramSize ?? 0;
  count('noRepeatNgramSize', noRepeatNgramSize);
  const minNewTokens = options.minNewTokens ?? 0;
  count('minNewTokens', minNewTokens);
  const badWordsIds = options.badWordsIds ?? [];
  badWordsIds.forEach((words, i) => {
    if (words.length === 0) problems.push(`badWordsIds[${i}] is empty`);
    words.forEach((id, j) => idProblem(`badWordsIds[${i}][${j}]`, id));
  });
  const repetitionPenalty = options.repetitionPenalty ?? 1;
  try {
    validateSampling({ kind: 'greedy' }, repetitionPenalty);
  } catch (error) {
    problems.push(String((error as ConfigError).actual));
  }
  return {
    maxNewTokens: options.maxNewTokens,
    eosTokenIds,
    eos: new Set(eosTokenIds),
    padTokenId,
    forcedEosTokenId,
    noRepeatNgramSize,
    minNewTokens,
    badWordsIds,
    repetitionPenalty,
    useCache: options.useCache ?? true,
    signal: options.signal,
  };
}

/** Throws one ConfigError listing `problems`, if any. */
export function throwProblems(problems: readonly string[], where: string): void {
  if (problems.length > 0) {
    throw new ConfigError('invalid decoding options', { where, actual: problems.join('; ') });
  }
}

/**
 * The model side of a batched search: N = B x rowsPerSentence rows, each with its context
 * (prompt or start id, then what it generated), stepped one id at a time through one cache.
 */
export class StepModel {
  readonly sentences: number;
  readonly rows: number;
  /** Per row: what the model has seen or will see next (prompt or start id, then the appended ids). */
  readonly contexts: number[][];
  readonly #model: LanguageModel;
  readonly #cache: ModelCache | null;
  /** Decoder-only: the left padding of each row (0 for an encoder-decoder). */
  readonly #padding: readonly number[];
  readonly #anyPadding: boolean;
  readonly #encoder: EncoderOutput | null;
  /** Padded columns the cache holds (0 before the first step). */
  #cachedColumns = 0;

  constructor(
    model: LanguageModel,
    source: DecodeSource,
    rowsPerSentence: number,
    maxNewTokens: number,
    useCache: boolean,
    where: string,
  ) {
    this.#model = model;
    const V = model.vocabSize;
    let firstContexts: number[][];
    switch (source.kind) {
      case 'prompts': {
        if (model.kind !== 'decoder') {
          throw new ConfigError('prompts decode with a decoder-only model', {
            where,
            expected: "a model of kind 'decoder' (an encoder-decoder model takes { kind: 'encoder' })",
            actual: model.kind,
          });
        }
        if (source.prompts.length === 0) throw new ConfigError('no prompts to decode', { where });
        source.prompts.forEach((prompt, b) => {
          if (prompt.length === 0)
            throw new ConfigError('a prompt is empty', { where: `${where}: prompts[${b}]` });
          const bad = prompt.findIndex((id) => !isId(id, V));
          if (bad >= 0) {
            throw new ConfigError('prompt id outside the model vocabulary', {
              where: `${where}: prompts[${b}][${bad}]`,
              expected: `[0, ${V})`,
              actual: prompt[bad],
            });
          }
        });
        firstContexts = source.prompts.map((p) => [...p]);
        this.#encoder = null;
        break;
      }
      case 'encoder': {
        if (model.kind !== 'encoder-decoder') {
          throw new ConfigError('an encoder output decodes with an encoder-decoder model', {
            where,
            expected: "a model of kind 'encoder-decoder' (a decoder-only model takes { kind: 'prompts' })",
            actual: model.kind,
          });
        }
        if (!isId(source.decoderStartTokenId, V)) {
          throw new ConfigError('decoderStartTokenId outside the model vocabulary', {
            where: `${where}: decoderStartTokenId`,
            expected: `[0, ${V})`,
            actual: source.decoderStartTokenId,
          });
        }
        const B = checkEncoderOutput(source.encoderOutput, where);
        firstContexts = Array.from({ length: B }, () => [source.decoderStartTokenId]);
        this.#encoder = repeatRows(source.encoderOutput, rowsPerSentence);
        break;
      }
    }
    const longest = Math.max(...firstContexts.map((c) => c.length));
    if (longest + maxNewTokens > model.maxPositions) {
      this.#disposeEncoder();
      throw new ConfigError('the sequences would not fit the model context', {
        where: `${where}: maxNewTokens`,
        expected: `${source.kind === 'prompts' ? 'the longest prompt' : 'the start id'} + maxNewTokens <= ${model.maxPositions} (the model's positions)`,
        actual: `${longest} + ${maxNewTokens}`,
        hint: 'ask for fewer new tokens or shorten the prompts',
      });
    }
    this.sentences = firstContexts.length;
    this.rows = this.sentences * rowsPerSentence;
    this.contexts = Array.from({ length: this.rows }, (_, r) => [
      ...firstContexts[Math.floor(r / rowsPerSentence)]!,
    ]);
    this.#padding = this.contexts.map((c) => longest - c.length);
    this.#anyPadding = this.#padding.some((p) => p > 0);
    this.#cache = useCache ? model.createCache(this.rows, longest + maxNewTokens) : null;
  }

  /** Appends ids[r] to row r's context (fed at the next logits() call). */
  append(ids: readonly number[]): void {
    ids.forEach((id, r) => this.contexts[r]!.push(id));
  }

  /**
   * Row r continues what old row from[r] was (beam search picks parents); contexts and cache
   * follow. A row takes a parent of its own sentence only (rows of a sentence share its padding).
   */
  reorder(from: readonly number[]): void {
    const old = this.contexts.map((c) => c);
    from.forEach((f, r) => (this.contexts[r] = [...old[f]!]));
    this.#cache?.reorder(from);
  }

  /** The next-id logits of every row, (N, V) row-major, copied into `into`. */
  logits(into: Float32Array): void {
    // Every row has the same padded width: rows of a sentence share its padding, and every
    // row appends one id per step.
    const width = this.#padding[0]! + this.contexts[0]!.length;
    const first = this.#cache === null ? 0 : this.#cachedColumns;
    scope(() =>
      noGrad(() => {
        const { logits } = this.#model.forward(this.#inputs(first, width), { logits: 'last', mode: 'eval' }); // (N, 1, V)
        into.set(logits!.floats());
      }),
    );
    this.#cachedColumns = width;
  }

  /** Model inputs for the padded columns [first, width) of every row. */
  #inputs(first: number, width: number): ModelInputs {
    const N = this.rows;
    const T = width - first;
    const ids = new Int32Array(N * T);
    const positions = new Int32Array(N * T);
    for (let r = 0; r < N; r++) {
      const pad = this.#padding[r]!;
      const context = this.contexts[r]!;
      for (let t = 0; t < T; t++) {
        const at = first + t - pad; // index into the row's context; < 0 on its left padding
        ids[r * T + t] = at >= 0 ? context[at]! : 0;
        positions[r * T + t] = Math.max(at, 0); // HF: cumsum(attention_mask) - 1
      }
    }
    const inputs: { -readonly [K in keyof ModelInputs]: ModelInputs[K] } = {
      ids: Tensor.fromArray(ids, [N, T]), // (N, T)
    };
    if (this.#cache !== null) inputs.cache = this.#cache;
    if (this.#encoder !== null) inputs.encoderOutput = this.#encoder;
    if (this.#anyPadding) {
      const keys = new Int32Array(N * width); // every key so far: cached and new
      for (let r = 0; r < N; r++) keys.fill(1, r * width + this.#padding[r]!, (r + 1) * width);
      inputs.attentionMask = { kind: 'padding', keys: Tensor.fromArray(keys, [N, width]) }; // (N, Tk)
      inputs.positions = Tensor.fromArray(positions, [N, T]); // (N, T)
    }
    return inputs;
  }

  #disposeEncoder(): void {
    if (this.#encoder === null) return;
    this.#encoder.hiddenStates.dispose();
    this.#encoder.keys?.dispose();
  }

  dispose(): void {
    this.#cache?.dispose();
    this.#disposeEncoder();
  }
}

/** Checks an encoder output: hiddenStates (B, S, C) float, keys (B, S) int32 when given; returns B. */
function checkEncoderOutput(output: EncoderOutput, where: string): number {
  const { hiddenStates, keys } = output;
  if (hiddenStates.ndim !== 3 || hiddenStates.shape[0]! < 1) {
    throw new ShapeError('must be (B, S, C) with B >= 1', {
      where: `${where}: encoderOutput.hiddenStates`,
      expected: '(B, S, C)',
      actual: `(${hiddenStates.shape.join(', ')})`,
    });
  }
  const [B, S] = hiddenStates.shape as [number, number, number];
  if (
    keys !== undefined &&
    (keys.dtype !== 'int32' || keys.ndim !== 2 || keys.shape[0] !== B || keys.shape[1] !== S)
  ) {
    throw new ShapeError('must be (B, S) int32 like hiddenStates', {
      where: `${where}: encoderOutput.keys`,
      expected: `(${B}, ${S}) int32`,
      actual: `(${keys.shape.join(', ')}) ${keys.dtype}`,
    });
  }
  return B;
}

/** Each sentence's encoder rows repeated `times` (sentence-major: rows b*times .. b*times + times - 1), kept. */
function repeatRows(output: EncoderOutput, times: number): EncoderOutput {
  const repeat = (t: Tensor): Tensor =>
    noGrad(() => {
      const source = contiguous(t);
      const data = source.values();
      const row = data.length / t.shape[0]!;
      const out = new (data.constructor as new (n: number) => typeof data)(data.length * times);
      for (let b = 0; b < t.shape[0]!; b++) {
        for (let k = 0; k < times; k++) out.set(data.subarray(b * row, (b + 1) * row), (b * times + k) * row);
      }
      if (source !== t) source.dispose();
      return keep(Tensor.fromArray(out, [t.shape[0]! * times, ...t.shape.slice(1)]));
    });
  return output.keys === undefined
    ? { hiddenStates: repeat(output.hiddenStates) }
    : { hiddenStates: repeat(output.hiddenStates), keys: repeat(output.keys) };
}

export interface DecodeBatchOptions extends SearchOptions {
  /** Default greedy. */
  readonly sampling?: Sampling;
  /** The sampling Rng (rows draw in order, one id each per step); `seed` is ignored when given. */
  readonly rng?: Rng;
  /** Default 0. */
  readonly seed?: number;
}

/** Lets the event loop run between steps (server requests, Ctrl-C). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Greedy (default) or sampled decoding of a batch of sentences: one sequence per sentence,
 * in input order. Each row's next id is selectToken() of its processed logits.
 *
 * @example
 * const [a, b] = await decodeBatch(model, { kind: 'prompts', prompts: [[1, 2], [3]] }, { maxNewTokens: 20, eosTokenIds: [0] });
 * const out = await decodeBatch(marian, { kind: 'encoder', encoderOutput, decoderStartTokenId: pad }, { maxNewTokens: 64, eosTokenIds: [eos] });
 */
export async function decodeBatch(
  model: LanguageModel,
  source: DecodeSource,
  options: DecodeBatchOptions,
): Promise<DecodedSequence[]> {
  const where = 'decodeBatch';
  const problems: string[] = [];
  const search = resolveSearch(model, options, problems);
  const sampling = options.sampling ?? { kind: 'greedy' };
  try {
    validateSampling(sampling);
  } catch (error) {
    problems.push(String((error as ConfigError).actual));
  }
  throwProblems(problems, where);
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const step = new StepModel(model, source, 1, search.maxNewTokens, search.useCache, where);
  try {
    const N = step.rows;
    const V = model.vocabSize;
    const logits = new Float32Array(N * V);
    const logProbs = new Float64Array(V);
    const generated = Array.from({ length: N }, (): number[] => []);
    const sums = new Float64Array(N);
    const finish: Array<SequenceFinish | null> = new Array(N).fill(null);
    for (let t = 0; t < search.maxNewTokens; t++) {
      step.logits(logits);
      const next = new Array<number>(N).fill(search.padTokenId);
      for (let r = 0; r < N; r++) {
        if (finish[r] !== null) continue;
        const row = logits.subarray(r * V, (r + 1) * V);
        const id = selectToken(processRow(row, step.contexts[r]!, t, search), sampling, rng);
        sums[r] += logSoftmaxRow(row, logProbs)[id]!;
        generated[r]!.push(id);
        next[r] = id;
        if (search.eos.has(id)) finish[r] = 'eos';
      }
      if (finish.every((f) => f !== null) || t === search.maxNewTokens - 1) break;
      if (search.signal?.aborted === true) {
        finish.forEach((f, r) => (finish[r] = f ?? 'aborted'));
        break;
      }
      step.append(next);
      await yieldToEventLoop();
    }
    return generated.map((ids, r) => ({
      ids,
      score: sums[r]!,
      logProb: sums[r]!,
      finishReason: finish[r] ?? 'length',
    }));
  } finally {
    step.dispose();
  }
}
