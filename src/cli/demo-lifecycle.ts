/**
 * `lmforge demo --lifecycle`: the whole lifecycle of the material on the built-in WordNet
 * data, each stage printing the metric that shows it worked:
 *   1. pre-training (the demo's character model, into --out): the validation loss;
 *   2. SFT on the built-in instructions (--out-sft): held-out answer accuracy before/after;
 *   3. a reward model from the SFT model on the built-in preference pairs (--out-rm): the
 *      held-out pairwise accuracy before/after;
 *   4. DPO of the SFT model on the same pairs (--out-dpo): the held-out preference accuracy
 *      before/after and the KL to the SFT model;
 *   5. RLOO of the DPO model (--out-rloo) with a programmatic reward (fullAnswerReward: an
 *      answer of six words or more) on `Define X` prompts: the mean reward on held-out
 *      prompts before/after and the KL to the DPO model;
 * and the answers to the same held-out question ("Define X", X a word no stage trained on)
 * after pre-training, SFT, DPO and RLOO, with the reward model's score of each.
 */
import { join } from 'node:path';
import { chatPromptIds, chatStopIds, generateText } from '../generate/index.js';
import { saveModelFolder, type LanguageModel } from '../models/index.js';
import { ChatTemplate, builtinChatTemplate, type ChatMessage, type Tokenizer } from '../tokenizers/index.js';
import {
  RewardObjective,
  Trainer,
  pairwiseAccuracy,
  rewardFromFunction,
  resolveTrainOptions,
  rewardExample,
  rewardModelOf,
  wordnetPreferences,
  withRewardHead,
  type PolicyPrompt,
  type PreferencePair,
  type RewardFunction,
  type RewardModel,
} from '../train/index.js';
import { loadAlignModel } from './align-model.js';
import { prepareDpo, type DpoFlags } from './align-dpo.js';
import { optimisePolicy } from './align-policy.js';
import type { DemoFlags } from './commands/demo.js';
import { pretrainDemo } from './commands/demo.js';
import { runFinetune, type FinetuneFlags } from './finetune-run.js';
import { sftTask } from './finetune-sft.js';
import { createTrainProgress } from './progress.js';
import { signalExitCode } from './train-run.js';

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * The demo's budget: pairs for the reward model and DPO, the share of --minutes pre-training
 * gets, and the learning rates. DPO at 1e-3 drifted 20 nats from the SFT model within 30
 * steps (its validation loss rising): DPO's default 1e-4 keeps it within a few nats. The
 * reward model: at 3e-3 its loss sat at ln 2 from the first evaluation on, every answer given
 * one score (the Bradley-Terry optimum for pairs it cannot tell apart); at 1e-3 it fits the
 * pairs it trains on when given epochs. RLOO: 120 training and 24 held-out prompts, 30 steps
 * of 4 x 4 samples.
 */
const lifecycle = {
  pairs: 1000,
  pretrainShare: 0.45,
  dpoLr: 1e-4,
  rewardLr: 1e-3,
  rlooLr: 5e-4,
  rlooPrompts: 120,
  rlooHeldOut: 24,
  answerWords: 6,
  seed: 1337,
} as const;

/** The model's greedy reply to one question through the chat template. */
async function answer(
  model: LanguageModel,
  template: ChatTemplate,
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
): Promise<string> {
  const promptIds = chatPromptIds(template, tokenizer, messages);
  const { text } = await generateText(model, tokenizer, promptIds, {
    maxNewTokens: Math.max(1, Math.min(48, model.maxPositions - promptIds.length)),
    eosTokenIds: chatStopIds(template, tokenizer, []),
  });
  return text.trim();
}

interface Answers {
  readonly question: PreferencePair;
  readonly replies: Array<{ stage: string; text: string }>;
}

const stageFlags = (out: string): FinetuneFlags => ({
  out,
  seed: lifecycle.seed,
  force: true,
  progress: true,
  epochs: 1,
});

/** Stage 3: a reward model (the SFT model under a one-label head) on the built-in pairs. */
async function trainRewardModel(sftDir: string, out: string): Promise<RewardModel> {
  const sft = await loadAlignModel(sftDir);
  if (sft.template === null || sft.format.kind !== 'chat')
    throw new Error('the SFT model has no chat template');
  const format = sft.format.chat;
  const context = sft.model.maxPositions;
  const fits = (pair: PreferencePair): boolean =>
    [pair.chosen, pair.rejected].every(
      (response) =>
        rewardExample(format, { ...pair, chosen: response, rejected: response }).chosen.length <= context,
    );
  const pairs = wordnetPreferences({ trainPairs: lifecycle.pairs, heldOutPairs: 100, fits });
  const model = withRewardHead(sft.model, { padTokenId: sft.tokenizer.padId ?? null, seed: lifecycle.seed });
  sft.model.dispose();
  const padId = sft.tokenizer.padId ?? 0;
  const data = {
    train: pairs.train.map((p) => rewardExample(format, p)),
    val: pairs.heldOut.map((p) => rewardExample(format, p)),
    batchSize: 8,
    padId,
  };
  const objective = new RewardObjective(data);
  const before = pairwiseAccuracy(model, data.val, 8, padId).accuracy;
  const iters = objective.stepsFor(1);
  const progress = createTrainProgress(iters, 0);
  const trainer = new Trainer({
    model,
    tokenizer: sft.tokenizer,
    objective,
    options: resolveTrainOptions({
      iters,
      lr: lifecycle.rewardLr,
      minLr: lifecycle.rewardLr / 10,
      batchSize: 8,
      blockSize: context,
      weightDecay: 0,
      evalEvery: Math.max(1, Math.round(iters / 4)),
      evalIters: objective.valBatches,
      seed: lifecycle.seed,
    }),
    runDir: out,
    replacesRun: true,
    data: {
      source: { kind: 'builtin' },
      description: 'built-in WordNet preference pairs',
      textHash: '',
      trainTokens: 0,
      valTokens: 0,
    },
    saveModel: (dir) =>
      saveModelFolder(dir, model, {
        tokenizerJson: sft.tokenizer.toJSON(),
        ...(sft.tokenizerConfig === null ? {} : { tokenizerConfig: sft.tokenizerConfig }),
      }),
    onEvent: (event) => progress.onEvent(event),
  });
  try {
    await trainer.run();
  } finally {
    progress.stop();
    trainer.dispose();
  }
  const after = pairwiseAccuracy(model, data.val, 8, padId).accuracy;
  // The pairs it trained on tell a model that cannot fit them from one that fits and does not generalise.
  const seen = data.train.slice(0, data.val.length);
  log(
    `stage 3 (reward model): held-out pairwise accuracy ${pct(before)} -> ${pct(after)} ` +
      `(${data.val.length} pairs of words never trained on; chance 50%); ` +
      `on ${seen.length} of its training pairs ${pct(pairwiseAccuracy(model, seen, 8, padId).accuracy)} -> ${out}`,
  );
  return rewardModelOf(model, sft.tokenizer, sft.template);
}

/**
 * Stage 5's programmatic reward: a full answer, 1 for six words or more, else words / 6 (the
 * SFT model answers in fragments of two or three words; WordNet's definitions have about eight).
 *
 * @example
 * fullAnswerReward('Define cat', 'a feline'); // 2 / 6
 */
export const fullAnswerReward: RewardFunction = (_prompt, completion) =>
  Math.min(1, completion.split(/\s+/).filter((word) => word !== '').length / lifecycle.answerWords);

/** Stage 5: RLOO of the DPO model with fullAnswerReward on `Define X` prompts (held-out words for the mean reward). */
async function optimiseFullAnswers(policyDir: string, out: string): Promise<number> {
  const set = wordnetPreferences({ trainPairs: lifecycle.rlooPrompts, heldOutPairs: lifecycle.rlooHeldOut });
  const prompts = (pairs: readonly PreferencePair[]): PolicyPrompt[] =>
    pairs.map((pair) => ({ messages: pair.prompt, where: pair.where }));
  const outcome = await optimisePolicy(
    'rloo',
    policyDir,
    {
      out,
      k: 4,
      klCoef: 0.05,
      epochs: 1,
      lr: lifecycle.rlooLr,
      batchSize: 4,
      maxTokens: 32,
      temperature: 1,
      seed: lifecycle.seed,
      force: true,
      progress: true,
    },
    {
      train: prompts(set.train),
      val: prompts(set.heldOut),
      reward: rewardFromFunction(fullAnswerReward),
      rewardWhere: 'the full-answer reward',
      dispose: () => {},
    },
  );
  log(
    `stage 5 (RLOO): held-out mean reward (answers of ${lifecycle.answerWords}+ words) ${outcome.before.toFixed(3)} -> ${outcome.after.toFixed(3)} ` +
      `(${set.heldOut.length} prompts of words never trained on, 4 samples each); KL to the DPO model ${(outcome.last?.kl ?? NaN).toFixed(3)} nats per answer -> ${out}`,
  );
  return outcome.after;
}

/** Runs the five stages (see the file header). */
export async function runLifecycle(flags: DemoFlags): Promise<void> {
  const sftDir = `${flags.out}-sft`;
  const rmDir = `${flags.out}-rm`;
  const dpoDir = `${flags.out}-dpo`;
  const rlooDir = `${flags.out}-rloo`;
  log(`\n== stage 1/5: pre-training (about ${(flags.minutes * lifecycle.pretrainShare).toFixed(1)} min)`);
  const pretrained = await pretrainDemo(flags, flags.minutes * lifecycle.pretrainShare);
  pretrained.model.dispose();
  if (pretrained.signal !== null) {
    process.exitCode = signalExitCode[pretrained.signal];
    return;
  }
  const { summary } = pretrained;
  log(`stage 1 (pre-training): validation loss ${summary.valLoss?.toFixed(3) ?? '-'} -> ${flags.out}`);

  // The held-out question every stage answers: the first held-out pair's, with its true gloss.
  const question = wordnetPreferences({ trainPairs: 1, heldOutPairs: 1 }).heldOut[0]!;
  const answers: Answers = { question, replies: [] };

  // SFT gives the pre-trained model the built-in ChatML template (finetune-sft.ts's default).
  const chatml = builtinChatTemplate('chatml', 'demo --lifecycle');
  const sftTemplate = new ChatTemplate(chatml.source, {
    name: 'chatml',
    bosToken: chatml.bosToken,
    eosToken: chatml.eosToken,
  });
  log('\n== stage 2/5: supervised fine-tuning on the built-in WordNet instructions (1 epoch)');
  const sft = await sftTask.prepare(flags.out, stageFlags(sftDir), {});
  try {
    answers.replies.push({
      stage: 'pre-trained',
      text: await answer(sft.model, sftTemplate, sft.tokenizer, question.prompt),
    });
    const outcome = await runFinetune(sft, stageFlags(sftDir));
    if (outcome.signal !== null) {
      process.exitCode = signalExitCode[outcome.signal];
      return;
    }
    answers.replies.push({
      stage: 'SFT',
      text: await answer(sft.model, sftTemplate, sft.tokenizer, question.prompt),
    });
    const before = outcome.fields['accuracy_before'] as number | undefined;
    const after = outcome.fields['accuracy_after'] as number | undefined;
    log(
      `stage 2 (SFT): held-out answer accuracy ${before === undefined ? '-' : pct(before)} -> ${after === undefined ? '-' : pct(after)} -> ${sftDir}`,
    );
  } finally {
    sft.dispose();
  }

  log('\n== stage 3/5: reward model (Bradley-Terry on the built-in preference pairs, 1 epoch)');
  const rewardModel = await trainRewardModel(sftDir, rmDir);
  try {
    log('\n== stage 4/5: DPO of the SFT model on the same pairs (1 epoch)');
    const dpoFlags: DpoFlags = {
      ...stageFlags(dpoDir),
      beta: 0.1,
      loss: 'sigmoid',
      labelSmoothing: 0,
      pairs: lifecycle.pairs,
      lr: lifecycle.dpoLr,
    };
    const { prepared } = await prepareDpo(sftDir, dpoFlags);
    try {
      const outcome = await runFinetune(prepared, dpoFlags);
      if (outcome.signal !== null) {
        process.exitCode = signalExitCode[outcome.signal];
        return;
      }
      const m = outcome.summary.metrics;
      answers.replies.push({
        stage: 'DPO',
        text: await answer(prepared.model, sftTemplate, prepared.tokenizer, question.prompt),
      });
      log(
        `stage 4 (DPO): held-out preference accuracy (log p(chosen) > log p(rejected)) ` +
          `${pct(outcome.fields['preference_accuracy_before'] as number)} -> ${pct(outcome.fields['preference_accuracy_after'] as number)}; ` +
          `implicit-reward accuracy ${pct(m['rewards/accuracies']!)}, margin ${m['rewards/margins']!.toFixed(3)}, ` +
          `KL to the SFT model ${m['kl']!.toFixed(3)} nats per answer -> ${dpoDir}`,
      );
    } finally {
      prepared.dispose();
    }
    log(
      `\n== stage 5/5: RLOO of the DPO model with a programmatic reward (a full answer: ${lifecycle.answerWords} words or more)`,
    );
    await optimiseFullAnswers(dpoDir, rlooDir);
    const rloo = await loadAlignModel(rlooDir);
    try {
      answers.replies.push({
        stage: 'RLOO',
        text: await answer(rloo.model, sftTemplate, rloo.tokenizer, question.prompt),
      });
    } finally {
      rloo.model.dispose();
    }
    const prompt = question.prompt.at(-1)?.content ?? '';
    const scores = await rewardModel.score(
      question.prompt,
      answers.replies.map((r) => (r.text.trim() === '' ? '(empty)' : r.text)),
    );
    const [trueScore, missScore] = await rewardModel.score(question.prompt, [
      question.chosen,
      question.rejected,
    ]);
    process.stdout.write(`\nheld-out question: ${JSON.stringify(prompt)}\n`);
    process.stdout.write(
      `  WordNet's gloss:   ${JSON.stringify(question.chosen)} (reward ${trueScore!.toFixed(2)})\n`,
    );
    process.stdout.write(
      `  near miss:         ${JSON.stringify(question.rejected)} (reward ${missScore!.toFixed(2)})\n`,
    );
    answers.replies.forEach((reply, i) => {
      process.stdout.write(
        `  ${`${reply.stage}:`.padEnd(18)} ${JSON.stringify(reply.text)} (reward ${scores[i]!.toFixed(2)})\n`,
      );
    });
    process.stdout.write(
      `\nfolders: ${[flags.out, sftDir, rmDir, dpoDir, rlooDir].join(', ')} (try: lmforge chat ${join(dpoDir)})\n`,
    );
  } finally {
    rewardModel.dispose();
  }
}
