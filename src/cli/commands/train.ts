/**
 * `lmforge train`: train a GPT-2, Llama or Mixtral (sparse mixture of experts) style model
 * (next-token prediction) or a BERT encoder (masked-LM) from scratch on text files (or the
 * built-in WordNet corpus), or a Marian encoder-decoder on sentence pairs (or a built-in
 * WordNet task), or resume a run. With --json the last stdout line is one JSON object:
 * train_loss, val_loss, the objective's metrics (val_bleu, val_chrf for marian),
 * ms_per_iter_median, tokens_per_s, params (and more; for mixtral aux_loss and expert_load).
 */
import { Command, Option } from 'commander';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { integer, real } from '../parse-number.js';
import { trainArchs } from '../train-archs.js';
import {
  defaultCacheDir,
  runTraining,
  signalExitCode,
  summaryJson,
  type TrainOutcome,
  type TrainRequest,
} from '../train-run.js';
import {
  syntheticPairTaskNames,
  wordnetPairTaskNames,
  type DataSource,
  type NonfinitePolicy,
  type ScheduleName,
  type SyntheticPairTaskName,
  type WordnetPairTaskName,
} from '../../train/index.js';
import { ConfigError } from '../../util/errors.js';

export interface TrainFlags extends ComputeFlags {
  data?: string[];
  pairs?: string;
  valPairs?: string;
  task?: WordnetPairTaskName | SyntheticPairTaskName;
  truncate?: boolean;
  labelSmoothing?: number;
  schedule?: ScheduleName;
  arch?: string;
  tokenizer?: string;
  nLayer?: number;
  nHead?: number;
  nEmbd?: number;
  blockSize?: number;
  batchSize?: number;
  gradAccum?: number;
  iters?: number;
  lr?: number;
  minLr?: number;
  warmup?: number;
  beta2?: number;
  weightDecay?: number;
  gradClip?: number;
  dropout?: number;
  nExperts?: number;
  expertsPerToken?: number;
  auxLossCoef?: number;
  routerZLoss?: number;
  capacityFactor?: number;
  evalEvery?: number;
  evalIters?: number;
  earlyStop?: number;
  onNonfinite?: NonfinitePolicy;
  maxSkips?: number;
  wholeWordMasking?: boolean;
  seed?: number;
  out: string;
  resume?: boolean;
  force?: boolean;
  cacheDir?: string;
  json?: boolean;
  progress: boolean;
}

/** The data the flags name (null: the architecture's default, or on resume the checkpoint's). */
function dataSource(flags: TrainFlags): DataSource | null {
  const given = [
    flags.data === undefined ? null : '--data',
    flags.pairs === undefined ? null : '--pairs',
    flags.task === undefined ? null : '--task',
  ].filter((flag) => flag !== null);
  if (given.length > 1) {
    throw new ConfigError(`give one of ${given.join(', ')}`, {
      where: given[1]!,
      hint: '--data is text, --pairs parallel data, --task a built-in task',
    });
  }
  if (flags.valPairs !== undefined && flags.pairs === undefined) {
    throw new ConfigError('--val-pairs needs --pairs', { where: '--val-pairs' });
  }
  if (flags.truncate === true && flags.pairs === undefined) {
    throw new ConfigError('--truncate applies to --pairs', {
      where: '--truncate',
      hint: 'the built-in tasks leave out the pairs longer than --block-size',
    });
  }
  if (flags.data !== undefined) return { kind: 'files', paths: flags.data };
  if (flags.pairs !== undefined) {
    return {
      kind: 'pairs',
      train: flags.pairs,
      val: flags.valPairs ?? null,
      truncate: flags.truncate === true,
    };
  }
  if (flags.task !== undefined) {
    const task = flags.task;
    return (syntheticPairTaskNames as readonly string[]).includes(task)
      ? { kind: 'synthetic-pairs', task: task as SyntheticPairTaskName }
      : { kind: 'wordnet-pairs', task: task as WordnetPairTaskName };
  }
  return null;
}

/**
 * The flags of `train`, shared with `distill` (`variant`), which takes its tokenizer from
 * the teacher, trains decoders only and has its own --out default.
 */
export function addTrainFlags(command: Command, variant: 'train' | 'distill'): Command {
  // distill trains decoders (a student with the teacher's next-token head) only.
  const archs = Object.entries(trainArchs).filter(
    ([name]) => variant === 'train' || !['bert', 'marian'].includes(name),
  );
  command.option('--data <file...>', 'text files to train on (default: the built-in WordNet corpus)');
  if (variant === 'train') {
    command
      .option(
        '--pairs <file>',
        'parallel data for --arch marian: TSV source<TAB>target or JSON Lines {"source","target"}',
      )
      .option('--val-pairs <file>', 'validation pairs (default: the last tenth of --pairs)')
      .addOption(
        new Option(
          '--task <task>',
          'built-in task for --arch marian without --pairs: WordNet (default reverse-dictionary: gloss -> word; definition: word -> gloss; held-out words) or synthetic (copy, reverse: 3 to 12 random letters a-z -> the same, reversed; held-out sequences)',
        ).choices([...wordnetPairTaskNames, ...syntheticPairTaskNames]),
      )
      .option('--truncate', 'cut pairs longer than --block-size positions instead of refusing them');
  }
  command.addOption(
    new Option(
      '--arch <arch>',
      `architecture (default gpt2): ${archs.map(([name, arch]) => `${name}: ${arch.description}`).join('; ')}`,
    ).choices(archs.map(([name]) => name)),
  );
  if (variant === 'train') {
    command.option(
      '--tokenizer <char|bpe:N|wordpiece:N|path>',
      'char, bpe:N or wordpiece:N (trained on the data now; wordpiece for --arch bert; marian: one joint BPE of both sides with <pad> </s> <unk>), or a tokenizer name/path (default char; marian bpe:4096)',
      'char',
    );
  }
  command
    .option('--n-layer <n>', 'transformer blocks (default 4)', integer({ min: 1 }))
    .option('--n-head <n>', 'attention heads (default 4)', integer({ min: 1 }))
    .option('--n-embd <n>', 'embedding width (default 128)', integer({ min: 1 }))
    .option(
      '--block-size <n>',
      'context length (default 64); with --arch bert the max_position_embeddings',
      integer({ min: 1 }),
    )
    .option('--batch-size <n>', 'sequences per micro-batch (default 12)', integer({ min: 1 }))
    .option('--grad-accum <n>', 'micro-batches per optimiser step (default 1)', integer({ min: 1 }))
    .option('--iters <n>', 'optimiser steps (default 2000)', integer({ min: 1 }))
    .option('--lr <x>', 'peak learning rate (default 1e-3)', real({ above: 0 }))
    .option('--min-lr <x>', 'final learning rate of the cosine decay (default 1e-4)', real({ min: 0 }))
    .option('--warmup <n>', 'linear warm-up steps (default iters/10, at most 100)', integer({ min: 0 }))
    .option('--beta2 <x>', 'AdamW beta2 (default 0.99)', real({ min: 0, below: 1 }))
    .option('--weight-decay <x>', 'AdamW weight decay on matrices (default 0.1)', real({ min: 0 }))
    .option('--grad-clip <x>', 'global gradient-norm limit, 0 for none (default 1.0)', real({ min: 0 }))
    .option('--dropout <x>', 'dropout probability (default 0; marian 0.1)', real({ min: 0, below: 1 }))
    .option(
      '--label-smoothing <x>',
      'label smoothing of the cross-entropy (default 0; marian 0.1, as the paper)',
      real({ min: 0, below: 1 }),
    )
    .addOption(
      new Option(
        '--schedule <schedule>',
        'learning-rate schedule: cosine (warm-up, cosine decay to --min-lr) or inverse-sqrt (the paper: warm-up, then lr * sqrt(warmup / step)) (default cosine)',
      ).choices(['cosine', 'inverse-sqrt']),
    )
    .option('--n-experts <n>', 'mixtral: experts per MoE layer (default 8)', integer({ min: 1 }))
    .option(
      '--experts-per-token <n>',
      'mixtral: experts each token runs through (default 2)',
      integer({ min: 1 }),
    )
    .option(
      '--aux-loss-coef <x>',
      'mixtral: load-balancing loss coefficient (default 0.01)',
      real({ min: 0 }),
    )
    .option('--router-z-loss <x>', 'mixtral: router z-loss coefficient (default 0)', real({ min: 0 }))
    .option(
      '--capacity-factor <x>',
      'mixtral: expert capacity in training, x tokens * k / experts (default: dropless)',
      real({ above: 0 }),
    )
    .option('--eval-every <n>', 'evaluate and checkpoint every N steps (default 250)', integer({ min: 1 }))
    .option('--eval-iters <n>', 'batches per evaluation (default 20)', integer({ min: 1 }))
    .option('--early-stop <n>', 'stop after N evaluations without a better val loss', integer({ min: 1 }))
    .addOption(
      new Option(
        '--on-nonfinite <policy>',
        'a NaN or infinite training loss or gradient norm: stop the run naming the step, or skip the step (no update, logged) and go on (default stop); either way no non-finite weights are ever saved',
      ).choices(['stop', 'skip']),
    )
    .option(
      '--max-skips <n>',
      'with --on-nonfinite skip: stop once more than N steps in a row are non-finite (default 10)',
      integer({ min: 1 }),
    );
  if (variant === 'train') {
    command.option(
      '--whole-word-masking',
      'masked-LM (--arch bert): mask whole words, not single word pieces',
    );
  }
  command
    .option('--seed <n>', 'random seed (default 1337)', integer({ min: 0, max: 2 ** 32 }))
    .option(
      '--out <dir>',
      'run folder (an HF model folder + optimizer and trainer state)',
      variant === 'train' ? 'runs/train' : 'runs/distill',
    )
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'replace a previous run in --out (once the new run has saved its first checkpoint)')
    .option('--cache-dir <dir>', 'token cache folder (default ~/.cache/lmforge)')
    .option('--no-progress', 'no progress bar / evaluation lines')
    .option('--json', 'print a JSON summary as the last stdout line');
  return addComputeOptions(command);
}

/** The TrainRequest of parsed train flags (`self`: the command, for where --tokenizer came from). */
export function trainRequestOf(flags: TrainFlags, self: Command): TrainRequest {
  if (flags.maxSkips !== undefined && flags.onNonfinite !== 'skip') {
    throw new ConfigError('--max-skips applies to --on-nonfinite skip', {
      where: '--max-skips',
      hint: 'pass --on-nonfinite skip too (also when resuming)',
    });
  }
  return {
    source: dataSource(flags),
    // Given or not matters on resume (a different one is refused), so the default is not passed.
    tokenizer: self.getOptionValueSource('tokenizer') === 'default' ? undefined : flags.tokenizer,
    model: {
      arch: flags.arch,
      nLayer: flags.nLayer,
      nHead: flags.nHead,
      nEmbd: flags.nEmbd,
      dropout: flags.dropout,
      nExperts: flags.nExperts,
      expertsPerToken: flags.expertsPerToken,
      auxLossCoef: flags.auxLossCoef,
      routerZLoss: flags.routerZLoss,
      capacityFactor: flags.capacityFactor,
    },
    options: {
      iters: flags.iters,
      batchSize: flags.batchSize,
      blockSize: flags.blockSize,
      gradAccum: flags.gradAccum,
      lr: flags.lr,
      minLr: flags.minLr,
      warmup: flags.warmup,
      beta2: flags.beta2,
      weightDecay: flags.weightDecay,
      gradClip: flags.gradClip === undefined ? undefined : flags.gradClip === 0 ? null : flags.gradClip,
      evalEvery: flags.evalEvery,
      evalIters: flags.evalIters,
      earlyStopPatience: flags.earlyStop,
      onNonfinite: flags.onNonfinite,
      maxSkips: flags.maxSkips,
      wholeWordMasking: flags.wholeWordMasking,
      seed: flags.seed,
      schedule: flags.schedule,
      // The paper's 0.1 for sequence-to-sequence runs unless given.
      labelSmoothing:
        flags.labelSmoothing ?? (flags.arch === 'marian' && flags.resume !== true ? 0.1 : undefined),
    },
    out: flags.out,
    resume: flags.resume === true,
    force: flags.force === true,
    cacheDir: flags.cacheDir ?? defaultCacheDir(),
    showProgress: flags.progress,
  };
}

/** After runTraining: the exit status after a signal, and the summary line (or --json object). */
export function reportTraining(
  flags: Pick<TrainFlags, 'json' | 'out'>,
  outcome: Pick<TrainOutcome, 'summary' | 'signal'>,
  backend: { name: string; threads: number },
): void {
  const { summary, signal } = outcome;
  if (signal !== null) process.exitCode = signalExitCode[signal];
  // A replacing run stopped before its first checkpoint saved nothing: no summary to print.
  if (summary.checkpointStep !== summary.step) return;
  if (flags.json === true) {
    process.stdout.write(summaryJson(summary, flags.out, backend) + '\n');
  } else {
    const fmt = (x: number | null, digits = 4): string => (x === null ? '-' : x.toFixed(digits));
    const metrics = Object.entries(summary.metrics).map(
      ([name, value]) => `, ${name.replace(/_/g, ' ')} ${fmt(value, 2)}`,
    );
    process.stdout.write(
      `step ${summary.step}: train loss ${fmt(summary.trainLoss)}, val loss ${fmt(summary.valLoss)}${metrics.join('')}, ` +
        `${fmt(summary.msPerIterMedian, 1)} ms/iter, ${fmt(summary.tokensPerS, 0)} tokens/s, ` +
        `${summary.params.toLocaleString('en')} parameters -> ${flags.out}\n`,
    );
  }
}

export function trainCommand(): Command {
  return addTrainFlags(new Command('train'), 'train').action(async (flags: TrainFlags, self: Command) => {
    const backend = applyComputeOptions(flags);
    reportTraining(flags, await runTraining(trainRequestOf(flags, self)), backend);
  });
}
