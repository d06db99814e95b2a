/**
 * `lmforge reward train DIR --out RM`: trains a reward model (reward-train.ts) on preference
 * pairs (--data prefs.jsonl, or the built-in WordNet pairs); the last --json line holds
 * `val_accuracy` (held-out pairwise accuracy) and `val_loss`.
 * `lmforge reward score RM --prompt P --response R [--response R2 ...]`: the reward model's
 * score of each response (one number a line, or one {"score"} JSON line each with --json).
 */
import { builtinChatTemplates } from '../../tokenizers/index.js';
import { Command, Option } from 'commander';
import { loadRewardModel } from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { finetuneJson, runFinetune } from '../finetune-run.js';
import { integer, real } from '../parse-number.js';
import { prepareRewardTraining, rewardDefaults, type RewardTrainFlags } from '../reward-train.js';
import { signalExitCode } from '../train-run.js';
import { ConfigError } from '../../util/errors.js';

function trainCommand(): Command {
  const command = new Command('train')
    .description('Train a reward model (Bradley-Terry loss on preference pairs) from a model folder')
    .argument('<dir>', 'the model folder to start from (an SFT model, or any base)')
    .option(
      '--data <file>',
      'preference pairs, TRL JSONL {"prompt","chosen","rejected"} (default: built-in WordNet pairs)',
    )
    .option('--val <file>', 'validation pairs (default: a tenth of --data)')
    .requiredOption(
      '--out <dir>',
      'the reward model folder to write (HF *ForSequenceClassification, num_labels 1)',
    )
    .option(
      '--lora <r>',
      'train a LoRA adapter of rank R and the head (merged into --out)',
      integer({ min: 1 }),
    )
    .option('--epochs <n>', `passes over the pairs (default ${rewardDefaults.epochs})`, integer({ min: 1 }))
    .option(
      '--lr <x>',
      `peak learning rate (default ${rewardDefaults.fullLr}, ${rewardDefaults.loraLr} with --lora)`,
      real({ above: 0 }),
    )
    .option('--batch-size <n>', `pairs per step (default ${rewardDefaults.batchSize})`, integer({ min: 1 }))
    .option('--seed <n>', 'random seed', integer({ min: 0, max: 2 ** 32 }), 1337)
    .option(
      '--eval-every <n>',
      'evaluate and checkpoint every N steps (default: 6 times a run)',
      integer({ min: 1 }),
    )
    .addOption(
      new Option(
        '--chat-template <name>',
        'built-in chat template for a model without one (default chatml)',
      ).choices(Object.keys(builtinChatTemplates)),
    )
    .option('--force', 'replace a previous run in --out (once the new run has saved its first checkpoint)')
    .option('--no-progress', 'no progress bar / evaluation lines')
    .option('--json', 'print a JSON summary as the last stdout line');
  return addComputeOptions(command).action(async (dir: string, flags: RewardTrainFlags & ComputeFlags) => {
    const backend = applyComputeOptions(flags, flags.json === true);
    const prepared = await prepareRewardTraining(dir, flags);
    try {
      const outcome = await runFinetune(prepared, flags);
      if (outcome.signal !== null) process.exitCode = signalExitCode[outcome.signal];
      const { summary } = outcome;
      if (summary.checkpointStep !== summary.step) return;
      if (flags.json === true) {
        process.stdout.write(finetuneJson(outcome, prepared, flags.out) + '\n');
        return;
      }
      const fmt = (x: unknown, digits = 4): string => (typeof x === 'number' ? x.toFixed(digits) : '-');
      process.stdout.write(
        `step ${summary.step}: train loss ${fmt(summary.trainLoss)}, val loss ${fmt(summary.valLoss)}, ` +
          `held-out accuracy ${fmt(outcome.fields['val_accuracy'], 3)}, ${fmt(summary.msPerIterMedian, 1)} ms/iter ` +
          `(${backend.name}) -> ${flags.out}\n`,
      );
    } finally {
      prepared.dispose();
    }
  });
}

interface ScoreFlags extends ComputeFlags {
  readonly prompt: string;
  readonly response: string[];
  readonly json?: boolean;
}

function scoreCommand(): Command {
  const command = new Command('score')
    .description('Score responses to a prompt with a reward model')
    .argument('<rm>', 'the reward model folder (`lmforge reward train --out`)')
    .requiredOption('--prompt <text>', 'the prompt (one user message)')
    .requiredOption(
      '--response <text...>',
      'the responses to score (several after one flag, or the flag repeated)',
    )
    .option('--json', 'print one {"score"} JSON line per response');
  return addComputeOptions(command).action(async (dir: string, flags: ScoreFlags) => {
    applyComputeOptions(flags, true);
    if (flags.prompt.trim() === '') throw new ConfigError('the prompt is empty', { where: '--prompt' });
    const empty = flags.response.findIndex((response) => response.trim() === '');
    if (empty >= 0) {
      throw new ConfigError('the response is empty', {
        where: flags.response.length > 1 ? `--response (#${empty + 1})` : '--response',
      });
    }
    const rm = await loadRewardModel(dir);
    try {
      const scores = await rm.score(flags.prompt, flags.response);
      for (const score of scores)
        process.stdout.write(
          flags.json === true ? `${JSON.stringify({ score })}\n` : `${score.toFixed(6)}\n`,
        );
    } finally {
      rm.dispose();
    }
  });
}

export function rewardCommand(): Command {
  return new Command('reward').addCommand(trainCommand()).addCommand(scoreCommand());
}
