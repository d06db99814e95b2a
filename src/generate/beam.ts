/**
 * Batched beam search over any LanguageModel, with Hugging Face generate's semantics
 * (transformers 4.5x `_beam_search`, itself the BeamSearchScorer / BeamHypotheses of
 * earlier versions, vectorised):
 *
 *   each step, per sentence: scores = running score + log_softmax(logits) (then the logits
 *     processors) for every (beam, id); the K = max(2, 1 + #EOS ids) * numBeams best
 *     candidates, best first (the lower beam, then the lower id, on ties);
 *   finished:  a candidate among the first numBeams that ends (an EOS id, or the last
 *     position) becomes a hypothesis scored logProb / generated^lengthPenalty, the EOS
 *     counted in `generated`; the numBeams best hypotheses are kept;
 *   running:   the numBeams best candidates that do not end continue (cache.reorder follows
 *     their parents);
 *   a sentence is done when numBeams hypotheses are in and (earlyStopping true) at once,
 *     (false) when the best running beam divided by the current length^lengthPenalty cannot
 *     beat the worst hypothesis (HF's heuristic), ('never') the same with the longest
 *     possible length when lengthPenalty > 0: the canonical beam search.
 *
 * One deliberate difference: HF starts beams 1.. at -1e9 and may fill beams with such
 * placeholders, or with ended candidates at -1e9, when fewer than numBeams real candidates
 * exist (a vocabulary smaller than the beam, or no-repeat bans); they can then come back
 * among the n-best. Here a beam without a real candidate is dead (score -Infinity, fed
 * padTokenId, never chosen), so every returned hypothesis is a real sequence, and a search
 * space smaller than numReturnSequences returns fewer hypotheses.
 *
 * numBeams 1 equals greedy decoding (decodeBatch) when no repetition penalty is set (HF
 * applies it to log-probabilities in beam search, to logits in greedy).
 *
 * Legend: B sentences, k beams per sentence, N = B * k rows, V vocab.
 */
import type { LanguageModel } from '../models/index.js';
import {
  type DecodeSource,
  type DecodedSequence,
  type SearchOptions,
  type SequenceFinish,
  StepModel,
  resolveSearch,
  throwProblems,
  yieldToEventLoop,
} from './batch-decode.js';
import { logSoftmaxRow, processRow } from './logits-processors.js';

export interface BeamSearchOptions extends SearchOptions {
  /** Beams per sentence, an integer >= 1 (HF num_beams). */
  readonly numBeams: number;
  /** Exponent of the length that divides a hypothesis' log-probability (HF length_penalty, default 1). */
  readonly lengthPenalty?: number;
  /** HF early_stopping: true, false (default) or 'never'. */
  readonly earlyStopping?: boolean | 'never';
  /** Hypotheses returned per sentence, best first (HF num_return_sequences): 1..numBeams, default 1. */
  readonly numReturnSequences?: number;
}

/** The K best (score, flat index) offers, best first; equal scores keep the earlier offer first. */
class TopCandidates {
  readonly scores: number[] = [];
  readonly indices: number[] = [];
  constructor(readonly capacity: number) {}

  offer(score: number, index: number): void {
    const n = this.scores.length;
    if (n === this.capacity && !(score > this.scores[n - 1]!)) return;
    // After every element with a score >= this one (the earlier offer wins a tie).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.scores[mid]! >= score) lo = mid + 1;
      else hi = mid;
    }
    this.scores.splice(lo, 0, score);
    this.indices.splice(lo, 0, index);
    if (this.scores.length > this.capacity) {
      this.scores.pop();
      this.indices.pop();
    }
  }
}

/** Keeps the k best hypotheses, best first; an equal newcomer goes after those already in. */
function addHypothesis(list: DecodedSequence[], hypothesis: DecodedSequence, k: number): void {
  let at = list.length;
  while (at > 0 && list[at - 1]!.score < hypothesis.score) at--;
  if (at >= k) return;
  list.splice(at, 0, hypothesis);
  if (list.length > k) list.pop();
}

/**
 * Beam search for a batch of sentences: per sentence, up to numReturnSequences hypotheses,
 * best first, each with HF's sequence score.
 *
 * @example
 * const nbest = await beamSearch(marian, { kind: 'encoder', encoderOutput, decoderStartTokenId: pad },
 *   { numBeams: 4, maxNewTokens: 64, eosTokenIds: [eos], padTokenId: pad, forcedEosTokenId: eos, badWordsIds: [[pad]] });
 * nbest[0][0].ids; // the best translation of sentence 0
 */
export async function beamSearch(
  model: LanguageModel,
  source: DecodeSource,
  options: BeamSearchOptions,
): Promise<DecodedSequence[][]> {
  const where = 'beamSearch';
  const problems: string[] = [];
  const search = resolveSearch(model, options, problems);
  const k = options.numBeams;
  const lengthPenalty = options.lengthPenalty ?? 1;
  const earlyStopping = options.earlyStopping ?? false;
  const numReturnSequences = options.numReturnSequences ?? 1;
  if (!(Number.isInteger(k) && k >= 1)) problems.push(`numBeams must be an integer >= 1 (got ${k})`);
  if (!Number.isFinite(lengthPenalty))
    problems.push(`lengthPenalty must be a finite number (got ${lengthPenalty})`);
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') {
    problems.push(`earlyStopping must be true, false or 'never' (got ${String(earlyStopping)})`);
  }
  if (!(Number.isInteger(numReturnSequences) && numReturnSequences >= 1 && numReturnSequences <= k)) {
    problems.push(
      `numReturnSequences must be an integer in [1, numBeams = ${k}] (got ${numReturnSequences})`,
    );
  }
  throwProblems(problems, where);

  const step = new StepModel(model, source, k, search.maxNewTokens, search.useCache, where);
  try {
    const { sentences: B, rows: N } = step;
    const V = model.vocabSize;
    const K = Math.max(2, 1 + search.eos.size) * k;
    const logits = new Float32Array(N * V);
    const logProbs = new Float64Array(V);
    // Beam 0 of each sentence starts the search; the others are dead until the first step fills them.
    let scores = Float64Array.from({ length: N }, (_, r) => (r % k === 0 ? 0 : -Infinity));
    let generated = Array.from({ length: N }, (): number[] => []);
    const hypotheses = Array.from({ length: B }, (): DecodedSequence[] => []);
    const done = new Array<boolean>(B).fill(false);
    let ended: SequenceFinish | null = null;
    for (let t = 0; ended === null; t++) {
      step.logits(logits);
      const last = t === search.maxNewTokens - 1;
      const from = new Array<number>(N);
      const next = new Array<number>(N).fill(search.padTokenId);
      const nextScores = new Float64Array(N).fill(-Infinity);
      for (let b = 0; b < B; b++) {
        const top = new TopCandidates(K);
        for (let j = 0; j < k && !done[b]; j++) {
          const r = b * k + j;
          if (scores[r] === -Infinity) continue;
          logSoftmaxRow(logits.subarray(r * V, (r + 1) * V), logProbs);
          const processed = processRow(logProbs, step.contexts[r]!, t, search);
          for (let v = 0; v < V; v++) {
            const score = scores[r]! + processed[v]!;
            if (score > -Infinity) top.offer(score, j * V + v);
          }
        }
        const full = hypotheses[b]!.length === k;
        let running = 0;
        top.scores.forEach((score, rank) => {
          const parent = b * k + Math.floor(top.indices[rank]! / V);
          const id = top.indices[rank]! % V;
          const eos = search.eos.has(id);
          if (eos || last) {
            // Only the first numBeams candidates may end a hypothesis; none once full with earlyStopping true.
            if (rank < k && !(earlyStopping === true && full)) {
              const ids = [...generated[parent]!, id];
              addHypothesis(
                hypotheses[b]!,
                {
                  ids,
                  score: score / ids.length ** lengthPenalty,
                  logProb: score,
                  finishReason: eos ? 'eos' : 'length',
                },
                k,
              );
            }
          } else if (running < k) {
            const r = b * k + running++;
            from[r] = parent;
            next[r] = id;
            nextScores[r] = score;
          }
        });
        for (; running < k; running++) from[b * k + running] = b * k; // dead beams follow beam 0
        done[b] ||= isDone(hypotheses[b]!, nextScores[b * k]!, t + 1);
      }
      if (last) ended = 'length';
      else if (done.every((d) => d)) ended = 'eos';
      else if (search.signal?.aborted === true) ended = 'aborted';
      else {
        generated = from.map((f, r) => (nextScores[r] === -Infinity ? [] : [...generated[f]!, next[r]!]));
        scores = nextScores;
        step.reorder(from);
        step.append(next);
        await yieldToEventLoop();
      }
    }
    if (ended === 'aborted') {
      // The open beams of unfinished sentences end here, as HF's finalize adds them.
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < k && !done[b]; j++) {
          const r = b * k + j;
          if (scores[r] === -Infinity) continue;
          const ids = generated[r]!;
          const score = scores[r]! / Math.max(ids.length, 1) ** lengthPenalty;
          addHypothesis(hypotheses[b]!, { ids, score, logProb: scores[r]!, finishReason: 'aborted' }, k);
        }
      }
    }
    return hypotheses.map((list) => list.slice(0, numReturnSequences));
  } finally {
    step.dispose();
  }

  /**
   * True when this sentence cannot improve: numBeams hypotheses are in and (earlyStopping
   * true) always, else the best running beam scored at the hypothetical length cannot beat
   * the worst hypothesis. A sentence without a live beam is done too.
   */
  function isDone(list: readonly DecodedSequence[], bestRunning: number, generatedNow: number): boolean {
    if (bestRunning === -Infinity) return true;
    if (list.length < k) return false;
    if (earlyStopping === true) return true;
    const length = earlyStopping === 'never' && lengthPenalty > 0 ? search.maxNewTokens : generatedNow;
    return !(bestRunning / length ** lengthPenalty > list[list.length - 1]!.score);
  }
}
