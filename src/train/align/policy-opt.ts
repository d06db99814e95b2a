/**
 * Reward-based policy optimisation: RLOO (Ahmadian et al. 2024, "Back to Basics") and GRPO
 * (Shao et al. 2024, DeepSeekMath). Each step samples K completions of each of a batch of
 * prompts from the policy (generate's decodeBatch), scores them with a reward (a reward
 * model, or a function), and turns the rewards of each prompt's group into advantages:
 *
 *   RLOO:  A_i = r_i - mean_{j != i} r_j                 (leave-one-out baseline)
 *   GRPO:  A_i = (r_i - mean_j r_j) / (std_j r_j + 1e-4) (group-normalised; std with n - 1, as TRL)
 *
 * The loss is the clipped surrogate of PPO with the sequence's advantage at each of its
 * tokens, plus the KL penalty to the reference as GRPO writes it (per token, the k3
 * estimator exp(ref - logp) - (ref - logp) - 1, which is >= 0 and unbiased):
 *
 *   per token:  -( min(rho A, clip(rho, 1 - eps, 1 + eps) A) - klCoef k3 ),   rho = pi / pi_old
 *
 * averaged over each completion's tokens, then over the completions. pi_old is the policy
 * that sampled, read from the first update's own forward pass, detached (rho is 1 there;
 * later updates of the same batch, `updatesPerBatch` > 1, are clipped). RLOO and GRPO share this loop and differ only in the
 * advantage. The reported `kl` is the mean over completions of sum_t (logp - ref) (k1: for
 * samples from the policy, an unbiased estimate of the sequence KL).
 *
 * A reward that throws or is not a finite number skips that completion (its group's
 * advantages use the others; a group left with fewer than two is skipped), and each skip is
 * reported in the step's report with its reason; a step where every group is skipped makes
 * no update and says so.
 *
 * Legend: P prompts per step, K completions per prompt, N = P K sequences, T positions.
 */
import {
  Rng,
  Tensor,
  add,
  backward,
  exp,
  maximum,
  minimum,
  mul,
  neg,
  noGrad,
  scope,
  sub,
  sum,
  zeroGrad,
} from '../../tensor/index.js';
import { chatPromptIds, chatStopIds, decodeBatch } from '../../generate/index.js';
import type { LanguageModel } from '../../models/index.js';
import type { ChatMessage, ChatTemplate, Tokenizer } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { AdamW } from '../optim/adamw.js';
import { clipScale } from '../optim/clip.js';
import { responseTokenLogProbs, type ScoredSequence } from './logprobs.js';

export type AdvantageKind = 'rloo' | 'grpo';

/** RLOO advantages of one group: each reward minus the mean of the others (K >= 2). */
export function rlooAdvantages(rewards: readonly number[]): number[] {
  const K = rewards.length;
  if (K < 2)
    throw new ConfigError('RLOO needs at least two rewards per group', {
      where: 'rlooAdvantages',
      actual: K,
    });
  const total = rewards.reduce((a, b) => a + b, 0);
  return rewards.map((r) => r - (total - r) / (K - 1));
}

/** GRPO advantages of one group: (r - mean) / (std + 1e-4), std with Bessel's correction (K >= 2). */
export function grpoAdvantages(rewards: readonly number[]): number[] {
  const K = rewards.length;
  if (K < 2)
    throw new ConfigError('GRPO needs at least two rewards per group', {
      where: 'grpoAdvantages',
      actual: K,
    });
  const m = rewards.reduce((a, b) => a + b, 0) / K;
  const std = Math.sqrt(rewards.reduce((a, r) => a + (r - m) ** 2, 0) / (K - 1));
  return rewards.map((r) => (r - m) / (std + 1e-4));
}

export const advantagesOf: Readonly<Record<AdvantageKind, (rewards: readonly number[]) => number[]>> = {
  rloo: rlooAdvantages,
  grpo: grpoAdvantages,
};

/** A prompt: the conversation to complete (a chat model), or a text (a model without a template). */
export interface PolicyPrompt {
  readonly messages: readonly ChatMessage[];
  readonly where: string;
}

/**
 * Scores completions of one prompt, in order: a number each, or an Error for a completion
 * the reward could not score (it threw); non-finite numbers are treated as such errors.
 */
export interface Reward {
  score(prompt: PolicyPrompt, completions: readonly string[]): Promise<ReadonlyArray<number | Error>>;
}

/** A function reward(prompt, completion) (sync or async); `prompt` is the last user message's text. */
export type RewardFunction = (prompt: string, completion: string) => number | Promise<number>;

/** A Reward from a function: each completion scored on its own, a throw kept as that completion's Error. */
export function rewardFromFunction(fn: RewardFunction): Reward {
  return {
    async score(prompt, completions) {
      const text = [...prompt.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const out: Array<number | Error> = [];
      for (const completion of completions) {
        try {
          out.push(await fn(text, completion));
        } catch (error) {
          out.push(error instanceof Error ? error : new Error(String(error)));
        }
      }
      return out;
    },
  };
}

/** Scores responses to a prompt in one call (a reward model: align/reward-model.ts's RewardModel). */
export interface ResponseScorer {
  score(prompt: readonly ChatMessage[], responses: readonly string[]): Promise<readonly number[]>;
}

/**
 * A Reward from a scorer (a reward model): the non-empty completions scored in one call; an
 * empty completion (an immediate end of turn) is that completion's Error, and a scorer that
 * throws makes every completion of the call that Error.
 */
export function rewardFromScorer(scorer: ResponseScorer): Reward {
  return {
    async score(prompt, completions) {
      const out: Array<number | Error> = completions.map(() => new Error('the completion is empty'));
      const scored = completions.flatMap((c, i) => (c.trim() === '' ? [] : [i]));
      if (scored.length === 0) return out;
      try {
        const values = await scorer.score(
          prompt.messages,
          scored.map((i) => completions[i]!),
        );
        scored.forEach((i, j) => (out[i] = values[j]!));
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        for (const i of scored) out[i] = failure;
      }
      return out;
    },
  };
}

/** How prompts become ids and completions text: the chat template (generation prompt, end-of-turn stop). */
export interface PolicyFormat {
  readonly template: ChatTemplate;
  readonly tokenizer: Tokenizer;
  /** Extra ids that end a completion (EOS). */
  readonly eosIds?: readonly number[];
}

export interface PolicyOptions {
  readonly kind: AdvantageKind;
  /** Completions per prompt (>= 2). */
  readonly k: number;
  /** Prompts per step. */
  readonly promptsPerStep: number;
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly klCoef: number;
  readonly clipEps: number;
  readonly lr: number;
  readonly gradClip: number | null;
  /** Optimiser updates per sampled batch (1: on-policy; more reuse it, clipped). */
  readonly updatesPerBatch: number;
  readonly seed: number;
}

export const defaultPolicyOptions: Omit<PolicyOptions, 'kind'> = {
  k: 4,
  promptsPerStep: 4,
  maxNewTokens: 32,
  temperature: 1,
  klCoef: 0.05,
  clipEps: 0.2,
  lr: 1e-4,
  gradClip: 1,
  updatesPerBatch: 1,
  seed: 1337,
};

/** One skipped completion (or a whole group), with why. */
export interface SkippedSample {
  readonly prompt: string;
  /** Completion index in its group; null: the whole group. */
  readonly sample: number | null;
  readonly reason: string;
}

export interface PolicyStepReport {
  readonly step: number;
  /** Mean reward of the scored completions (NaN when none was). */
  readonly rewardMean: number;
  /** Mean over the trained completions of sum_t (logp - ref); 0 without a reference. */
  readonly kl: number;
  /** The last update's loss (NaN when the step made none). */
  readonly loss: number;
  readonly completions: number;
  readonly skipped: readonly SkippedSample[];
  /** False when every group was skipped (no update). */
  readonly updated: boolean;
}

/** One sampled completion with what the update needs. */
interface Rollout {
  readonly sequence: ScoredSequence;
  readonly advantage: number;
}

/** The prompt ids of a prompt (the template's generation prompt appended). */
const promptIdsOf = (prompt: PolicyPrompt, format: PolicyFormat): number[] =>
  chatPromptIds(format.template, format.tokenizer, prompt.messages);

/**
 * K sampled completions of each prompt (eval mode, no gradient): their ids (a final stop id
 * kept) and texts (special tokens skipped).
 */
export async function sampleCompletions(
  model: LanguageModel,
  prompts: readonly PolicyPrompt[],
  format: PolicyFormat,
  options: Pick<PolicyOptions, 'k' | 'maxNewTokens' | 'temperature'>,
  rng: Rng,
): Promise<{ promptIds: number[]; ids: number[][]; texts: string[] }[]> {
  const stopIds = chatStopIds(format.template, format.tokenizer, format.eosIds ?? []);
  const promptIds = prompts.map((p) => promptIdsOf(p, format));
  for (const [i, ids] of promptIds.entries()) {
    if (ids.length + 1 > model.maxPositions) {
      throw new ConfigError('the prompt leaves no room for a completion in the model context', {
        where: prompts[i]!.where,
        expected: `a prompt of at most ${model.maxPositions - 1} tokens`,
        actual: `${ids.length} tokens`,
      });
    }
  }
  const rows = promptIds.flatMap((ids) => Array.from({ length: options.k }, () => ids));
  const room = Math.min(...promptIds.map((ids) => model.maxPositions - ids.length));
  const decoded = await decodeBatch(
    model,
    { kind: 'prompts', prompts: rows },
    {
      maxNewTokens: Math.max(1, Math.min(options.maxNewTokens, room)),
      eosTokenIds: stopIds,
      sampling: { kind: 'sample', temperature: options.temperature },
      rng,
    },
  );
  return promptIds.map((ids, p) => {
    const group = decoded.slice(p * options.k, (p + 1) * options.k);
    return {
      promptIds: ids,
      ids: group.map((d) => [...d.ids]),
      texts: group.map((d) => format.tokenizer.decode(d.ids, { skipSpecialTokens: true })),
    };
  });
}

/**
 * The RLOO / GRPO trainer of a policy (a model of the contract, or a LoraModel) against a
 * frozen reference (a second model, or the LoRA base with the adapter off; null with
 * klCoef 0). The caller owns both models.
 *
 * @example
 * const trainer = new PolicyTrainer(lora, lora.base, format, rewardFromFunction((p, c) => c.length), { ...defaultPolicyOptions, kind: 'rloo' });
 * for (let step = 0; step < 100; step++) console.log(await trainer.step(prompts.slice(4 * step, 4 * step + 4)));
 */
export class PolicyTrainer {
  readonly policy: LanguageModel;
  readonly reference: LanguageModel | null;
  readonly options: PolicyOptions;
  readonly #format: PolicyFormat;
  readonly #reward: Reward;
  readonly #optimizer: AdamW;
  readonly #rng: Rng;
  readonly #dropoutRng: Rng;
  readonly #padId: number;
  #step = 0;

  constructor(
    policy: LanguageModel,
    reference: LanguageModel | null,
    format: PolicyFormat,
    reward: Reward,
    options: PolicyOptions,
  ) {
    const problems: string[] = [];
    if (!(Number.isInteger(options.k) && options.k >= 2))
      problems.push(`k must be an integer >= 2 (got ${options.k})`);
    if (!(options.klCoef >= 0)) problems.push(`klCoef must be >= 0 (got ${options.klCoef})`);
    if (!(options.clipEps > 0 && options.clipEps < 1))
      problems.push(`clipEps must be in (0, 1) (got ${options.clipEps})`);
    if (!(options.lr > 0)) problems.push(`lr must be > 0 (got ${options.lr})`);
    if (!(options.temperature > 0)) problems.push(`temperature must be > 0 (got ${options.temperature})`);
    if (!(Number.isInteger(options.updatesPerBatch) && options.updatesPerBatch >= 1))
      problems.push(`updatesPerBatch must be an integer >= 1 (got ${options.updatesPerBatch})`);
    if (options.klCoef > 0 && reference === null) problems.push('a KL penalty needs a reference model');
    if (problems.length > 0) {
      throw new ConfigError('invalid policy optimisation options', {
        where: 'PolicyTrainer',
        actual: problems.join('; '),
      });
    }
    this.policy = policy;
    this.reference = reference;
    this.options = options;
    this.#format = format;
    this.#reward = reward;
    this.#optimizer = new AdamW(policy.namedParameters(), { weightDecay: 0 });
    this.#rng = new Rng(options.seed);
    this.#dropoutRng = new Rng(options.seed + 1);
    this.#padId = format.tokenizer.padId ?? 0;
  }

  get stepCount(): number {
    return this.#step;
  }

  /** Samples, scores and updates on one batch of prompts. */
  async step(prompts: readonly PolicyPrompt[]): Promise<PolicyStepReport> {
    const groups = await sampleCompletions(this.policy, prompts, this.#format, this.options, this.#rng);
    const skipped: SkippedSample[] = [];
    const rollouts: Rollout[] = [];
    const scored: number[] = [];
    let completions = 0;
    for (const [p, group] of groups.entries()) {
      const prompt = prompts[p]!;
      const outcomes = await this.#reward.score(prompt, group.texts);
      const valid: { index: number; reward: number }[] = [];
      outcomes.forEach((outcome, i) => {
        completions++;
        if (outcome instanceof Error) {
          skipped.push({ prompt: prompt.where, sample: i, reason: `the reward threw: ${outcome.message}` });
        } else if (typeof outcome !== 'number' || !Number.isFinite(outcome)) {
          skipped.push({
            prompt: prompt.where,
            sample: i,
            reason: `the reward is ${String(outcome)}, not a finite number`,
          });
        } else {
          valid.push({ index: i, reward: outcome });
          scored.push(outcome);
        }
      });
      if (valid.length < 2) {
        skipped.push({
          prompt: prompt.where,
          sample: null,
          reason: `${valid.length} scored completions (a group needs 2)`,
        });
        continue;
      }
      const advantages = advantagesOf[this.options.kind](valid.map((v) => v.reward));
      valid.forEach(({ index }, j) => {
        const ids = Int32Array.from([...group.promptIds, ...group.ids[index]!]);
        const trained = new Uint8Array(ids.length).fill(1, group.promptIds.length);
        rollouts.push({ sequence: { ids, trained, where: prompt.where }, advantage: advantages[j]! });
      });
    }
    this.#step++;
    const rewardMean = scored.length === 0 ? NaN : scored.reduce((a, b) => a + b, 0) / scored.length;
    if (rollouts.length === 0) {
      return { step: this.#step, rewardMean, kl: NaN, loss: NaN, completions, skipped, updated: false };
    }
    const { loss, kl } = this.#update(rollouts);
    return { step: this.#step, rewardMean, kl, loss, completions, skipped, updated: true };
  }

  /** The optimiser updates of one batch of rollouts: the last loss and the KL to the reference. */
  #update(rollouts: readonly Rollout[]): { loss: number; kl: number } {
    const sequences = rollouts.map((r) => r.sequence);
    const N = rollouts.length;
    // pi_old: the first update's own log-probabilities, detached (as TRL's GRPO with one
    // iteration): its ratio is exactly 1 and no extra forward pass is spent on it.
    let old: number[] | null = null; // (N, T) flat
    const reference =
      this.reference === null
        ? null
        : scope(() =>
            noGrad(() =>
              responseTokenLogProbs(
                this.reference!,
                sequences,
                { mode: 'eval' },
                this.#padId,
              ).logProbs.toArray(),
            ),
          );
    let loss = NaN;
    let kl = 0;
    const parameters = this.#optimizer.parameters;
    for (let update = 0; update < this.options.updatesPerBatch; update++) {
      const result = scope(() => {
        const { logProbs, mask } = responseTokenLogProbs(
          this.policy,
          sequences,
          { mode: 'train', rng: this.#dropoutRng },
          this.#padId,
        ); // (N, T)
        const shape = logProbs.shape;
        const T = shape[1]!;
        old ??= logProbs.toArray();
        const oldLogProbs = Tensor.fromArray(Float32Array.from(old), shape); // (N, T)
        const advantages = Tensor.fromArray(
          Float32Array.from(rollouts, (r) => r.advantage),
          [N, 1],
        ); // (N, 1)
        const rho = exp(sub(logProbs, oldLogProbs)); // (N, T)
        const clipped = minimum(maximum(rho, 1 - this.options.clipEps), 1 + this.options.clipEps); // (N, T)
        let perToken = neg(minimum(mul(rho, advantages), mul(clipped, advantages))); // (N, T)
        let klValue = 0;
        if (reference !== null) {
          const refLogProbs = Tensor.fromArray(Float32Array.from(reference), shape); // (N, T)
          const delta = sub(refLogProbs, logProbs); // (N, T)
          const k3 = sub(sub(exp(delta), delta), 1); // (N, T) >= 0
          if (this.options.klCoef > 0) perToken = add(perToken, mul(k3, this.options.klCoef));
          const values = logProbs.toArray();
          const maskValues = mask.toArray();
          for (let i = 0; i < values.length; i++) klValue += maskValues[i]! * (values[i]! - reference[i]!);
          klValue /= N;
        }
        // Mean over each completion's tokens, then over the completions.
        const lengths = Float32Array.from({ length: N }, (_, n) => {
          let count = 0;
          for (let t = 0; t < T; t++) count += sequences[n]!.trained[t + 1] ?? 0;
          return 1 / (N * count);
        });
        const weights = mul(mask, Tensor.fromArray(lengths, [N, 1])); // (N, T)
        const total = sum(mul(perToken, weights)); // ()
        backward(total);
        return { loss: total.item(), kl: klValue };
      });
      loss = result.loss;
      kl = result.kl;
      if (!Number.isFinite(loss)) {
        zeroGrad(parameters);
        throw new ConfigError(`the policy loss is ${loss}`, {
          where: 'PolicyTrainer',
          hint: 'lower the learning rate (--lr)',
        });
      }
      const { gradScale } = clipScale(parameters, this.options.gradClip);
      this.#optimizer.update(this.options.lr, gradScale);
      zeroGrad(parameters);
    }
    return { loss, kl };
  }

  /**
   * Mean reward of K sampled completions of each prompt (the same `seed`, so before and
   * after compare the same draws), skipped completions left out; with how many were skipped.
   */
  async meanReward(
    prompts: readonly PolicyPrompt[],
    seed: number,
  ): Promise<{ mean: number; skipped: number }> {
    const rng = new Rng(seed);
    let total = 0;
    let count = 0;
    let skipped = 0;
    for (let i = 0; i < prompts.length; i += this.options.promptsPerStep) {
      const chunk = prompts.slice(i, i + this.options.promptsPerStep);
      const groups = await sampleCompletions(this.policy, chunk, this.#format, this.options, rng);
      for (const [p, group] of groups.entries()) {
        for (const outcome of await this.#reward.score(chunk[p]!, group.texts)) {
          if (typeof outcome === 'number' && Number.isFinite(outcome)) {
            total += outcome;
            count++;
          } else skipped++;
        }
      }
    }
    return { mean: count === 0 ? NaN : total / count, skipped };
  }

  dispose(): void {
    this.#optimizer.dispose();
  }
}
