/**
 * `lmforge align rloo|grpo DIR --prompts FILE (--reward RM | --reward-fn FILE.js) --out OUT`:
 * reward-based policy optimisation (train/align/policy-opt.ts) of a model folder with a chat
 * template. The reward is a JS module exporting `reward(prompt, completion)` (sync or
 * async; --reward-fn), or a reward-model folder (--reward). The prompts are a JSONL file of
 * {"prompt": ...} lines; --val FILE (or every tenth prompt) is held out and its mean reward
 * reported before and after. Each step prints its reward and KL (stderr), and every skipped
 * sample (a reward that threw or was not a finite number) is reported. --out is a model
 * folder (or, with --lora, a PEFT adapter folder), written at the end.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Rng } from '../tensor/index.js';
import { withLora, type LanguageModel, type LoraModel } from '../models/index.js';
import {
  PolicyTrainer,
  defaultPolicyOptions,
  loadRewardModel,
  rewardFromFunction,
  rewardFromScorer,
  shuffleInPlace,
  type AdvantageKind,
  type PolicyPrompt,
  type PolicyStepReport,
  type Reward,
  type RewardFunction,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import {
  checkNewOut,
  holdOut,
  loadAlignModel,
  readPromptsJsonl,
  saveAligned,
  type AlignModel,
} from './align-model.js';
import { loraConfigFrom } from './finetune-sft.js';

export interface PolicyFlags {
  readonly prompts: string;
  readonly reward?: string;
  readonly rewardFn?: string;
  readonly out: string;
  readonly k: number;
  readonly klCoef: number;
  readonly lora?: number;
  readonly epochs: number;
  readonly lr?: number;
  readonly batchSize: number;
  readonly val?: string;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly seed: number;
  readonly force?: boolean;
  readonly json?: boolean;
  readonly progress: boolean;
}

export const policyDefaults = { loraLr: 2e-3, fullLr: 1e-4 } as const;

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** The reward of --reward-fn: the module's `reward` export. */
async function rewardModule(file: string): Promise<RewardFunction> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`cannot load the reward module: ${(error as Error).message}`, {
      where: file,
      cause: error,
    });
  }
  const reward = module['reward'];
  if (typeof reward !== 'function') {
    throw new ConfigError('the module does not export a function `reward(prompt, completion)`', {
      where: file,
      actual: reward === undefined ? 'no `reward` export' : typeof reward,
    });
  }
  return reward as RewardFunction;
}

/** The reward of --reward-fn or --reward, with what releases it (a reward model's weights). */
async function rewardOf(flags: PolicyFlags): Promise<{ reward: Reward; dispose: () => void }> {
  if ((flags.reward === undefined) === (flags.rewardFn === undefined)) {
    throw new ConfigError('needs one of --reward RM and --reward-fn FILE.js', {
      where: flags.reward === undefined ? '--reward-fn' : '--reward',
    });
  }
  if (flags.rewardFn !== undefined) {
    return { reward: rewardFromFunction(await rewardModule(flags.rewardFn)), dispose: () => {} };
  }
  const model = await loadRewardModel(flags.reward!);
  return { reward: rewardFromScorer(model), dispose: () => model.dispose() };
}

export interface PolicyOutcome {
  readonly before: number;
  readonly after: number;
  readonly last: PolicyStepReport | null;
  readonly steps: number;
  readonly skipped: number;
  readonly trainable: number;
  readonly total: number;
}

/** What a policy optimisation runs on: the training and held-out prompts, and the reward. */
export interface PolicyInputs {
  readonly train: readonly PolicyPrompt[];
  readonly val: readonly PolicyPrompt[];
  readonly reward: Reward;
  /** Where the reward comes from (for errors): the --reward-fn file, --reward folder, or a name. */
  readonly rewardWhere: string;
  /** Releases the reward (a reward model's weights). */
  readonly dispose: () => void;
}

/** The flags the run itself reads (the inputs come from PolicyInputs). */
export type PolicyRunFlags = Omit<PolicyFlags, 'prompts' | 'reward' | 'rewardFn' | 'val'>;

/** Runs `align rloo|grpo`: --out checked, --prompts / --val and the reward read, then optimisePolicy. */
export async function runPolicyOptimisation(
  kind: AdvantageKind,
  dir: string,
  flags: PolicyFlags,
): Promise<PolicyOutcome> {
  await checkNewOut(flags.out, flags.force === true);
  const prompts = await readPromptsJsonl(flags.prompts);
  const split = holdOut<PolicyPrompt>(
    prompts,
    flags.val === undefined ? null : await readPromptsJsonl(flags.val),
    flags.prompts,
  );
  const { reward, dispose } = await rewardOf(flags);
  return optimisePolicy(kind, dir, flags, {
    ...split,
    reward,
    rewardWhere: flags.rewardFn ?? flags.reward ?? '--reward',
    dispose,
  });
}

/**
 * RLOO / GRPO of the model folder `dir` on `inputs` (disposed at the end): the held-out mean
 * reward before and after, progress per step, and the result written to flags.out.
 */
export async function optimisePolicy(
  kind: AdvantageKind,
  dir: string,
  flags: PolicyRunFlags,
  inputs: PolicyInputs,
): Promise<PolicyOutcome> {
  const { reward, dispose: disposeReward } = inputs;
  const split = { train: inputs.train, val: inputs.val };
  let base: AlignModel;
  try {
    base = await loadAlignModel(dir);
  } catch (error) {
    disposeReward();
    throw error;
  }
  let reference: AlignModel | null = null;
  let lora: LoraModel | null = null;
  let trainer: PolicyTrainer | null = null;
  try {
    if (base.template === null) {
      throw new ConfigError('the model has no chat template', {
        where: dir,
        hint: 'fine-tune it with `lmforge finetune DIR --task sft`, which gives it one',
      });
    }
    let model: LanguageModel = base.model;
    let referenceModel: LanguageModel | null = null;
    if (flags.lora !== undefined) {
      lora = withLora(base.model, loraConfigFrom(base.model, { lora: flags.lora }, false), {
        init: 'random',
        rng: new Rng(flags.seed),
      });
      model = lora;
      referenceModel = lora.base; // the adapter off: no second copy
    } else if (flags.klCoef > 0) {
      reference = await loadAlignModel(dir); // a frozen copy of the start
      referenceModel = reference.model;
    }
    const options = {
      ...defaultPolicyOptions,
      kind,
      k: flags.k,
      promptsPerStep: flags.batchSize,
      maxNewTokens: flags.maxTokens,
      temperature: flags.temperature,
      klCoef: flags.klCoef,
      lr: flags.lr ?? (lora === null ? policyDefaults.fullLr : policyDefaults.loraLr),
      seed: flags.seed,
    };
    trainer = new PolicyTrainer(
      model,
      referenceModel,
      { template: base.template, tokenizer: base.tokenizer },
      reward,
      options,
    );
    const total = base.model.parameters().reduce((n, t) => n + t.size, 0);
    const trainable = model.parameters().reduce((n, t) => n + (t.requiresGrad ? t.size : 0), 0);
    const stepsPerEpoch = Math.ceil(split.train.length / flags.batchSize);
    const iters = stepsPerEpoch * flags.epochs;
    log(
      `${kind}: ${split.train.length} training and ${split.val.length} held-out prompts, K ${flags.k}, KL coefficient ${flags.klCoef}; ` +
        `training ${lora === null ? 'every weight' : `a LoRA adapter (rank ${flags.lora})`}: ${trainable.toLocaleString('en')} of ${total.toLocaleString('en')} parameters, ${iters} steps`,
    );
    const evalSeed = flags.seed + 7;
    const before = await trainer.meanReward(split.val, evalSeed);
    log(`held-out mean reward before: ${before.mean.toFixed(4)}`);
    const rng = new Rng(flags.seed + 3);
    let last: PolicyStepReport | null = null;
    let skipped = 0;
    let updates = 0;
    for (let epoch = 0; epoch < flags.epochs; epoch++) {
      const order = shuffleInPlace([...split.train], rng);
      for (let i = 0; i < order.length; i += flags.batchSize) {
        const report = await trainer.step(order.slice(i, i + flags.batchSize));
        last = report;
        if (report.updated) updates++;
        skipped += report.skipped.filter((s) => s.sample !== null).length;
        for (const s of report.skipped) {
          log(
            `step ${report.step}: ${s.prompt}${s.sample === null ? '' : ` sample ${s.sample}`}: skipped (${s.reason})`,
          );
        }
        if (flags.progress) {
          log(
            `step ${report.step}/${iters}: reward ${report.rewardMean.toFixed(4)}, kl ${report.kl.toFixed(4)}, loss ${report.loss.toFixed(4)}` +
              (report.updated ? '' : ' (no update: nothing scored)'),
          );
        }
      }
    }
    if (updates === 0) {
      throw new ConfigError('the reward scored too few completions for any update (every step was skipped)', {
        where: inputs.rewardWhere,
        hint: 'the warnings above give each reason; nothing was written',
      });
    }
    const after = await trainer.meanReward(split.val, evalSeed);
    log(`held-out mean reward after: ${after.mean.toFixed(4)} (before ${before.mean.toFixed(4)})`);
    await saveAligned(flags.out, base, dir, model, lora);
    return { before: before.mean, after: after.mean, last, steps: iters, skipped, trainable, total };
  } finally {
    disposeReward();
    trainer?.dispose();
    reference?.model.dispose();
    lora?.dispose();
    base.model.dispose();
  }
}
