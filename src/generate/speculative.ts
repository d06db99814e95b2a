/**
 * Speculative decoding (Leviathan et al. 2023, "Fast Inference from Transformers via
 * Speculative Decoding"; Chen et al. 2023, "Accelerating Large Language Model Decoding with
 * Speculative Sampling"): a cheap drafter proposes k ids, the target scores all of them in
 * ONE forward over k + 1 positions (a multi-token KV-cache append), and a rejection rule
 * keeps a prefix of the draft, so that each target call yields between 1 and k + 1 ids.
 *
 *   round:   d_1..d_k ~ q (draft model, or prompt lookup: q one-hot at its proposal)
 *            P = target([last id, d_1..d_k])                       (1, k + 1, V), one forward
 *            for i in 1..k: accept d_i with probability min(1, p_i(d_i) / q_i(d_i));
 *                           on the first rejection draw from norm(max(0, p_i - q_i)) and stop
 *            all accepted:  a bonus id from p_{k+1}
 *            both caches are truncated back to the accepted ids
 *
 * p_i and q_i are the distributions plain generation would sample from at that position,
 * through the same logits processors (sampling.ts, Hugging Face's order): the repetition
 * penalty over the context as it stands at that position (prompt, accepted ids and the
 * draft ids before it), then temperature, top-k and top-p. The penalty is part of p, so the
 * output has the distribution of plain generation with the penalty; applying it to q too
 * only keeps the draft close to p (acceptance), it changes nothing about correctness. With
 * greedy decoding p and q are one-hot at their (penalised) argmax: a draft id is accepted
 * exactly when it is the target's argmax, and the output equals plain greedy generation.
 * (The verify forward is a GEMM over k + 1 positions where plain decoding runs a GEMV, so
 * the logits agree to float32 rounding; only an exact near-tie could tell them apart.)
 *
 * Context: k shrinks so that the verify forward fits the target's context and the budget
 * (k + 1 <= maxNewTokens left). Once the context is full, each step conditions on the last
 * maxPositions ids, recomputed as plain generation does (positions shift, so drafts cannot
 * be verified in one forward there): decoding continues one id per call, as plain decoding.
 * A draft model with a shorter context than the target re-reads the last ids that fit: its
 * proposals only change how many ids are accepted, never which distribution they follow.
 *
 * Text, EOS and stop strings go through the same TokenEmitter as plain generation, id by id:
 * an EOS or a stop string inside an accepted draft ends generation there.
 */
import { Tensor, noGrad, scope, type Rng } from '../tensor/index.js';
import type { LanguageModel, ModelCache } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import {
  prepareGeneration,
  type GenerateOptions,
  type GenerateResult,
  type GeneratedToken,
} from './generate.js';
import { promptLookupDraft, resolvePromptLookup, type PromptLookupOptions } from './prompt-lookup.js';
import { applyRepetitionPenalty, filteredDistribution, selectToken, type Sampling } from './sampling.js';
import { TokenEmitter } from './token-emitter.js';

/** Where the draft ids come from. */
export type Draft =
  | { readonly kind: 'model'; readonly model: LanguageModel }
  | ({ readonly kind: 'ngram' } & PromptLookupOptions);

export interface SpeculativeOptions extends GenerateOptions {
  readonly draft: Draft;
  /** Draft ids per round, k >= 1 (default 4). */
  readonly draftTokens?: number;
}

export interface SpeculativeStats {
  /** Draft ids proposed to the target. */
  readonly drafted: number;
  /** Draft ids the target accepted. */
  readonly accepted: number;
  /** accepted / drafted; null when nothing was drafted (prompt lookup found no match). */
  readonly acceptedRate: number | null;
  /** Target forward calls after the prompt (one per round). */
  readonly targetCalls: number;
}

export interface SpeculativeResult extends GenerateResult {
  readonly stats: SpeculativeStats;
}

/**
 * The first id on which two tokenizers disagree, or null when their vocabularies are the same
 * (the same size and the same token for every id): a draft model must share the target's.
 */
export function vocabularyDifference(
  target: Tokenizer,
  draft: Tokenizer,
): { id: number; target: string | undefined; draft: string | undefined } | null {
  const size = Math.max(target.vocabSize, draft.vocabSize);
  for (let id = 0; id < size; id++) {
    const a = id < target.vocabSize ? target.idToToken(id) : undefined;
    const b = id < draft.vocabSize ? draft.idToToken(id) : undefined;
    if (a !== b) return { id, target: a, draft: b };
  }
  return null;
}

/** The draft model is checked against the target: same logits width, causal decoders both. */
function checkDraftModel(target: LanguageModel, draft: LanguageModel): void {
  for (const [name, model] of [
    ['target', target],
    ['draft', draft],
  ] as const) {
    if (model.kind !== 'decoder') {
      throw new ConfigError(`speculative decoding needs a decoder-only ${name} model`, {
        where: `speculative ${name}`,
        expected: 'kind decoder',
        actual: model.kind,
      });
    }
  }
  if (draft.vocabSize !== target.vocabSize) {
    throw new ConfigError('the draft model has another vocabulary size than the target', {
      where: 'speculative draft',
      expected: `${target.vocabSize} ids (the target's)`,
      actual: `${draft.vocabSize} ids`,
      hint: 'a draft model must share the target tokenizer (train it on the same tokenizer, or distil it)',
    });
  }
}

/** Logits of `ids` fed after the cache: all positions into `into` ((T, V) rows), or the last row. */
function forwardInto(
  model: LanguageModel,
  ids: readonly number[],
  cache: ModelCache,
  which: 'all' | 'last' | 'none',
  into: Float32Array | null,
): void {
  scope(() =>
    noGrad(() => {
      const input = Tensor.fromArray(Int32Array.from(ids), [1, ids.length]); // (1, T)
      const { logits } = model.forward({ ids: input, cache }, { logits: which, mode: 'eval' }); // (1, T | 1, V)
      if (into !== null) into.set(logits!.floats());
    }),
  );
}

/** The distribution a `sample` draws from at one position: penalty, then temperature, top-k, top-p. */
function sampleDistribution(
  row: Float32Array,
  sampling: Extract<Sampling, { kind: 'sample' }>,
  context: readonly number[],
  penalty: number,
): Float64Array {
  return filteredDistribution(penalty === 1 ? row : applyRepetitionPenalty(row, context, penalty), sampling);
}

/**
 * The id drawn after a rejection of `rejected`: from norm(max(0, p - q)) (q null: the draft
 * was one-hot at `rejected`, so the residual is p without it). Rounding can leave no positive
 * mass when p and q are equal up to it; p itself is then the residual's limit.
 */
function residualDraw(p: Float64Array, q: Float64Array | null, rejected: number, rng: Rng): number {
  const residual = new Float64Array(p.length);
  let total = 0;
  for (let id = 0; id < p.length; id++) {
    const value = Math.max(0, p[id]! - (q === null ? (id === rejected ? 1 : 0) : q[id]!));
    residual[id] = value;
    total += value;
  }
  return rng.multinomial(total > 0 ? residual : p);
}

/**
 * Generates from `prompt` as generate() does, with speculative decoding: the same tokens for
 * greedy decoding, the same distribution when sampling, fewer target forwards.
 *
 * @example
 * const stream = speculativeGenerate(target, tokenizer, 'ROMEO:', {
 *   maxNewTokens: 100,
 *   draft: { kind: 'model', model: draft },
 *   draftTokens: 4,
 * });
 * for await (const token of stream) process.stdout.write(token.text);
 */
export async function* speculativeGenerate(
  target: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: SpeculativeOptions,
): AsyncGenerator<GeneratedToken, SpeculativeResult, undefined> {
  const K = options.draftTokens ?? 4;
  if (!(Number.isInteger(K) && K >= 1)) {
    throw new ConfigError('draftTokens must be an integer >= 1', {
      where: 'speculative draftTokens',
      actual: K,
    });
  }
  if (options.useCache === false) {
    throw new ConfigError('speculative decoding needs the KV cache', {
      where: 'speculative useCache',
      hint: 'drop useCache: false (no-cache decoding is the reference of plain generation only)',
    });
  }
  const draft = options.draft;
  const lookup = draft.kind === 'ngram' ? resolvePromptLookup(draft) : null;
  const draftModel = draft.kind === 'model' ? draft.model : null;
  if (draftModel !== null) checkDraftModel(target, draftModel);
  const { sampling, penalty, eos, rng, promptIds } = prepareGeneration(target, tokenizer, prompt, options);
  const V = target.vocabSize;
  const blockSize = target.maxPositions;
  const draftBlock = draftModel?.maxPositions ?? 0;
  const context = [...promptIds];
  const emitter = new TokenEmitter(tokenizer, options.stop ?? [], eos);
  let drafted = 0;
  let accepted = 0;
  let targetCalls = 0;
  const result = (finishReason: SpeculativeResult['finishReason']): SpeculativeResult => ({
    promptIds,
    finishReason,
    stats: { drafted, accepted, acceptedRate: drafted === 0 ? null : accepted / drafted, targetCalls },
  });
  const cache = target.createCache(1, blockSize);
  const draftCache = draftModel?.createCache(1, draftBlock) ?? null;
  try {
    // The target's cache holds every context id but the last, which opens each verify forward.
    if (promptIds.length > 1) forwardInto(target, promptIds.slice(0, -1), cache, 'none', null);
    const targetLogits = new Float32Array((K + 1) * V); // (k + 1, V) rows of the verify forward
    const draftRow = new Float32Array(V);
    let index = 0; // ids generated so far
    for (;;) {
      const length = context.length;
      const remaining = options.maxNewTokens - index;
      // Draft ids that fit the budget (k + 1 ids at most come out) and the target's context.
      let k = Math.max(0, Math.min(K, remaining - 1, blockSize - length));
      const drafts: number[] = [];
      const draftDistributions: Float64Array[] = []; // q_i, sampling with a draft model only
      if (length > blockSize) {
        k = 0; // a full context slides: plain decoding (see the header)
      } else if (k > 0 && lookup !== null) {
        drafts.push(...promptLookupDraft(context, k, lookup));
      } else if (k > 0 && draftModel !== null && draftCache !== null) {
        k = Math.min(k, draftBlock - 1);
        // A draft context too short for the ids it must see: re-read the last ones that fit.
        if (length + k - 1 > draftBlock) draftCache.reset();
        let feed =
          draftCache.length === 0 ? context.slice(-(draftBlock - k + 1)) : context.slice(draftCache.length);
        for (let i = 0; i < k; i++) {
          forwardInto(draftModel, feed, draftCache, 'last', draftRow);
          const draftContext = penalty === 1 ? context : [...context, ...drafts];
          let id: number;
          if (sampling.kind === 'greedy') {
            id = selectToken(draftRow, sampling, rng, draftContext, penalty);
          } else {
            const q = sampleDistribution(draftRow, sampling, draftContext, penalty);
            id = rng.multinomial(q);
            draftDistributions.push(q);
          }
          drafts.push(id);
          feed = [id];
        }
      }
      drafted += drafts.length;

      // One target forward scores every draft id and the position after them.
      let next: number;
      let kept = 0; // draft ids accepted
      if (length > blockSize) {
        cache.reset();
        forwardInto(target, context.slice(-blockSize), cache, 'last', targetLogits);
        next = selectToken(targetLogits.subarray(0, V), sampling, rng, context, penalty);
      } else {
        forwardInto(target, [context[length - 1]!, ...drafts], cache, 'all', targetLogits);
        const row = (i: number): Float32Array => targetLogits.subarray(i * V, (i + 1) * V);
        // The penalty's context at draft position i (no copy when there is no penalty).
        const contextAt = (i: number): readonly number[] =>
          penalty === 1 ? context : [...context, ...drafts.slice(0, i)];
        next = -1;
        for (let i = 0; i < drafts.length && next < 0; i++) {
          const id = drafts[i]!;
          if (sampling.kind === 'greedy') {
            const choice = selectToken(row(i), sampling, rng, contextAt(i), penalty);
            if (choice === id) kept++;
            else next = choice;
          } else {
            const p = sampleDistribution(row(i), sampling, contextAt(i), penalty);
            const q = draftDistributions[i] ?? null; // null: one-hot at the proposal
            const qId = q === null ? 1 : q[id]!;
            // uniform() is in [0, 1): accepted with probability min(1, p / q) exactly.
            if (rng.uniform() * qId < p[id]!) kept++;
            else next = residualDraw(p, q, id, rng);
          }
        }
        if (next < 0) {
          // Every draft id accepted: the bonus id from the last position.
          next = selectToken(row(drafts.length), sampling, rng, contextAt(drafts.length), penalty);
        }
        // Keep the context and the accepted drafts; the new id opens the next forward.
        cache.truncate(length + kept);
        if (draftCache !== null && draftCache.length > length + kept) draftCache.truncate(length + kept);
      }
      targetCalls++;
      accepted += kept;

      for (const id of [...drafts.slice(0, kept), next]) {
        context.push(id);
        const { text, finishReason } = emitter.push(id, index === options.maxNewTokens - 1);
        yield { id, text, index, finishReason };
        index++;
        if (finishReason !== null) return result(finishReason);
      }
      if (options.signal?.aborted === true) return result('aborted');
      // Let the event loop run (server requests, Ctrl-C) between rounds.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    cache.dispose();
    draftCache?.dispose();
  }
}
