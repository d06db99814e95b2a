/**
 * What every `lmforge finetune --task T` shares: the common flags, the output-folder rules
 * of `train` (--out new, empty or a run; --force replaces a run at its first checkpoint;
 * --resume continues it), the Trainer with its progress display, checkpoints and Ctrl-C /
 * SIGTERM handling, and the summary (text, or one JSON line with --json). A task (a line of
 * the table in commands/finetune.ts) prepares the model, data and objective and says how a
 * checkpoint's model part is written; nothing here knows what the task trains.
 */
import type { Option } from 'commander';
import type { LanguageModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  Trainer,
  inspectRunFolder,
  trainerStateFile,
  type DataState,
  type LoadedCheckpoint,
  type Objective,
  type TrainOptions,
  type TrainSummary,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import { createTrainProgress } from './progress.js';
import { watchStopSignals, type StopSignal } from './train-run.js';

/** The flags of every task. */
export interface FinetuneFlags {
  readonly data?: string;
  readonly val?: string;
  readonly out: string;
  readonly epochs?: number;
  readonly lr?: number;
  readonly batchSize?: number;
  readonly seed: number;
  readonly evalEvery?: number;
  readonly json?: boolean;
  readonly resume?: boolean;
  readonly force?: boolean;
  readonly progress: boolean;
}

/** What a task hands the shared runner. */
export interface PreparedFinetune {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly objective: Objective;
  readonly options: TrainOptions;
  readonly data: DataState;
  /** Writes a checkpoint's model part (a model folder, or an adapter folder) into a folder. */
  readonly saveModel: (dir: string) => Promise<void>;
  readonly resume?: LoadedCheckpoint;
  readonly replacesRun: boolean;
  readonly parameters: { readonly total: number; readonly trainable: number };
  /** One line on stderr before training (what is trained, on what). */
  readonly description: string;
  /** Summary fields known before training (held-out accuracy of the base). */
  readonly before: Readonly<Record<string, unknown>>;
  /** Summary fields measured after training (held-out accuracy), with lines for stderr. */
  readonly after: (model: LanguageModel) => Promise<{ fields: Record<string, unknown>; lines: string[] }>;
  /** Releases the model (and the base under an adapter). */
  dispose(): void;
}

export interface FinetuneTask {
  readonly description: string;
  /** The task's own flags (registered on the command; given with another --task, an error). */
  readonly options: () => Option[];
  prepare(
    dir: string,
    flags: FinetuneFlags,
    own: Readonly<Record<string, unknown>>,
  ): Promise<PreparedFinetune>;
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** Whether --out may be written: a new or empty folder, a run with --force, or (--resume) a run. */
export async function checkOutFolder(flags: FinetuneFlags): Promise<{ replacesRun: boolean }> {
  if (flags.resume === true && flags.force === true) {
    throw new ConfigError('--resume continues the run in --out and --force replaces it: pass one', {
      where: '--resume',
    });
  }
  const kind = await inspectRunFolder(flags.out);
  if (flags.resume === true) {
    if (kind !== 'run')
      throw new ConfigError('no fine-tuning run to resume in this folder', { where: flags.out });
    return { replacesRun: false };
  }
  if (kind === 'run' && flags.force !== true) {
    throw new ConfigError('the output folder already holds a run', {
      where: flags.out,
      hint: 'pass --resume to continue it, --force to start over, or another --out',
    });
  }
  if (kind === 'other') {
    throw new ConfigError('the output folder is not empty and holds no run', {
      where: flags.out,
      expected: `an empty folder or a run folder (with ${trainerStateFile})`,
      hint: 'pass another --out',
    });
  }
  return { replacesRun: kind === 'run' };
}

export interface FinetuneOutcome {
  readonly summary: TrainSummary;
  readonly signal: StopSignal | null;
  readonly fields: Record<string, unknown>;
}

/** Trains a prepared task with progress, checkpoints and signals; then measures `after`. */
export async function runFinetune(
  prepared: PreparedFinetune,
  flags: FinetuneFlags,
): Promise<FinetuneOutcome> {
  const { options } = prepared;
  const progress = flags.progress
    ? createTrainProgress(options.iters, prepared.resume?.state.step ?? 0)
    : null;
  const trainer = new Trainer({
    model: prepared.model,
    tokenizer: prepared.tokenizer,
    objective: prepared.objective,
    options,
    runDir: flags.out,
    data: prepared.data,
    saveModel: prepared.saveModel,
    replacesRun: prepared.replacesRun,
    ...(prepared.resume === undefined ? {} : { resume: prepared.resume }),
    onEvent: (event) => progress?.onEvent(event),
  });
  log(prepared.description);
  const signals = watchStopSignals(trainer, (code) => process.exit(code));
  let summary: TrainSummary;
  try {
    summary = await trainer.run();
  } finally {
    signals.dispose();
    progress?.stop();
    trainer.dispose();
  }
  const after =
    summary.stopReason === 'stop-requested'
      ? { fields: {}, lines: [] }
      : await prepared.after(prepared.model);
  for (const line of after.lines) log(line);
  return { summary, signal: signals.received(), fields: { ...prepared.before, ...after.fields } };
}

/** The JSON object `finetune --json` prints last. */
export function finetuneJson(outcome: FinetuneOutcome, prepared: PreparedFinetune, out: string): string {
  const { summary } = outcome;
  return JSON.stringify({
    train_loss: summary.trainLoss,
    val_loss: summary.valLoss,
    trainable_params: prepared.parameters.trainable,
    params: prepared.parameters.total,
    ms_per_iter_median: summary.msPerIterMedian,
    tokens_per_s: summary.tokensPerS,
    step: summary.step,
    stop_reason: summary.stopReason,
    // Two AdamW moments per trained scalar, float32.
    optimizer_state_bytes: prepared.parameters.trainable * 2 * 4,
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...outcome.fields,
    out,
  });
}
