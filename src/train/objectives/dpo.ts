/**
 * Direct preference optimisation on (prompt, chosen, rejected) pairs, on the Objective
 * interface so that the one trainer (schedule, checkpoints, resume, divergence checks)
 * runs it. With h = (log pi(y_w|x) - log pi_ref(y_w|x)) - (log pi(y_l|x) - log pi_ref(y_l|x)):
 *
 *   sigmoid (DPO, Rafailov et al. 2023, eq. 7):  -log sigma(beta h)
 *   cDPO (label smoothing eps, Mitchell 2023):   -(1 - eps) log sigma(beta h) - eps log sigma(-beta h)
 *   IPO (Azar et al. 2023, eq. 17):              (h - 1 / (2 beta))^2
 *
 * averaged over the batch (TRL's DPOTrainer loss_type 'sigmoid' with label_smoothing, and
 * 'ipo'; the log-probabilities are sums over the response tokens, as in both papers: TRL
 * averages them per token for IPO). The implicit rewards are beta (log pi - log pi_ref) of
 * each response, and the metrics carry TRL's names (rewards/chosen, rewards/rejected,
 * rewards/margins, rewards/accuracies, logps/chosen, logps/rejected) plus `kl`.
 *
 * The reference log-probabilities come from a reference model called under noGrad each step
 * (a frozen copy, or the same base with the LoRA adapter off: LoraModel.base computes
 * without its adapter, so no second copy is held), or are computed once at construction
 * (`precompute`: the reference may then be the policy itself before training, or be
 * disposed afterwards). `kl` is the exact KL(pi || pi_ref) summed over the response tokens
 * of validation responses, against reference distributions stored at construction.
 *
 * Legend: B pairs, T positions, V vocabulary.
 */
import {
  Rng,
  Tensor,
  abs,
  add,
  exp,
  log,
  logSoftmax,
  mean,
  minimum,
  mul,
  narrow,
  neg,
  noGrad,
  scope,
  square,
  sub,
} from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import { ConfigError, FormatError } from '../../util/errors.js';
import { EpochBatches, collateSft } from '../data/chat-data.js';
import {
  checkFits,
  responseLogProbs,
  scoreSequences,
  tokenizeResponse,
  type ResponseFormat,
  type ScoredSequence,
} from '../align/logprobs.js';
import type { PreferencePair } from '../data/preferences.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

/** The loss: DPO's sigmoid (with cDPO label smoothing) or IPO. */
export type PreferenceLoss =
  | { readonly kind: 'sigmoid'; readonly beta: number; readonly labelSmoothing: number }
  | { readonly kind: 'ipo'; readonly beta: number };

/** Checks beta > 0 and label smoothing in [0, 0.5) (above it the loss prefers the rejected). */
export function checkPreferenceLoss(loss: PreferenceLoss, where: string): void {
  if (!(loss.beta > 0 && Number.isFinite(loss.beta))) {
    throw new ConfigError('beta must be a positive number', { where, expected: '> 0', actual: loss.beta });
  }
  if (loss.kind === 'sigmoid' && !(loss.labelSmoothing >= 0 && loss.labelSmoothing < 0.5)) {
    throw new ConfigError('label smoothing must be in [0, 0.5)', {
      where,
      expected: '0 <= eps < 0.5',
      actual: loss.labelSmoothing,
    });
  }
}

/** log sigma(x) = min(x, 0) - log(1 + exp(-|x|)): no overflow for any x. */
function logSigmoid(x: Tensor): Tensor {
  return sub(minimum(x, 0), log(add(exp(neg(abs(x))), 1)));
}

export interface PreferenceLossTerms {
  /** (B) each pair's loss. */
  readonly losses: Tensor;
  /** (B) beta (log pi - log pi_ref) of the chosen and the rejected responses (no gradient). */
  readonly chosenRewards: Float64Array;
  readonly rejectedRewards: Float64Array;
}

/**
 * The per-pair loss from the four (B) log-probabilities (policy and reference, chosen and
 * rejected; only the policy's need a gradient).
 *
 * @example
 * const { losses } = preferenceLoss(pc, pr, rc, rr, { kind: 'sigmoid', beta: 0.1, labelSmoothing: 0 });
 * const loss = mean(losses); // ln 2 when the policy equals the reference
 */
export function preferenceLoss(
  policyChosen: Tensor,
  policyRejected: Tensor,
  referenceChosen: Tensor,
  referenceRejected: Tensor,
  loss: PreferenceLoss,
): PreferenceLossTerms {
  const chosenRatio = sub(policyChosen, referenceChosen); // (B)
  const rejectedRatio = sub(policyRejected, referenceRejected); // (B)
  const h = sub(chosenRatio, rejectedRatio); // (B)
  let losses: Tensor;
  switch (loss.kind) {
    case 'sigmoid': {
      const bh = mul(h, loss.beta);
      const eps = loss.labelSmoothing;
      const chosenTerm = mul(logSigmoid(bh), -(1 - eps));
      losses = eps === 0 ? chosenTerm : sub(chosenTerm, mul(logSigmoid(neg(bh)), eps)); // (B)
      break;
    }
    case 'ipo':
      losses = square(sub(h, 1 / (2 * loss.beta))); // (B)
      break;
  }
  const rewards = (ratio: Tensor): Float64Array => Float64Array.from(ratio.toArray(), (r) => loss.beta * r);
  return { losses, chosenRewards: rewards(chosenRatio), rejectedRewards: rewards(rejectedRatio) };
}

/** A pair tokenized: its chosen and rejected sequences. */
export interface TokenizedPair {
  readonly chosen: ScoredSequence;
  readonly rejected: ScoredSequence;
  readonly where: string;
}

/**
 * Tokenizes pairs for a model: every response non-empty (tokenizeResponse), the two
 * responses of a pair different (as text and as tokens), both within the context.
 */
export function tokenizePairs(
  pairs: readonly PreferencePair[],
  format: ResponseFormat,
  model: LanguageModel,
): TokenizedPair[] {
  return pairs.map((pair) => {
    if (pair.chosen === pair.rejected) {
      throw new FormatError('the chosen and rejected responses are identical', {
        where: pair.where,
        hint: 'a preference pair needs two different responses',
      });
    }
    const chosen = tokenizeResponse(pair.prompt, pair.chosen, format, `${pair.where}: chosen`);
    const rejected = tokenizeResponse(pair.prompt, pair.rejected, format, `${pair.where}: rejected`);
    if (chosen.ids.length === rejected.ids.length && chosen.ids.every((id, i) => id === rejected.ids[i])) {
      throw new FormatError('the chosen and rejected responses have the same tokens', {
        where: pair.where,
        hint: "they differ only in characters the tokenizer's vocabulary drops",
      });
    }
    checkFits(chosen, model);
    checkFits(rejected, model);
    return { chosen, rejected, where: pair.where };
  });
}

export interface DpoData {
  readonly train: readonly TokenizedPair[];
  readonly val: readonly TokenizedPair[];
  /** Pairs per batch. */
  readonly batchSize: number;
  readonly loss: PreferenceLoss;
  readonly padId: number;
  /** The reference model (frozen copy, LoRA base, or the policy itself before training). */
  readonly reference: LanguageModel;
  /** Computes every reference log-probability at construction, then never calls `reference` again. */
  readonly precompute: boolean;
  /** Bytes of reference distributions kept for the KL metric (default 64 MiB): validation responses up to it. */
  readonly klBudgetBytes?: number;
}

/** A batch: indices of pairs of a split. */
export interface DpoBatch {
  readonly split: ObjectiveSplit;
  readonly pairs: readonly number[];
}

/** The DPO metrics of a set of pairs, by TRL's names, plus `loss`. */
export type DpoMetrics = Readonly<Record<string, number>>;

/**
 * A pair counts for rewards/accuracies when its chosen reward beats the rejected by more than
 * this times beta: float32 log-probabilities of one sequence batched with different padding
 * differ by ~1e-5, which with policy == reference must not count as a preference.
 */
const accuracyTolerance = 1e-4;

/** Sequences per reference forward pass when precomputing. */
const referenceBatch = 16;

export class DpoObjective implements Objective<DpoBatch> {
  readonly kind = 'dpo';
  readonly #data: DpoData;
  /** Per split: the reference log-probabilities of each pair's chosen and rejected (precompute). */
  readonly #referenceLogps: Record<ObjectiveSplit, { chosen: Float64Array; rejected: Float64Array }> | null;
  /** Reference log-softmax at the response positions of the first validation sequences: (n, V) each. */
  readonly #klReference: { sequence: ScoredSequence; logProbs: Float32Array }[];
  readonly #klSequences: number;

  constructor(data: DpoData) {
    for (const [split, pairs] of [
      ['training', data.train],
      ['validation', data.val],
    ] as const) {
      if (pairs.length === 0) {
        throw new ConfigError(`the ${split} split has no preference pairs`, {
          where: 'DpoObjective',
          hint: 'give more pairs',
        });
      }
    }
    checkPreferenceLoss(data.loss, 'DpoObjective');
    this.#data = data;
    this.#referenceLogps = data.precompute
      ? { train: this.#referenceOf(data.train), val: this.#referenceOf(data.val) }
      : null;
    const budget = data.klBudgetBytes ?? 64 * 2 ** 20;
    const V = data.reference.vocabSize;
    this.#klReference = [];
    let bytes = 0;
    for (const sequence of data.val.flatMap((pair) => [pair.chosen, pair.rejected])) {
      const size = sequence.ids.length * V * 4;
      if (bytes + size > budget && this.#klReference.length > 0) break;
      bytes += size;
      this.#klReference.push({ sequence, logProbs: responseLogSoftmax(data.reference, sequence) });
    }
    this.#klSequences = this.#klReference.length;
  }

  /** Validation responses the `kl` metric covers (all of them unless the budget cut it). */
  get klSequences(): number {
    return this.#klSequences;
  }

  #referenceOf(pairs: readonly TokenizedPair[]): { chosen: Float64Array; rejected: Float64Array } {
    const { reference, padId } = this.#data;
    const score = (sequences: readonly ScoredSequence[]): Float64Array => {
      const out = new Float64Array(sequences.length);
      for (let i = 0; i < sequences.length; i += referenceBatch) {
        const chunk = sequences.slice(i, i + referenceBatch);
        const values = scope(() =>
          noGrad(() => responseLogProbs(reference, chunk, { mode: 'eval' }, padId).toArray()),
        );
        out.set(values, i);
      }
      return out;
    };
    return { chosen: score(pairs.map((p) => p.chosen)), rejected: score(pairs.map((p) => p.rejected)) };
  }

  check(model: LanguageModel): void {
    if (model.vocabSize !== this.#data.reference.vocabSize) {
      throw new ConfigError('the reference model has another vocabulary than the policy', {
        where: 'DpoObjective',
        expected: `${model.vocabSize} ids`,
        actual: `${this.#data.reference.vocabSize} ids`,
      });
    }
    for (const pair of [...this.#data.train, ...this.#data.val]) {
      checkFits(pair.chosen, model);
      checkFits(pair.rejected, model);
    }
  }

  /** The pairs of a split in batches, an epoch at a time (shuffled for training). */
  #source(split: ObjectiveSplit, rng: Rng): EpochBatches {
    const pairs = split === 'train' ? this.#data.train : this.#data.val;
    // EpochBatches plans epochs (shuffle, resumable state) over examples; its rows are one
    // example each here, and a batch's documents name the pairs it holds.
    const examples = pairs.map((pair) => pair.chosen);
    const blockSize = Math.max(...examples.map((e) => e.ids.length - 1));
    const options = { batchSize: this.#data.batchSize, blockSize, layout: 'padded', padId: 0 } as const;
    return new EpochBatches(examples, options, rng, split === 'train');
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<DpoBatch> {
    const source = this.#source(split, rng);
    return {
      next: () => ({ split, pairs: source.next().documents.map((d) => d.example) }),
      getState: () => source.getState(),
      setState: (state) => source.setState(state),
    };
  }

  /** Training batches in each of `epochs` epochs drawn from `rng` (trainingBatchRng). */
  trainBatchesPerEpoch(rng: Rng, epochs: number): number[] {
    return this.#source('train', rng).batchesPerEpoch(epochs);
  }

  /** Batches that cover the validation split once. */
  get valBatches(): number {
    return this.#source('val', new Rng(0)).batchesPerEpoch(1)[0]!;
  }

  /** The loss terms of a batch: the policy's log-probabilities (one forward of 2B rows) and the reference's. */
  #terms(
    model: LanguageModel,
    batch: DpoBatch,
    settings: ForwardSettings,
  ): PreferenceLossTerms & { policyChosen: Tensor; policyRejected: Tensor } {
    const split = batch.split === 'train' ? this.#data.train : this.#data.val;
    const ordered = batch.pairs.map((i) => split[i]!);
    const B = ordered.length;
    const sequences = [...ordered.map((p) => p.chosen), ...ordered.map((p) => p.rejected)];
    const policy = responseLogProbs(model, sequences, settings, this.#data.padId); // (2B)
    const policyChosen = narrow(policy, 0, 0, B); // (B)
    const policyRejected = narrow(policy, 0, B, B); // (B)
    let referenceChosen: Tensor;
    let referenceRejected: Tensor;
    if (this.#referenceLogps !== null) {
      const stored = this.#referenceLogps[batch.split];
      const pick = (values: Float64Array): Tensor => {
        const picked = batch.pairs.map((i) => values[i]!);
        return Tensor.fromArray(
          policy.dtype === 'float64' ? Float64Array.from(picked) : Float32Array.from(picked),
          [B],
        );
      };
      referenceChosen = pick(stored.chosen);
      referenceRejected = pick(stored.rejected);
    } else {
      const reference = noGrad(() =>
        responseLogProbs(this.#data.reference, sequences, { mode: 'eval' }, this.#data.padId),
      ); // (2B)
      referenceChosen = narrow(reference, 0, 0, B);
      referenceRejected = narrow(reference, 0, B, B);
    }
    const terms = preferenceLoss(
      policyChosen,
      policyRejected,
      referenceChosen,
      referenceRejected,
      this.#data.loss,
    );
    return { ...terms, policyChosen, policyRejected };
  }

  loss(model: LanguageModel, batch: DpoBatch, settings: ForwardSettings): ObjectiveLoss {
    const { losses } = this.#terms(model, batch, settings);
    const pairs = batch.split === 'train' ? this.#data.train : this.#data.val;
    const tokens = batch.pairs.reduce(
      (n, i) => n + pairs[i]!.chosen.ids.length + pairs[i]!.rejected.ids.length,
      0,
    );
    return { loss: mean(losses), tokens };
  }

  /** The validation metrics (each evaluation): TRL's names, and kl. */
  metrics(model: LanguageModel): DpoMetrics {
    const metrics: Record<string, number> = { ...this.evaluatePairs(model, 'val') };
    delete metrics['loss']; // the trainer reports it as val_loss
    return { ...metrics, kl: this.klToReference(model) };
  }

  /**
   * TRL's metrics and the mean loss over every pair of a split (eval mode, no gradient).
   * rewards/accuracies counts a pair when its chosen reward is higher (by more than float
   * noise: accuracyTolerance).
   */
  evaluatePairs(model: LanguageModel, split: ObjectiveSplit): DpoMetrics {
    const pairs = split === 'train' ? this.#data.train : this.#data.val;
    const sums = {
      loss: 0,
      chosen: 0,
      rejected: 0,
      margins: 0,
      accuracies: 0,
      logpsChosen: 0,
      logpsRejected: 0,
    };
    for (let start = 0; start < pairs.length; start += this.#data.batchSize) {
      const indices = Array.from(
        { length: Math.min(this.#data.batchSize, pairs.length - start) },
        (_, i) => start + i,
      );
      scope(() =>
        noGrad(() => {
          const terms = this.#terms(model, { split, pairs: indices }, { mode: 'eval' });
          const losses = terms.losses.toArray();
          const pc = terms.policyChosen.toArray();
          const pr = terms.policyRejected.toArray();
          indices.forEach((_, j) => {
            const c = terms.chosenRewards[j]!;
            const r = terms.rejectedRewards[j]!;
            sums.loss += losses[j]!;
            sums.chosen += c;
            sums.rejected += r;
            sums.margins += c - r;
            sums.accuracies += c - r > accuracyTolerance * this.#data.loss.beta ? 1 : 0;
            sums.logpsChosen += pc[j]!;
            sums.logpsRejected += pr[j]!;
          });
        }),
      );
    }
    const n = pairs.length;
    return {
      loss: sums.loss / n,
      'rewards/chosen': sums.chosen / n,
      'rewards/rejected': sums.rejected / n,
      'rewards/margins': sums.margins / n,
      'rewards/accuracies': sums.accuracies / n,
      'logps/chosen': sums.logpsChosen / n,
      'logps/rejected': sums.logpsRejected / n,
    };
  }

  /**
   * The mean over validation responses (klSequences of them) of KL(pi || pi_ref) summed over
   * each response's tokens: sum_t sum_v pi(v|ctx_t) (log pi(v|ctx_t) - log pi_ref(v|ctx_t)).
   */
  klToReference(model: LanguageModel): number {
    let total = 0;
    for (const { sequence, logProbs } of this.#klReference) {
      const policy = responseLogSoftmax(model, sequence);
      let kl = 0;
      for (let i = 0; i < policy.length; i++) {
        const lp = policy[i]!;
        kl += Math.exp(lp) * (lp - logProbs[i]!);
      }
      total += kl;
    }
    return total / this.#klSequences;
  }
}

/** log-softmax of the model's next-token logits at the positions that predict the response: (n, V) flat. */
function responseLogSoftmax(model: LanguageModel, sequence: ScoredSequence): Float32Array {
  return scope(() =>
    noGrad(() => {
      const n = sequence.ids.length - 1;
      const batch = collateSft([sequence], [[0]], { batchSize: 1, blockSize: n, layout: 'padded', padId: 0 });
      const { logits } = model.forward({ ids: batch.ids }, { logits: 'all', mode: 'eval' }); // (1, n, V)
      const all = logSoftmax(logits!, -1).floats(); // (1, n, V)
      const V = model.vocabSize;
      const positions: number[] = [];
      for (let t = 0; t < n; t++) if (sequence.trained[t + 1] === 1) positions.push(t);
      const out = new Float32Array(positions.length * V);
      positions.forEach((t, i) => out.set(all.subarray(t * V, (t + 1) * V), i * V));
      return out;
    }),
  );
}

/**
 * The fraction of pairs whose chosen response the model gives the higher log-probability
 * (log pi(chosen) > log pi(rejected), no reference): how often the model itself prefers the
 * chosen answer, before and after DPO.
 */
export function preferenceAccuracy(model: LanguageModel, pairs: readonly TokenizedPair[], padId = 0): number {
  const chosen = scoreSequences(
    model,
    pairs.map((p) => p.chosen),
    { padId },
  );
  const rejected = scoreSequences(
    model,
    pairs.map((p) => p.rejected),
    { padId },
  );
  return chosen.filter((c, i) => c.logprob > rejected[i]!.logprob).length / pairs.length;
}
