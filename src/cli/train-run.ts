/**
 * The training driver shared by `lmforge train` and `lmforge demo`: reads and tokenizes the
 * data (through the token cache), builds or resumes the model, runs the Trainer with a
 * progress display, and turns Ctrl-C into "checkpoint, then exit".
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { createModel, resolveDecoderConfig, type DecoderArch, type DecoderLM } from '../models/index.js';
import { UnknownCharacters, type Tokenizer } from '../tokenizers/index.js';
import {
  Trainer,
  describeSource,
  loadCheckpoint,
  parseTokenizerChoice,
  readSourceText,
  recoverRunFolder,
  resolveTokenizer,
  resolveTrainOptions,
  splitTokens,
  textHash,
  tokenizeWithCache,
  trainerStateFile,
  type DataSource,
  type LoadedCheckpoint,
  type TrainOptions,
  type TrainSummary,
} from '../train/index.js';
import { ConfigError, FormatError } from '../util/errors.js';
import { createTrainProgress } from './progress.js';
import { warnUnknownCharacters } from './unknown-characters.js';
import { pathExists } from '../util/path-exists.js';

/** Model shape flags (absent: the defaults below). */
export interface ModelFlags {
  readonly arch?: DecoderArch | undefined;
  readonly nLayer?: number | undefined;
  readonly nHead?: number | undefined;
  readonly nEmbd?: number | undefined;
  readonly dropout?: number | undefined;
}

export interface TrainRequest {
  /** null: resume from the checkpoint's own data source. */
  readonly source: DataSource | null;
  readonly tokenizer: string;
  readonly model: ModelFlags;
  /** Training options as given (undefined fields take defaults, or the checkpoint's on resume). */
  readonly options: { readonly [K in keyof TrainOptions]?: TrainOptions[K] | undefined };
  readonly out: string;
  readonly resume: boolean;
  readonly force: boolean;
  readonly cacheDir: string;
  readonly showProgress: boolean;
}

export interface TrainOutcome {
  readonly summary: TrainSummary;
  readonly model: DecoderLM;
  readonly tokenizer: Tokenizer;
  readonly options: TrainOptions;
}

/** The default token-cache folder: $XDG_CACHE_HOME/lmforge or ~/.cache/lmforge. */
export function defaultCacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'];
  return join(base !== undefined && base !== '' ? base : join(homedir(), '.cache'), 'lmforge');
}

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** Options that may change when resuming; every other flag must come from the checkpoint. */
const resumable = new Set<keyof TrainOptions>(['iters', 'evalEvery', 'evalIters', 'earlyStopPatience']);

async function loadData(
  source: DataSource,
  tokenizerFor: (text: string) => Promise<Tokenizer>,
  cacheDir: string,
) {
  const started = performance.now();
  const text = await readSourceText(source);
  const tokenizer = await tokenizerFor(text);
  const unknown = new UnknownCharacters();
  const tokenized = await tokenizeWithCache(text, tokenizer, cacheDir, unknown);
  warnUnknownCharacters(unknown, 'the training data');
  const { train, val } = splitTokens(tokenized.ids);
  log(
    `data: ${describeSource(source)}: ${text.length.toLocaleString('en')} characters -> ` +
      `${tokenized.ids.length.toLocaleString('en')} tokens (vocabulary ${tokenizer.vocabSize}; ` +
      `${tokenized.cacheHit ? 'from cache' : 'cached'} ${tokenized.cachePath ?? ''}; ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return { text, tokenizer, train, val };
}

function checkResumeFlags(request: TrainRequest): void {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(request.options)) {
    if (value !== undefined && !resumable.has(key as keyof TrainOptions)) problems.push(key);
  }
  for (const [key, value] of Object.entries(request.model)) if (value !== undefined) problems.push(key);
  if (problems.length > 0) {
    throw new ConfigError('these settings come from the checkpoint when resuming', {
      where: '--resume',
      actual: problems.join(', '),
      hint: 'only --iters, --eval-every, --eval-iters and --early-stop may change on resume',
    });
  }
}

/** Trains (or resumes) as asked; prints progress on stderr; returns the summary. */
export async function runTraining(request: TrainRequest): Promise<TrainOutcome> {
  const out = request.out;
  let resume: LoadedCheckpoint | undefined;
  let model: DecoderLM;
  let options: TrainOptions;
  let data: Awaited<ReturnType<typeof loadData>>;
  let source: DataSource;
  if (request.resume) {
    checkResumeFlags(request);
    resume = await loadCheckpoint(out);
    const state = resume.state;
    source = request.source ?? state.data.source;
    const overrides = Object.fromEntries(Object.entries(request.options).filter(([, v]) => v !== undefined));
    options = resolveTrainOptions({ ...state.options, ...overrides }, '--resume');
    const tokenizer = resume.tokenizer;
    data = await loadData(source, async () => tokenizer, request.cacheDir);
    if (textHash(data.text) !== state.data.textHash || data.train.length !== state.data.trainTokens) {
      throw new FormatError('the training data changed since the checkpoint', {
        where: describeSource(source),
        expected: `text hash ${state.data.textHash.slice(0, 12)}…, ${state.data.trainTokens} training tokens`,
        actual: `text hash ${textHash(data.text).slice(0, 12)}…, ${data.train.length} training tokens`,
      });
    }
    model = resume.model;
    log(`resuming ${out} at step ${state.step} of ${options.iters}`);
  } else {
    await recoverRunFolder(out);
    if (await pathExists(join(out, trainerStateFile))) {
      if (!request.force) {
        throw new ConfigError('the output folder already holds a training run', {
          where: out,
          hint: 'pass --resume to continue it, --force to start over, or another --out',
        });
      }
      await rm(out, { recursive: true, force: true });
    }
    source = request.source ?? { kind: 'builtin' };
    const arch = request.model.arch ?? 'gpt2';
    const rawModel = (vocabSize: number, blockSize: number) => ({
      arch,
      vocabSize,
      nLayer: request.model.nLayer ?? 4,
      nHead: request.model.nHead ?? 4,
      nEmbd: request.model.nEmbd ?? 128,
      blockSize,
      dropout: request.model.dropout ?? 0,
      // nanoGPT's recommendation for small models: no biases (faster, as good).
      bias: false,
      // nanoGPT's MLP uses exact GELU (nn.GELU()), not GPT-2's tanh approximation.
      ...(arch === 'gpt2' ? { activation: 'gelu' as const } : {}),
    });
    // Every bad flag in one message, before the (possibly long) tokenization: the model
    // shape is checked now with a stand-in vocabulary size, and again once it is known.
    const problems: string[] = [];
    const collect = <T>(check: () => T): T | null => {
      try {
        return check();
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        problems.push(typeof error.actual === 'string' ? error.actual : error.message);
        return null;
      }
    };
    const resolved = collect(() => resolveTrainOptions(request.options, 'lmforge train'));
    collect(() => resolveDecoderConfig(rawModel(1, resolved?.blockSize ?? 1), 'model flags'));
    if (resolved === null || problems.length > 0) {
      throw new ConfigError(`invalid flags: ${problems.join('; ')}`, { where: 'lmforge train' });
    }
    options = resolved;
    const choice = parseTokenizerChoice(request.tokenizer);
    data = await loadData(source, (text) => resolveTokenizer(choice, text), request.cacheDir);
    const config = resolveDecoderConfig(rawModel(data.tokenizer.vocabSize, options.blockSize), 'model flags');
    model = createModel(config, { seed: options.seed });
  }
  const c = model.config;
  const progress = request.showProgress ? createTrainProgress(options.iters, resume?.state.step ?? 0) : null;
  const trainer = new Trainer({
    model,
    tokenizer: data.tokenizer,
    train: data.train,
    val: data.val,
    options,
    runDir: out,
    data: {
      source,
      description: describeSource(source),
      textHash: textHash(data.text),
      trainTokens: data.train.length,
      valTokens: data.val.length,
    },
    ...(resume === undefined ? {} : { resume }),
    onEvent: (event) => progress?.onEvent(event),
  });
  log(
    `model: ${c.arch}, ${c.nLayer} layers, ${c.nHead} heads, ${c.nEmbd} wide, context ${c.blockSize}, ` +
      `vocabulary ${c.vocabSize}: ${trainer.params.toLocaleString('en')} parameters`,
  );
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      log('\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit without saving)');
      trainer.requestStop();
    } else {
      // The previous checkpoint stays intact: saves are atomic.
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  let summary: TrainSummary;
  try {
    summary = await trainer.run();
  } finally {
    process.off('SIGINT', onSigint);
    progress?.stop();
    trainer.dispose();
  }
  if (summary.stopReason === 'stop-requested') {
    log(`stopped at step ${summary.step}; checkpoint in ${out} (continue with --resume --out ${out})`);
  }
  return { summary, model, tokenizer: data.tokenizer, options };
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
    ms_per_iter_median: summary.msPerIterMedian,
    tokens_per_s: summary.tokensPerS,
    params: summary.params,
    step: summary.step,
    stop_reason: summary.stopReason,
    best_val_loss: summary.bestValLoss,
    out,
    backend: backend.name,
    threads: backend.threads,
  });
}
