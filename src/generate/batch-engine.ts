/**
 * Continuous batching (Orca, Yu et al. 2022; vLLM's scheduler): sequences with ragged
 * prompts join and leave ONE decode loop that runs one batched forward per step over every
 * live sequence, each with its own sampling, seed, penalties, stop strings, token limit,
 * constraint and cancellation. The server's requests share a model through it.
 *
 *   join:   a sequence's prompt is prefilled alone (batch 1), in chunks of prefillChunk
 *           positions aligned to position 0 (the prefix cache restores whole chunks), then
 *           its keys/values are copied into a free row of the batch cache, right-aligned
 *           to the batch's width (left padding)
 *   step:   every row feeds its last id at its own position; the padding mask and the
 *           positions make the decoder attend row by row (attention-mask.ts leftPadding)
 *   leave:  a finished row is fed a dummy id until the rows are compacted (when a new
 *           sequence does not fit a free row, the width reaches the context, or half the
 *           rows are dead)
 *
 * Batch invariance: a sequence's tokens do not depend on what else is in the batch, bit
 * for bit. The projections of a step are skinny GEMMs (batch <= maxBatchRows rows), which
 * native/gemm.c runs with the one-row GEMV arithmetic; attention runs per row over its own
 * keys; the other ops are row-wise. Prefill chunks are the same whatever the cache holds,
 * so a prefix-cache hit gives the same bits as a miss. test/generate/batch-engine.test.ts
 * checks both against one-at-a-time runs.
 *
 * Legend: B rows of the batch cache, W its width (columns filled), V vocab.
 */
import { Rng, Tensor, noGrad, scope } from '../tensor/index.js';
import { KVCache } from '../nn/index.js';
import type { LanguageModel } from '../models/index.js';
import type { StreamDecoder, Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { logSoftmaxRow } from './logits-processors.js';
import {
  argmax,
  applyRepetitionPenalty,
  filteredDistribution,
  rankByProbability,
  validateSampling,
  type Sampling,
} from './sampling.js';
import type { PrefixCache } from './prefix-cache.js';

/** Rows of a step at most: native/gemm.c's LMF_SKINNY_M, up to which a GEMM row is batch-invariant. */
export const maxBatchRows = 64;
/** Prefill positions per forward (<= maxBatchRows rows: the same arithmetic as any other chunk). */
export const prefillChunk = 64;
/** The batch cache's columns are a multiple of this. */
const cacheColumns = 64;

/** Restricts the ids a sequence may generate next (constrained decoding, constrained-json.ts). */
export interface TokenConstraint {
  /** Sets to -Infinity the logits of ids not allowed after what was generated so far. */
  mask(logits: Float64Array): void;
  /** Records the chosen id. */
  advance(id: number): void;
  /** True once the constrained output is complete: the sequence then ends ('stop'). */
  readonly complete: boolean;
}

export interface SequenceRequest {
  readonly promptIds: readonly number[];
  /** >= 1. */
  readonly maxNewTokens: number;
  /** Default greedy. */
  readonly sampling?: Sampling;
  /** Seed of this sequence's own Rng (default 0). */
  readonly seed?: number;
  /** CTRL penalty over prompt and output (default 1: none). */
  readonly repetitionPenalty?: number;
  /** OpenAI's: logit -= presence * [count > 0] + frequency * count, over generated ids (default 0). */
  readonly presencePenalty?: number;
  readonly frequencyPenalty?: number;
  /** Strings that end the sequence; they are not part of the text. */
  readonly stop?: readonly string[];
  /** Ids that end the sequence (yielded, with no text). */
  readonly eosTokenIds?: readonly number[];
  /** Return this many most probable alternatives (0-20) with each id's log-probability; null: none. */
  readonly topLogprobs?: number | null;
  readonly constraint?: TokenConstraint;
  /** Aborting ends the sequence before its next token ('aborted'). */
  readonly signal?: AbortSignal;
}

export type SequenceFinish = 'length' | 'eos' | 'stop' | 'aborted';

export interface EngineToken {
  readonly id: number;
  /** Text this token completes (UTF-8-safe, stop strings held back and cut). */
  readonly text: string;
  readonly index: number;
  /** log p(id) under the model (before sampling filters); with topLogprobs only. */
  readonly logprob: number | null;
  readonly top: readonly { readonly id: number; readonly logprob: number }[] | null;
  readonly finishReason: SequenceFinish | null;
}

export interface SequenceResult {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens restored from the prefix cache. */
  readonly cachedTokens: number;
  readonly finishReason: SequenceFinish;
  /** Milliseconds from submit to the first token (null when none came). */
  readonly firstTokenMs: number | null;
}

/** One submitted sequence: its tokens as they come, and its result. */
export interface SequenceHandle extends AsyncIterable<EngineToken> {
  readonly result: Promise<SequenceResult>;
}

export interface BatchEngineOptions {
  /** Rows per step at most (1..maxBatchRows, default 16); more sequences wait their turn. */
  readonly maxBatch?: number;
  readonly prefixCache?: PrefixCache | null;
  /** Called each time the loop stops with nothing live or waiting (its caches freed). */
  readonly onIdle?: () => void;
}

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

/** A sequence's state in the engine. */
class Sequence {
  readonly context: number[];
  readonly promptTokens: number;
  readonly rng: Rng;
  readonly stops: readonly string[];
  readonly eos: ReadonlySet<number>;
  readonly decoder: StreamDecoder;
  readonly counts = new Map<number, number>();
  readonly queue: EngineToken[] = [];
  readonly started = performance.now();
  firstTokenMs: number | null = null;
  wake: (() => void) | null = null;
  output = '';
  emitted = 0;
  generated = 0;
  /** Positions whose keys/values are in the cache. */
  cached = 0;
  cachedTokens = 0;
  finish: SequenceFinish | null = null;
  resolve!: (result: SequenceResult) => void;
  /** The next-token logits (V), once prefilled or stepped. */
  logits: Float32Array;

  constructor(
    readonly request: SequenceRequest,
    V: number,
    tokenizer: Tokenizer,
  ) {
    this.context = [...request.promptIds];
    this.promptTokens = request.promptIds.length;
    this.rng = new Rng(request.seed ?? 0);
    this.stops = (request.stop ?? []).filter((s) => s !== '');
    this.eos = new Set(request.eosTokenIds ?? []);
    this.decoder = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    this.logits = new Float32Array(V);
  }

  push(token: EngineToken): void {
    this.queue.push(token);
    this.wake?.();
  }

  end(finish: SequenceFinish): void {
    this.finish = finish;
    this.resolve({
      promptTokens: this.promptTokens,
      completionTokens: this.generated,
      cachedTokens: this.cachedTokens,
      finishReason: finish,
      firstTokenMs: this.firstTokenMs,
    });
    this.wake?.();
  }
}

/**
 * The engine: submit() sequences, iterate their tokens. One loop runs while anything is
 * live; it yields to the event loop between steps.
 *
 * @example
 * const engine = new BatchEngine(model, tokenizer, { maxBatch: 8 });
 * const a = engine.submit({ promptIds: tokenizer.encode('ROMEO:'), maxNewTokens: 50, seed: 1, sampling: { kind: 'sample', temperature: 0.8 } });
 * for await (const token of a) process.stdout.write(token.text);
 * console.log((await a.result).finishReason);
 */
export class BatchEngine {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly maxBatch: number;
  readonly prefixCache: PrefixCache | null;
  readonly #onIdle: (() => void) | null;
  readonly #waiting: Sequence[] = [];
  /** Row b of the batch cache holds slots[b] (null: free). */
  #slots: (Sequence | null)[] = [];
  /** Left padding of each row. */
  #starts: number[] = [];
  #batch: KVCache | null = null;
  #running: Promise<void> | null = null;
  #steps = 0;
  #disposed = false;

  constructor(model: LanguageModel, tokenizer: Tokenizer, options: BatchEngineOptions = {}) {
    if (model.kind !== 'decoder') {
      throw new ConfigError('batched generation needs a decoder-only model', {
        where: 'BatchEngine',
        expected: "kind 'decoder'",
        actual: model.kind,
      });
    }
    const maxBatch = options.maxBatch ?? 16;
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1 && maxBatch <= maxBatchRows)) {
      throw new ConfigError('maxBatch out of range', {
        where: 'BatchEngine: maxBatch',
        expected: `an integer in [1, ${maxBatchRows}] (rows that stay batch-invariant)`,
        actual: maxBatch,
      });
    }
    this.model = model;
    this.tokenizer = tokenizer;
    this.maxBatch = maxBatch;
    this.prefixCache = options.prefixCache ?? null;
    this.#onIdle = options.onIdle ?? null;
  }

  /** Sequences in the batch now. */
  get live(): number {
    return this.#slots.filter((s) => s !== null).length;
  }

  /** Sequences submitted and not yet in the batch. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Batched forward steps run so far. */
  get steps(): number {
    return this.#steps;
  }

  /** Checks a request against the model; throws one ConfigError naming every bad field. */
  check(request: SequenceRequest): void {
    const V = this.model.vocabSize;
    const problems: string[] = [];
    const ids = request.promptIds;
    if (ids.length === 0) problems.push('promptIds: the prompt is empty');
    const bad = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < V));
    if (bad >= 0) problems.push(`promptIds[${bad}]: ${ids[bad]} is not an id in [0, ${V})`);
    if (ids.length >= this.model.maxPositions) {
      problems.push(
        `promptIds: ${ids.length} tokens do not fit the context of ${this.model.maxPositions} with room to generate`,
      );
    }
    if (!(Number.isInteger(request.maxNewTokens) && request.maxNewTokens >= 1)) {
      problems.push(`maxNewTokens: expected an integer >= 1, got ${request.maxNewTokens}`);
    }
    for (const name of ['presencePenalty', 'frequencyPenalty'] as const) {
      const value = request[name] ?? 0;
      if (!(Number.isFinite(value) && value >= -2 && value <= 2))
        problems.push(`${name}: expected a number in [-2, 2], got ${value}`);
    }
    const top = request.topLogprobs ?? null;
    if (top !== null && !(Number.isInteger(top) && top >= 0 && top <= 20)) {
      problems.push(`topLogprobs: expected an integer in [0, 20], got ${top}`);
    }
    (request.eosTokenIds ?? []).forEach((id, i) => {
      if (!(Number.isInteger(id) && id >= 0 && id < V)) problems.push(`eosTokenIds[${i}]: not an id`);
    });
    try {
      validateSampling(request.sampling ?? { kind: 'greedy' }, request.repetitionPenalty ?? 1);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(String(error.actual));
    }
    if (problems.length > 0) {
      throw new ConfigError('invalid sequence request', {
        where: 'BatchEngine.submit',
        actual: problems.join('; '),
      });
    }
  }

  /** Queues a sequence (checked first) and starts the loop if it is idle. */
  submit(request: SequenceRequest): SequenceHandle {
    if (this.#disposed) throw new ConfigError('the engine was disposed', { where: 'BatchEngine.submit' });
    this.check(request);
    const sequence = new Sequence(request, this.model.vocabSize, this.tokenizer);
    const result = new Promise<SequenceResult>((resolve) => (sequence.resolve = resolve));
    this.#waiting.push(sequence);
    this.#running ??= this.#loop().finally(() => {
      this.#running = null;
      if (!this.#disposed) this.#onIdle?.();
    });
    return {
      result,
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<EngineToken>> => {
          for (;;) {
            const token = sequence.queue.shift();
            if (token !== undefined) return { value: token, done: false };
            if (sequence.finish !== null) return { value: undefined, done: true };
            await new Promise<void>((wake) => (sequence.wake = wake));
            sequence.wake = null;
          }
        },
      }),
    };
  }

  /** Resolves once nothing is live or waiting. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Ends every sequence ('aborted') and frees the caches. */
  dispose(): void {
    this.#disposed = true;
    for (const s of [...this.#waiting, ...this.#slots]) if (s !== null && s.finish === null) s.end('aborted');
    this.#waiting.length = 0;
    this.#slots = [];
    this.#batch?.dispose();
    this.#batch = null;
  }

  async #loop(): Promise<void> {
    while (!this.#disposed && (this.#waiting.length > 0 || this.live > 0)) {
      // Admit one waiting sequence per step, so the live ones keep streaming while it prefills.
      if (this.#waiting.length > 0 && this.live < this.maxBatch) {
        const sequence = this.#waiting.shift()!;
        if (sequence.request.signal?.aborted === true) sequence.end('aborted');
        else this.#admit(sequence);
      }
      this.#slots.forEach((sequence, b) => {
        if (sequence === null) return;
        this.#choose(sequence);
        if (sequence.finish !== null) this.#slots[b] = null;
      });
      for (const s of this.#waiting) if (s.request.signal?.aborted === true) s.end('aborted');
      this.#waiting.splice(0, this.#waiting.length, ...this.#waiting.filter((s) => s.finish === null));
      if (this.live > 0) this.#step();
      else this.#free();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.live === 0) this.#free();
  }

  #free(): void {
    this.#batch?.dispose();
    this.#batch = null;
    this.#slots = [];
    this.#starts = [];
  }

  /** Prefills a sequence alone and places it in the batch. */
  #admit(sequence: Sequence): void {
    const model = this.model;
    // Room for the prompt only: its keys and values move to the batch cache once prefilled.
    const own = model.createCache(1, sequence.context.length) as KVCache;
    try {
      const ids = sequence.context;
      const restored = this.prefixCache?.restore(ids, own) ?? 0;
      sequence.cachedTokens = restored;
      for (let from = restored; from < ids.length;) {
        // Chunks end on multiples of prefillChunk, wherever the prefill started.
        const to = Math.min(ids.length, (Math.floor(from / prefillChunk) + 1) * prefillChunk);
        this.#forward(own, [ids.slice(from, to)], null, null, sequence.logits);
        from = to;
      }
      sequence.cached = ids.length;
      this.prefixCache?.store(ids, ids.length, own);
      this.#place(sequence, own);
    } finally {
      own.dispose();
    }
  }

  /** Copies a prefilled sequence into a free row (or rebuilds the batch with room for it). */
  #place(sequence: Sequence, own: KVCache): void {
    const width = this.#batch?.length ?? 0;
    const free = this.#slots.indexOf(null);
    if (this.#batch !== null && free >= 0 && sequence.cached <= width) {
      this.#starts[free] = width - sequence.cached;
      copyRow(own, 0, 0, this.#batch, free, this.#starts[free]!, sequence.cached);
      this.#slots[free] = sequence;
      return;
    }
    this.#rebuild([{ sequence, cache: own }]);
  }

  /**
   * A new batch cache holding the live rows (and `joining`), right-aligned to the longest;
   * rows for at most maxBatch sequences.
   */
  #rebuild(joining: readonly { sequence: Sequence; cache: KVCache }[]): void {
    const rows: { sequence: Sequence; cache: KVCache; row: number; from: number }[] = [];
    this.#slots.forEach((s, b) => {
      if (s !== null) rows.push({ sequence: s, cache: this.#batch!, row: b, from: this.#starts[b]! });
    });
    for (const j of joining) rows.push({ ...j, row: 0, from: 0 });
    const width = Math.max(...rows.map((r) => r.sequence.cached));
    const { nLayer, nKvHead, headSize } = (rows[0]!.cache as KVCache).shape;
    // Room for the sequences waiting too, so that they join without another rebuild.
    const B = Math.max(rows.length, Math.min(this.maxBatch, rows.length + this.#waiting.length));
    // Columns for what the longest request still may generate (all rows advance together),
    // not the whole context: the cache is B x maxT positions of every layer.
    const waiting = this.#waiting.slice(0, B - rows.length).map((s) => s.request.maxNewTokens);
    const room = Math.max(
      ...rows.map((r) => r.sequence.request.maxNewTokens - r.sequence.generated),
      ...waiting,
    );
    const maxT = Math.min(
      this.model.maxPositions,
      Math.ceil((width + room + 1) / cacheColumns) * cacheColumns,
    );
    const batch = new KVCache({ nLayer, batch: B, nKvHead, maxT, headSize });
    const starts: number[] = new Array<number>(B).fill(width);
    const slots: (Sequence | null)[] = new Array<Sequence | null>(B).fill(null);
    rows.forEach((r, b) => {
      starts[b] = width - r.sequence.cached;
      copyRow(r.cache, r.row, r.from, batch, b, starts[b]!, r.sequence.cached);
      slots[b] = r.sequence;
    });
    batch.advance(width);
    this.#batch?.dispose();
    this.#batch = batch;
    this.#slots = slots;
    this.#starts = starts;
  }

  /** Picks the next id of a sequence from its logits and emits it; ends it when due. */
  #choose(sequence: Sequence): void {
    const request = sequence.request;
    if (request.signal?.aborted === true) {
      sequence.end('aborted');
      return;
    }
    const raw = sequence.logits;
    const logits = applyRepetitionPenalty(raw, sequence.context, request.repetitionPenalty ?? 1);
    const presence = request.presencePenalty ?? 0;
    const frequency = request.frequencyPenalty ?? 0;
    if (presence !== 0 || frequency !== 0) {
      for (const [id, count] of sequence.counts) logits[id] = logits[id]! - presence - frequency * count;
    }
    request.constraint?.mask(logits);
    if (!logits.some((value) => value > -Infinity)) {
      // A constraint with no way on: nothing may follow.
      sequence.end('stop');
      return;
    }
    const sampling = request.sampling ?? { kind: 'greedy' };
    const id =
      sampling.kind === 'greedy'
        ? argmax(logits)
        : sequence.rng.multinomial(filteredDistribution(logits, sampling));
    request.constraint?.advance(id);
    sequence.context.push(id);
    sequence.counts.set(id, (sequence.counts.get(id) ?? 0) + 1);
    const index = sequence.generated++;
    sequence.firstTokenMs ??= performance.now() - sequence.started;
    const topCount = request.topLogprobs ?? null;
    let logprob: number | null = null;
    let top: { id: number; logprob: number }[] | null = null;
    if (topCount !== null) {
      const logProbs = logSoftmaxRow(raw, new Float64Array(raw.length));
      logprob = logProbs[id]!;
      top = rankByProbability(logProbs)
        .slice(0, topCount)
        .map((t) => ({ id: t, logprob: logProbs[t]! }));
    }
    let finish: SequenceFinish | null = null;
    if (sequence.eos.has(id)) finish = 'eos';
    else sequence.output += sequence.decoder.push(id);
    if (finish === null && request.constraint?.complete === true) finish = 'stop';
    const full = sequence.context.length >= this.model.maxPositions;
    if (finish === null && (index === request.maxNewTokens - 1 || full)) finish = 'length';
    if (finish !== null) sequence.output += sequence.decoder.flush();
    let stopAt = -1;
    for (const stop of sequence.stops) {
      const at = sequence.output.indexOf(stop, sequence.emitted);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    let end = sequence.output.length;
    if (stopAt >= 0) {
      end = stopAt;
      finish = 'stop';
    } else if (finish === null) end -= pendingStopPrefix(sequence.output, sequence.stops);
    const text = end > sequence.emitted ? sequence.output.slice(sequence.emitted, end) : '';
    sequence.emitted = Math.max(sequence.emitted, end);
    sequence.push({ id, text, index, logprob, top, finishReason: finish });
    if (finish !== null) sequence.end(finish);
  }

  /** One batched forward: each live row feeds its last id at its own position. */
  #step(): void {
    let batch = this.#batch!;
    const live = this.live;
    const dead = this.#slots.length - live;
    if (batch.length + 1 > batch.shape.maxT || (dead > 0 && dead >= live)) {
      this.#rebuild([]);
      batch = this.#batch!;
    }
    const B = this.#slots.length;
    const width = batch.length + 1;
    const ids: number[][] = [];
    const positions = new Int32Array(B);
    const keys = new Int32Array(B * width);
    this.#slots.forEach((s, b) => {
      if (s === null) {
        // A free row: one valid key (itself) at position 0; its output is never read.
        this.#starts[b] = width - 1;
        ids.push([0]);
      } else {
        ids.push([s.context[s.context.length - 1]!]);
        positions[b] = s.cached;
      }
      keys.fill(1, b * width + this.#starts[b]!, (b + 1) * width);
    });
    const logits = new Float32Array(B * this.model.vocabSize);
    this.#forward(batch, ids, positions, keys, logits);
    const V = this.model.vocabSize;
    this.#slots.forEach((s, b) => {
      if (s === null) return;
      s.cached++;
      s.logits.set(logits.subarray(b * V, (b + 1) * V));
    });
    this.#steps++;
  }

  /** forward() of `ids` (B rows of T ids) through `cache`, the last position's logits into `into`. */
  #forward(
    cache: KVCache,
    ids: readonly (readonly number[])[],
    positions: Int32Array | null,
    keys: Int32Array | null,
    into: Float32Array,
  ): void {
    const B = ids.length;
    const T = ids[0]!.length;
    scope(() =>
      noGrad(() => {
        const input = Tensor.fromArray(Int32Array.from(ids.flat()), [B, T]); // (B, T)
        const inputs =
          positions === null || keys === null
            ? { ids: input, cache }
            : {
                ids: input,
                cache,
                positions: Tensor.fromArray(positions, [B, 1]), // (B, 1)
                attentionMask: {
                  kind: 'padding' as const,
                  keys: Tensor.fromArray(keys, [B, keys.length / B]), // (B, W + 1)
                },
              };
        const { logits } = this.model.forward(inputs, { logits: 'last', mode: 'eval' }); // (B, 1, V)
        into.set(logits!.floats());
      }),
    );
  }
}

/** Positions [from, from + n) of row `row` of `source` -> [to, to + n) of row `target` of `dest`, every layer. */
function copyRow(
  source: KVCache,
  row: number,
  from: number,
  dest: KVCache,
  target: number,
  to: number,
  n: number,
): void {
  const { nLayer, nKvHead, headSize } = source.shape;
  const sourceT = source.shape.maxT;
  const destT = dest.shape.maxT;
  for (let layer = 0; layer < nLayer; layer++) {
    const a = source.buffers(layer);
    const b = dest.buffers(layer);
    for (const [s, d] of [
      [a.keys.floats(), b.keys.floats()],
      [a.values.floats(), b.values.floats()],
    ] as const) {
      for (let h = 0; h < nKvHead; h++) {
        const at = ((row * nKvHead + h) * sourceT + from) * headSize;
        d.set(s.subarray(at, at + n * headSize), ((target * nKvHead + h) * destT + to) * headSize);
      }
    }
  }
}
