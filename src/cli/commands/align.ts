/**
 * `lmforge align dpo|rloo|grpo DIR`: preference alignment of a model folder. `dpo` trains
 * on preference pairs (align-dpo.ts, through finetune's runner: checkpoints, progress,
 * signals); `rloo` and `grpo` sample completions of prompts and optimise a reward
 * (align-policy.ts). With --json the last stdout line is, for dpo, {loss, rewards_accuracy,
 * rewards_margin, kl, ...} (TRL's metrics on the validation pairs), and for rloo/grpo
 * {reward_mean, kl, loss, ...} (reward_mean on the held-out prompts after training).
 */
import { Command, Option } from 'commander';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { dpoDefaults, prepareDpo, type DpoFlags } from '../align-dpo.js';
import { runPolicyOptimisation, type PolicyFlags } from '../align-policy.js';
import { runFinetune } from '../finetune-run.js';
import { integer, real } from '../parse-number.js';
import { signalExitCode } from '../train-run.js';

/** The flags dpo, rloo and grpo share. */
function common(command: Command): Command {
  return command
    .option(
      '--lora <r>',
      'train a LoRA adapter of rank R (base frozen); --out is then a PEFT adapter folder',
      integer({ min: 1 }),
    )
    .option(
      '--lr <x>',
      'learning rate (default: 1e-4, with --lora 1e-3 for dpo and 2e-3 for rloo/grpo)',
      real({ above: 0 }),
    )
    .option('--seed <n>', 'random seed', integer({ min: 0, max: 2 ** 32 }), 1337)
    .option('--force', 'replace what --out holds')
    .option('--no-progress', 'no progress lines')
    .option('--json', 'print a JSON summary as the last stdout line');
}

function dpoCommand(): Command {
  const command = common(
    new Command('dpo')
      .description('Direct preference optimisation (DPO, cDPO, IPO) on {"prompt","chosen","rejected"} pairs')
      .argument('<dir>', 'the model folder to align (an SFT model, with its chat template)')
      .option('--data <file>', 'preference pairs (JSONL, TRL format); default: the built-in WordNet pairs')
      .option('--val <file>', 'validation pairs (default: a tenth of --data)')
      .requiredOption(
        '--out <dir>',
        'the run folder (a model folder, or an adapter folder, plus trainer state)',
      )
      .option('--beta <x>', 'beta: the strength of the KL constraint (default 0.1)', real({ above: 0 }), 0.1)
      .addOption(
        new Option('--loss <kind>', 'sigmoid (DPO) or ipo').choices(['sigmoid', 'ipo']).default('sigmoid'),
      )
      .option(
        '--label-smoothing <x>',
        'cDPO: the assumed label noise, in [0, 0.5)',
        real({ min: 0, below: 0.5 }),
        0,
      )
      .option(
        '--ref <dir>',
        'the reference model folder (default: the base with the LoRA adapter off, or the starting model precomputed)',
      )
      .option('--precompute-ref', "compute the reference's log-probabilities once before training")
      .option(
        '--pairs <n>',
        `built-in data: training pairs at most (default ${dpoDefaults.builtinPairs})`,
        integer({ min: 1 }),
      )
      .option('--epochs <n>', `passes over the pairs (default ${dpoDefaults.epochs})`, integer({ min: 1 }))
      .option('--batch-size <n>', `pairs per step (default ${dpoDefaults.batchSize})`, integer({ min: 1 }))
      .option(
        '--eval-every <n>',
        'evaluate and checkpoint every N steps (default: 4 times a run)',
        integer({ min: 1 }),
      ),
  );
  return addComputeOptions(command).action(async (dir: string, flags: DpoFlags & ComputeFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const { prepared, objective } = await prepareDpo(dir, flags);
    try {
      const outcome = await runFinetune(prepared, flags);
      if (outcome.signal !== null) process.exitCode = signalExitCode[outcome.signal];
      const { summary } = outcome;
      if (summary.checkpointStep !== summary.step) return;
      const m = summary.metrics;
      const line = {
        loss: summary.valLoss,
        rewards_accuracy: m['rewards/accuracies'],
        rewards_margin: m['rewards/margins'],
        kl: m['kl'],
        rewards_chosen: m['rewards/chosen'],
        rewards_rejected: m['rewards/rejected'],
        logps_chosen: m['logps/chosen'],
        logps_rejected: m['logps/rejected'],
        kl_sequences: objective.klSequences,
        train_loss: summary.trainLoss,
        step: summary.step,
        trainable_params: prepared.parameters.trainable,
        params: prepared.parameters.total,
        ms_per_iter_median: summary.msPerIterMedian,
        ...outcome.fields,
        out: flags.out,
      };
      if (flags.json === true) process.stdout.write(JSON.stringify(line) + '\n');
      else {
        const f = (x: number | null | undefined): string =>
          x === null || x === undefined ? '-' : x.toFixed(4);
        process.stdout.write(
          `step ${summary.step}: val loss ${f(line.loss)}, rewards accuracy ${f(line.rewards_accuracy)}, margin ${f(line.rewards_margin)}, kl ${f(line.kl)} -> ${flags.out}\n`,
        );
      }
    } finally {
      prepared.dispose();
    }
  });
}

function policyCommand(kind: 'rloo' | 'grpo'): Command {
  const command = common(
    new Command(kind)
      .description(
        kind === 'rloo'
          ? 'RLOO: K sampled completions per prompt, leave-one-out advantages, KL penalty to the reference'
          : 'GRPO: K sampled completions per prompt, group-normalised advantages, KL penalty to the reference',
      )
      .argument('<dir>', 'the model folder to align (with a chat template)')
      .requiredOption('--prompts <file>', 'JSONL of {"prompt": ...} lines')
      .option('--reward <dir>', 'a reward-model folder')
      .option('--reward-fn <file>', 'a JS module exporting reward(prompt, completion) (sync or async)')
      .requiredOption('--out <dir>', 'the model folder to write (or, with --lora, an adapter folder)')
      .option('--k <n>', 'completions per prompt (default 4)', integer({ min: 2 }), 4)
      .option(
        '--kl-coef <x>',
        'KL penalty coefficient (default 0.05; 0: no reference)',
        real({ min: 0 }),
        0.05,
      )
      .option('--epochs <n>', 'passes over the prompts (default 1)', integer({ min: 1 }), 1)
      .option('--batch-size <n>', 'prompts per step (default 4)', integer({ min: 1 }), 4)
      .option('--val <file>', 'held-out prompts (default: a tenth of --prompts)')
      .option('--max-tokens <n>', 'tokens per completion at most (default 32)', integer({ min: 1 }), 32)
      .option('--temperature <x>', 'sampling temperature (default 1)', real({ above: 0 }), 1),
  );
  return addComputeOptions(command).action(async (dir: string, flags: PolicyFlags & ComputeFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const outcome = await runPolicyOptimisation(kind, dir, flags);
    const line = {
      reward_mean: outcome.after,
      reward_mean_before: outcome.before,
      kl: outcome.last?.kl ?? null,
      loss: outcome.last?.loss ?? null,
      train_reward_mean: outcome.last?.rewardMean ?? null,
      steps: outcome.steps,
      skipped_samples: outcome.skipped,
      trainable_params: outcome.trainable,
      params: outcome.total,
      out: flags.out,
    };
    if (flags.json === true) process.stdout.write(JSON.stringify(line) + '\n');
    else
      process.stdout.write(
        `${outcome.steps} steps: held-out reward ${outcome.before.toFixed(4)} -> ${outcome.after.toFixed(4)}, kl ${(line.kl ?? NaN).toFixed(4)} -> ${flags.out}\n`,
      );
  });
}

export function alignCommand(): Command {
  return new Command('align')
    .addCommand(dpoCommand())
    .addCommand(policyCommand('rloo'))
    .addCommand(policyCommand('grpo'));
}
