/**
 * `lmforge finetune DIR --task T`: fine-tunes a model folder. `--task` picks an entry of
 * `tasks` below: each says what it trains and which flags of its own it takes; the flags
 * every task shares (--data, --val, --out, --epochs, --lr, --batch-size, --seed,
 * --eval-every, --resume, --force, --json) and the run itself (finetune-run.ts) are common.
 * A new task (classification, tagging) is one module and one line here.
 */
import { Command, Option } from 'commander';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { finetuneJson, runFinetune, type FinetuneFlags, type FinetuneTask } from '../finetune-run.js';
import { sftTask } from '../finetune-sft.js';
import { integer, real } from '../parse-number.js';
import { signalExitCode } from '../train-run.js';
import { ConfigError } from '../../util/errors.js';

/** The tasks, by --task name. */
export const tasks: Readonly<Record<string, FinetuneTask>> = {
  sft: sftTask,
};

/** `--flag-name` of an option's attribute name. */
const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function finetuneCommand(): Command {
  const command = new Command('finetune')
    .argument('<dir>', 'the model folder to fine-tune (an HF folder or an lmforge run)')
    .addOption(
      new Option(
        '--task <task>',
        Object.entries(tasks)
          .map(([name, task]) => `${name}: ${task.description}`)
          .join('; '),
      )
        .choices(Object.keys(tasks))
        .makeOptionMandatory(),
    )
    .option('--data <file>', 'training data (JSONL; the task says what a line holds)')
    .option('--val <file>', 'validation data (default: a tenth of --data)')
    .option(
      '--out <dir>',
      'the run folder (a model folder, or an adapter folder, plus optimizer and trainer state)',
      'runs/finetune',
    )
    .option('--epochs <n>', 'passes over the training data (default 3)', integer({ min: 1 }))
    .option('--lr <x>', 'peak learning rate (default: the task says)', real({ above: 0 }))
    .option('--batch-size <n>', 'rows per step (default 12)', integer({ min: 1 }))
    .option('--seed <n>', 'random seed', integer({ min: 0, max: 2 ** 32 }), 1337)
    .option(
      '--eval-every <n>',
      'evaluate and checkpoint every N steps (default: 6 times a run)',
      integer({ min: 1 }),
    )
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'replace a previous run in --out (once the new run has saved its first checkpoint)')
    .option('--no-progress', 'no progress bar / evaluation lines')
    .option('--json', 'print a JSON summary as the last stdout line');
  const owners = new Map<string, string>();
  for (const [name, task] of Object.entries(tasks)) {
    for (const option of task.options()) {
      command.addOption(option);
      owners.set(option.attributeName(), name);
    }
  }
  return addComputeOptions(command).action(
    async (dir: string, flags: FinetuneFlags & ComputeFlags & { task: string }, self: Command) => {
      const task = tasks[flags.task]!;
      const own: Record<string, unknown> = {};
      for (const [key, owner] of owners) {
        if (self.getOptionValueSource(key) !== 'cli') continue;
        if (owner !== flags.task) {
          throw new ConfigError(`is a flag of --task ${owner}`, {
            where: flagOf(key),
            actual: `--task ${flags.task}`,
          });
        }
        own[key] = (flags as unknown as Record<string, unknown>)[key];
      }
      const backend = applyComputeOptions(flags, flags.json === true);
      const prepared = await task.prepare(dir, flags, own);
      try {
        const outcome = await runFinetune(prepared, flags);
        if (outcome.signal !== null) process.exitCode = signalExitCode[outcome.signal];
        const { summary } = outcome;
        if (summary.checkpointStep !== summary.step) return;
        if (flags.json === true) {
          process.stdout.write(finetuneJson(outcome, prepared, flags.out) + '\n');
          return;
        }
        const fmt = (x: number | null, digits = 4): string => (x === null ? '-' : x.toFixed(digits));
        process.stdout.write(
          `step ${summary.step}: train loss ${fmt(summary.trainLoss)}, val loss ${fmt(summary.valLoss)}, ` +
            `${fmt(summary.msPerIterMedian, 1)} ms/iter, ${prepared.parameters.trainable.toLocaleString('en')} of ` +
            `${prepared.parameters.total.toLocaleString('en')} parameters trained (${backend.name}) -> ${flags.out}\n`,
        );
      } finally {
        prepared.dispose();
      }
    },
  );
}
