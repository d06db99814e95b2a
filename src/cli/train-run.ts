/**
 * The training driver shared by `lmforge train` and `lmforge demo`: reads and tokenizes the
 * data (through the token cache), builds or resumes the model, runs the Trainer with a
 * progress display, and turns Ctrl-C and SIGTERM into "checkpoint, then exit".
 *
 * Nothing in --out is touched until every flag, the data files and the tokenizer have been
 * checked and the model built. --out must be missing, empty or a training run: any other
 * folder (an exported HF model, unrelated files) is refused, with or without --force. A run
 * given --force is replaced only by the new run's first checkpoint (Trainer.replacesRun), so
 * a failure, divergence or interrupt before then leaves it bit-identical.
 *
 * Resuming accepts every flag equal to the checkpoint's (the same command line with --resume
 * added); only --iters, --eval-every, --eval-iters, --early-stop, --on-nonfinite and --max-skips
 * may change. Data paths are
 * stored absolute; runs written before that hold paths relative to the directory they ran in,
 * and those are still read relative to the current directory.
 */
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createModel, familyOf, type LanguageModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  Trainer,
  describeSource,
  inspectRunFolder,
  loadCheckpoint,
  parseTokenizerChoice,
  readPairSource,
  resolveTokenizer,
  resolveTrainOptions,
  seq2seqTokenizer,
  textHash,
  trainerStateFile,
  withEosPostProcessor,
  type DataSource,
  type PairSource,
  type LoadedCheckpoint,
  type TokenizerChoice,
  type Objective,
  type TrainOptions,
  type TrainSummary,
} from '../train/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { pathExists } from '../util/path-exists.js';
import { createTrainProgress } from './progress.js';
import {
  archName,
  moeFlags,
  trainArchs,
  type ModelFlags,
  type TrainArch,
  type TrainData,
} from './train-archs.js';
import { checkSourceFits, loadTrainData, type LoadedData, type TokenizerSource } from './train-data.js';

export type { ModelFlags } from './train-archs.js';

/** The table entry of an architecture name (the flag's choices come from the same table). */
function trainArch(arch: string): TrainArch {
  const entry = Object.hasOwn(trainArchs, arch) ? trainArchs[arch] : undefined;
  if (entry === undefined) {
    throw new ConfigError('unknown architecture', {
      where: '--arch',
      expected: Object.keys(trainArchs).join(' | '),
      actual: arch,
    });
  }
  return entry;
}

export interface TrainRequest {
  /** null: the built-in corpus, or on resume the checkpoint's own data source. */
  readonly source: DataSource | null;
  /** The --tokenizer value; undefined when not given (char for a new run, the checkpoint's on resume). */
  readonly tokenizer: string | undefined;
  readonly model: ModelFlags;
  /** Training options as given (undefined fields take defaults, or the checkpoint's on resume). */
  readonly options: { readonly [K in keyof TrainOptions]?: TrainOptions[K] | undefined };
  readonly out: string;
  readonly resume: boolean;
  readonly force: boolean;
  readonly cacheDir: string;
  readonly showProgress: boolean;
  /** A command built on train (distill): its objective, vocabulary and recorded recipe. */
  readonly variant?: TrainVariant;
}

/**
 * What a command built on train changes: the objective (instead of the architecture's), the
 * model's vocabulary size (instead of the tokenizer's), and a recipe recorded in
 * trainer_state.json that a resume must match (the flags of the variant).
 */
export interface TrainVariant {
  readonly objective: (data: TrainData, options: TrainOptions) => Objective;
  readonly vocabSize: number;
  /** Recorded in trainer_state.json; its `command` names the command that resumes the run. */
  readonly recipe: Readonly<Record<string, unknown>> & { readonly command: string };
}

/** The signal that stopped the run, if any. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface TrainOutcome {
  readonly summary: TrainSummary;
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly options: TrainOptions;
  readonly signal: StopSignal | null;
}

/** The exit status after a signal stopped the run: 128 + the signal number, as a shell reports it. */
export const signalExitCode: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

/** The default token-cache folder: $XDG_CACHE_HOME/lmforge or ~/.cache/lmforge. */
export function defaultCacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'];
  return join(base !== undefined && base !== '' ? base : join(homedir(), '.cache'), 'lmforge');
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** Options that may change when resuming; every other flag must equal the checkpoint's. */
const resumable = new Set<string>([
  'iters',
  'evalEvery',
  'evalIters',
  'earlyStopPatience',
  'onNonfinite',
  'maxSkips',
]);

/** The command-line flag of an option or model field (`batchSize` -> `--batch-size`). */
const flagOf = (key: string): string =>
  key === 'earlyStopPatience' ? '--early-stop' : `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A value as the flag would be written (no clipping is --grad-clip 0; an unset setting is 'none'). */
const flagValue = (key: string, value: unknown): string =>
  value === null && key === 'gradClip' ? '0' : value === null || value === undefined ? 'none' : String(value);

/** The expert flags, by the MoeConfig field each sets (errors name the flag). */
/** Data files as absolute paths, so that a resume from another directory finds them. */
function absoluteSource(source: DataSource): DataSource {
  switch (source.kind) {
    case 'files':
      return { kind: 'files', paths: source.paths.map((p) => resolve(p)) };
    case 'pairs':
      return {
        ...source,
        train: resolve(source.train),
        val: source.val === null ? null : resolve(source.val),
      };
    case 'builtin':
    case 'wordnet-pairs':
    case 'synthetic-pairs':
      return source;
  }
}

/** The --tokenizer value as recorded in the run: a tokenizer file or folder given by its absolute path. */
async function tokenizerSpec(value: string, choice: TokenizerChoice): Promise<string> {
  return choice.kind === 'load' && (await pathExists(value)) ? resolve(value) : value;
}

/** Every given flag whose value differs from the checkpoint's, except the resumable ones. */
function checkResumeFlags(request: TrainRequest, checkpoint: LoadedCheckpoint): void {
  const saved: Record<string, unknown> = { ...checkpoint.state.options };
  const config = checkpoint.config;
  const shape = familyOf(config.arch).describe(config);
  const savedModel: Record<string, unknown> = {
    arch: archName(config.arch),
    nLayer: shape.layers,
    nHead: shape.heads,
    nEmbd: shape.width,
    dropout: 'dropout' in config ? config.dropout : undefined,
    ...Object.fromEntries(
      Object.entries(moeFlags).map(([flag, field]) => [
        flag,
        'moe' in config ? config.moe?.[field] : undefined,
      ]),
    ),
  };
  const changes: string[] = [];
  const compare = (given: object, checkpointValues: Record<string, unknown>): void => {
    for (const [key, value] of Object.entries(given)) {
      if (value === undefined || resumable.has(key) || Object.is(value, checkpointValues[key])) continue;
      changes.push(
        `${flagOf(key)} ${flagValue(key, checkpointValues[key])} in the checkpoint, got ${flagValue(key, value)}`,
      );
    }
  };
  compare(request.options, saved);
  compare(request.model, savedModel);
  if (changes.length > 0) {
    throw new ConfigError(`these flags differ from the checkpoint's: ${changes.join('; ')}`, {
      where: '--resume',
      hint: 'only --iters, --eval-every, --eval-iters, --early-stop, --on-nonfinite and --max-skips may change on resume; start a new run (--force) to change the others',
    });
  }
}

/** A run of a variant (distill) resumes only with that command and the same recipe; a train run only with train. */
function checkResumeRecipe(request: TrainRequest, checkpoint: LoadedCheckpoint): void {
  const recorded = checkpoint.state.data.recipe ?? null;
  const given = request.variant?.recipe ?? null;
  const command = (recipe: Readonly<Record<string, unknown>> | null): string =>
    recipe === null ? 'train' : String(recipe['command']);
  if (command(recorded) !== command(given)) {
    throw new ConfigError(`this run was made by lmforge ${command(recorded)}`, {
      where: '--resume',
      hint: `resume it with lmforge ${command(recorded)} --resume`,
    });
  }
  if (recorded === null || given === null) return;
  const changes = Object.keys({ ...recorded, ...given })
    .filter((key) => JSON.stringify(recorded[key]) !== JSON.stringify(given[key]))
    .map(
      (key) => `${key} ${JSON.stringify(recorded[key])} in the checkpoint, got ${JSON.stringify(given[key])}`,
    );
  if (changes.length > 0) {
    throw new ConfigError(`these settings differ from the checkpoint's: ${changes.join('; ')}`, {
      where: '--resume',
      hint: 'resume with the original settings, or start a new run (--force)',
    });
  }
}

/** Rejects a --tokenizer that is not the checkpoint's (same recorded value, or the same tokenizer). */
async function checkResumeTokenizer(
  value: string,
  checkpoint: LoadedCheckpoint,
  given: (choice: TokenizerChoice) => Promise<Tokenizer>,
): Promise<void> {
  const choice = parseTokenizerChoice(value);
  const recorded = checkpoint.state.data.tokenizer;
  if (recorded !== undefined && recorded === (await tokenizerSpec(value, choice))) return;
  // Another spelling of the same tokenizer (a copy of the file; a run that recorded none) is the same.
  if (recorded === undefined || choice.kind === 'load') {
    const tokenizer = await given(choice);
    if (JSON.stringify(tokenizer.toJSON()) === JSON.stringify(checkpoint.tokenizer.toJSON())) return;
  }
  throw new ConfigError("differs from the checkpoint's tokenizer", {
    where: '--tokenizer',
    expected: recorded ?? 'the tokenizer.json of the run',
    actual: value,
    hint: 'drop --tokenizer when resuming, or start a new run (--force)',
  });
}

/** The checkpoint's data source; a relative path is from a run written before paths were stored absolute. */
async function storedSource(checkpoint: LoadedCheckpoint, out: string): Promise<DataSource> {
  const source = checkpoint.state.data.source;
  if (source.kind !== 'files') return source;
  for (const path of source.paths) {
    if (!isAbsolute(path) && !(await pathExists(path))) {
      throw new FormatError('the data file of this run is not found from the current directory', {
        where: path,
        hint: `${out} was written by an older lmforge, which stored data paths relative to the directory it ran in: run from there, or pass --data`,
      });
    }
  }
  return source;
}

interface Prepared {
  readonly model: LanguageModel;
  readonly options: TrainOptions;
  readonly data: LoadedData;
  readonly source: DataSource;
  readonly tokenizer: string | undefined;
  readonly resume?: LoadedCheckpoint;
  readonly replacesRun: boolean;
}

async function prepareResume(request: TrainRequest): Promise<Prepared> {
  const out = request.out;
  if (request.force) {
    throw new ConfigError('--resume continues the run in --out and --force replaces it: pass one', {
      where: '--resume',
    });
  }
  if ((await inspectRunFolder(out)) !== 'run') {
    throw new ConfigError('no training run to resume in this folder', {
      where: out,
      hint: 'start one without --resume',
    });
  }
  const resume = await loadCheckpoint(out);
  try {
    checkResumeRecipe(request, resume);
    checkResumeFlags(request, resume);
    const state = resume.state;
    const source = request.source === null ? await storedSource(resume, out) : absoluteSource(request.source);
    const overrides = Object.fromEntries(Object.entries(request.options).filter(([, v]) => v !== undefined));
    const options = resolveTrainOptions({ ...state.options, ...overrides }, '--resume');
    if (options.iters < state.step) {
      throw new ConfigError('the run is already past --iters', {
        where: '--iters',
        expected: `at least the checkpoint's step ${state.step}`,
        actual: options.iters,
      });
    }
    const arch = trainArch(archName(resume.config.arch));
    checkSourceFits(arch, resume.config.arch, source);
    const tokenizers: TokenizerSource = {
      forText: async () => resume.tokenizer,
      forPairs: async () => withEosPostProcessor(resume.tokenizer, join(out, 'tokenizer.json')),
    };
    const data = await loadTrainData(source, tokenizers, request.cacheDir, options.blockSize);
    if (textHash(data.text) !== state.data.textHash || data.trainTokens !== state.data.trainTokens) {
      throw new FormatError('the training data changed since the checkpoint', {
        where: describeSource(source),
        expected: `text hash ${state.data.textHash.slice(0, 12)}…, ${state.data.trainTokens} training tokens`,
        actual: `text hash ${textHash(data.text).slice(0, 12)}…, ${data.trainTokens} training tokens`,
      });
    }
    if (request.tokenizer !== undefined) {
      const given = async (choice: TokenizerChoice): Promise<Tokenizer> =>
        arch.data === 'pairs'
          ? (await seq2seqTokenizer(choice, (await readPairSource(source as PairSource)).train)).tokenizer
          : resolveTokenizer(choice, data.text);
      await checkResumeTokenizer(request.tokenizer, resume, given);
    }
    log(`resuming ${out} at step ${state.step} of ${options.iters}`);
    return {
      model: resume.model,
      options,
      data,
      source,
      tokenizer: state.data.tokenizer,
      resume,
      replacesRun: false,
    };
  } catch (error) {
    resume.model.dispose();
    throw error;
  }
}

async function prepareNewRun(request: TrainRequest): Promise<Prepared> {
  const out = request.out;
  const arch = trainArch(request.model.arch ?? 'gpt2');
  // Every bad flag in one message, before the (possibly long) tokenization: the model
  // shape is checked now with a stand-in vocabulary size, and again once it is known.
  const problems: string[] = [];
  const collect = <T>(check: () => T, whole = false): T | null => {
    try {
      return check();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      // The options' and config's errors list their problems in `actual`.
      problems.push(!whole && typeof error.actual === 'string' ? error.actual : error.message);
      return null;
    }
  };
  const archLabel = request.model.arch ?? 'gpt2';
  const tokenizer = request.tokenizer ?? (arch.data === 'pairs' ? 'bpe:4096' : 'char');
  const resolved = collect(() => resolveTrainOptions(request.options, 'train'));
  collect(() => arch.modelConfig(request.model, 1, resolved?.blockSize ?? 1));
  const source = absoluteSource(request.source ?? arch.defaultSource);
  collect(() => checkSourceFits(arch, archLabel, source), true);
  const choice = collect(() => parseTokenizerChoice(tokenizer), true);
  if (resolved === null || choice === null || problems.length > 0) {
    throw new ConfigError(`invalid flags: ${problems.join('; ')}`, { where: 'train' });
  }
  const kind = await inspectRunFolder(out);
  if (kind === 'run' && !request.force) {
    throw new ConfigError('the output folder already holds a training run', {
      where: out,
      hint: 'pass --resume to continue it, --force to start over, or another --out',
    });
  }
  if (kind === 'other') {
    const entries = (await readdir(out)).sort();
    throw new ConfigError('the output folder is not empty and holds no training run', {
      where: out,
      expected: `an empty folder or a run folder (with ${trainerStateFile})`,
      actual:
        entries.length > 4
          ? `${entries.slice(0, 4).join(', ')} and ${entries.length - 4} more`
          : entries.join(', '),
      hint: 'lmforge writes a run only into a new or empty folder, or over a run with --force: pass another --out',
    });
  }
  const tokenizers: TokenizerSource = {
    forText: (text) => resolveTokenizer(choice, text),
    forPairs: (train) => seq2seqTokenizer(choice, train),
  };
  const data = await loadTrainData(source, tokenizers, request.cacheDir, resolved.blockSize);
  const config = arch.modelConfig(
    request.model,
    request.variant?.vocabSize ?? data.data.tokenizer.vocabSize,
    resolved.blockSize,
    data.data,
  );
  return {
    model: createModel(config, { seed: resolved.seed }),
    options: resolved,
    data,
    source,
    tokenizer: await tokenizerSpec(tokenizer, choice),
    replacesRun: kind === 'run',
  };
}

/** Trains (or resumes) as asked; prints progress on stderr; returns the summary. */
export async function runTraining(request: TrainRequest): Promise<TrainOutcome> {
  const out = request.out;
  const { model, options, data, source, tokenizer, resume, replacesRun } = request.resume
    ? await prepareResume(request)
    : await prepareNewRun(request);
  const shape = familyOf(model.family).describe(model.config);
  const progress = request.showProgress ? createTrainProgress(options.iters, resume?.state.step ?? 0) : null;
  const arch = trainArch(archName(model.family));
  let trainer: Trainer<LanguageModel>;
  try {
    const generationConfig = arch.generationConfig?.(model);
    trainer = new Trainer({
      model,
      tokenizer: data.data.tokenizer,
      objective: (request.variant?.objective ?? arch.objective)(data.data, options),
      options,
      runDir: out,
      data: {
        source,
        description: describeSource(source),
        textHash: textHash(data.text),
        trainTokens: data.trainTokens,
        valTokens: data.valTokens,
        ...(tokenizer === undefined ? {} : { tokenizer }),
        ...(request.variant === undefined ? {} : { recipe: request.variant.recipe }),
      },
      ...(generationConfig === undefined ? {} : { generationConfig }),
      ...(resume === undefined ? {} : { resume }),
      replacesRun,
      onEvent: (event) => progress?.onEvent(event),
    });
  } catch (error) {
    progress?.stop();
    model.dispose();
    throw error;
  }
  const experts =
    shape.moe === undefined ? '' : `, ${shape.moe.experts} experts (${shape.moe.expertsPerToken} per token)`;
  const active =
    shape.moe === undefined ? '' : ` (${shape.moe.activeParameters.toLocaleString('en')} active per token)`;
  log(
    `model: ${model.family}, ${shape.layers} layers, ${shape.heads} heads, ${shape.width} wide${experts}, context ${shape.context}, ` +
      `vocabulary ${shape.vocabSize}: ${trainer.params.toLocaleString('en')} parameters${active}`,
  );
  const signals = watchStopSignals(trainer, (code) => process.exit(code));
  let summary: TrainSummary;
  try {
    summary = await trainer.run();
  } finally {
    signals.dispose();
    progress?.stop();
    trainer.dispose();
  }
  if (summary.stopReason === 'stop-requested') {
    log(
      summary.checkpointStep === summary.step
        ? `stopped at step ${summary.step}; checkpoint in ${out} (continue with --resume --out ${out})`
        : `stopped at step ${summary.step}, before the new run's first checkpoint: nothing saved, the previous run in ${out} is unchanged`,
    );
  }
  return { summary, model, tokenizer: data.data.tokenizer, options, signal: signals.received() };
}

/**
 * Ctrl-C and SIGTERM (what `kill`, systemd and container runtimes send) alike: the first asks
 * the trainer to checkpoint after the current step, a second calls `quit` with 128 + the
 * signal number at once, without saving (the last checkpoint stays intact: saves are atomic).
 */
export function watchStopSignals(
  trainer: { requestStop(): void },
  quit: (code: number) => void,
): { received(): StopSignal | null; dispose(): void } {
  let first: StopSignal | null = null;
  const onSignal = (signal: StopSignal): void => {
    if (first === null) {
      first = signal;
      log(`\n${signal}: saving a checkpoint after this step (again to quit without saving)`);
      trainer.requestStop();
    } else {
      quit(signalExitCode[signal]);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    received: () => first,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The JSON object `lmforge train --json` prints last. */
export function summaryJson(
  summary: TrainSummary,
  out: string,
  backend: { name: string; threads: number },
): string {
  return JSON.stringify({
    train_loss: summary.trainLoss,
    val_loss: summary.valLoss,
    ...summary.metrics,
    ms_per_iter_median: summary.msPerIterMedian,
    tokens_per_s: summary.tokensPerS,
    params: summary.params,
    step: summary.step,
    stop_reason: summary.stopReason,
    best_val_loss: summary.bestValLoss,
    skipped_steps: summary.skippedSteps,
    // The objective's metrics at the last evaluation (masked-LM: val_masked_accuracy).
    ...summary.metrics,
    out,
    backend: backend.name,
    threads: backend.threads,
    // Models with expert layers: the last evaluation window's router statistics.
    ...(summary.router === null
      ? {}
      : { aux_loss: summary.router.auxLoss, expert_load: summary.router.layers.map((layer) => layer.load) }),
  });
}
