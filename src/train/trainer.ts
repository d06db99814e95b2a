/**
 * The training loop (nanoGPT's train.py, without the distributed parts), for any objective
 * (objectives/objective.ts: next-token, masked-LM, sequence-to-sequence, classification):
 *
 *   every evalEvery steps: estimate train/val loss over evalIters batches (+ perplexity),
 *                          log it, stop early when asked to, checkpoint
 *   each step:  gradAccum micro-batches of forward + the objective's loss (+ the model's
 *               auxiliary loss) + backward (gradients accumulate), global-norm clipping
 *               folded into the AdamW gradient scale,
 *               one AdamW update at the scheduled learning rate, gradients zeroed
 *
 * The trainer never flips model.training: each forward says its mode (train steps 'train',
 * evaluations 'eval').
 *
 * Each micro-step runs inside scope(), so every activation is freed when it ends and memory
 * stays flat. The loop yields to the event loop between steps, so a stop request (Ctrl-C
 * in the CLI) is seen within one step; the trainer then checkpoints and returns.
 *
 * Early stopping (earlyStopPatience) ends the run after that many evaluations without a
 * better validation loss; the final checkpoint holds the last weights (not the best ones),
 * and the summary reports bestValLoss.
 *
 * Divergence: a non-finite loss or gradient norm (one finiteness check of each per step)
 * stops the step before the update. With options.onNonfinite 'stop' (the default) the run
 * then ends with a DivergenceError naming the step; with 'skip' the step is skipped (no
 * optimizer update, its gradients dropped, the batch consumed, a 'skip' line in the log)
 * and the run goes on, until more than options.maxSkips steps in a row are non-finite,
 * which ends it with that error. A non-finite evaluation loss or weight stops before the
 * checkpoint: the last (finite) checkpoint is never saved over.
 *
 * Replacing a run (replacesRun): runDir holds an older run, which stays untouched until this
 * run's first checkpoint replaces it whole (log.jsonl is kept in memory until then); a stop
 * request before that checkpoint ends the run without saving, leaving the old run as it was.
 *
 * Determinism: the batch sampler and dropout have their own seeded Rngs, saved in each
 * checkpoint with the optimiser moments, so a resumed run continues bit-exactly: its loss
 * curve and weights equal those of an uninterrupted run with the same seed. Evaluation
 * batches come from an Rng seeded by (seed, step), so evaluating never shifts training.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, add, backward, noGrad, scope, zeroGrad } from '../tensor/index.js';
import { generationConfigToHf, resolveGenerationConfig } from '../generate/index.js';
import type { AnyLanguageModel, LanguageModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError, DivergenceError, IoError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { AdamW } from './optim/adamw.js';
import { clipScale } from './optim/clip.js';
import { learningRate } from './schedule.js';
import { scheduleOf, type TrainOptions } from './options.js';
import type { BatchSource, Objective } from './objectives/objective.js';
import { CausalLmObjective } from './objectives/causal-lm.js';
import { RouterWindow, routerLogRecord, type RouterSummary } from './router-window.js';
import {
  logFile,
  saveCheckpoint,
  type LoadedCheckpoint,
  type SaveCheckpointOptions,
  type StopReason,
  type TrainerState,
} from './checkpoint.js';

export type { StopReason } from './checkpoint.js';

export type TrainEvent =
  | {
      readonly kind: 'step';
      readonly step: number;
      readonly iters: number;
      readonly loss: number;
      /** The model's auxiliary loss (mean over micro-batches); null when it has none. */
      readonly auxLoss: number | null;
      readonly lr: number;
      readonly gradNorm: number;
      readonly ms: number;
      readonly tokensPerS: number;
      readonly etaS: number;
    }
  | {
      readonly kind: 'eval';
      readonly step: number;
      readonly trainLoss: number;
      readonly valLoss: number;
      readonly trainPerplexity: number;
      readonly valPerplexity: number;
      /** The objective's metrics besides the loss (objective.metrics), by log name. */
      readonly metrics: Readonly<Record<string, number>>;
    }
  | {
      /** A step skipped for a non-finite loss or gradient (options.onNonfinite 'skip'). */
      readonly kind: 'skip';
      readonly step: number;
      /** What was not finite: 'the training loss is NaN', 'the gradient norm is Infinity' ... */
      readonly reason: string;
      /** Steps skipped in the run so far (resumed runs included). */
      readonly skippedSteps: number;
    }
  | { readonly kind: 'checkpoint'; readonly step: number; readonly dir: string }
  | { readonly kind: 'early-stop'; readonly step: number; readonly bestValLoss: number };

export interface TrainSummary {
  readonly step: number;
  readonly trainLoss: number | null;
  readonly valLoss: number | null;
  readonly msPerIterMedian: number | null;
  readonly tokensPerS: number | null;
  readonly params: number;
  readonly stopReason: StopReason;
  readonly bestValLoss: number | null;
  /** Training loss of every step taken in this run, in order (for tests and plots). */
  readonly losses: readonly number[];
  /** The step of the newest checkpoint in runDir (null: none, e.g. a replacing run stopped before its first). */
  readonly checkpointStep: number | null;
  /** The last evaluation's objective metrics (empty when the objective has none or no evaluation ran). */
  readonly metrics: Readonly<Record<string, number>>;
  /** The last step's auxiliary loss; null when the model has none. */
  readonly auxLoss: number | null;
  /** Models with expert layers: the router statistics of the last evaluation window; else null. */
  readonly router: RouterSummary | null;
  /** Steps skipped for a non-finite loss or gradient (options.onNonfinite 'skip'), resumed runs included. */
  readonly skippedSteps: number;
}

/** What one optimiser step did (Trainer.trainStep). */
export interface StepResult {
  /** Mean loss over the micro-batches (without the auxiliary loss). */
  readonly loss: number;
  readonly auxLoss: number | null;
  readonly gradNorm: number;
  readonly lr: number;
  readonly tokens: number;
  /** Why the step was skipped (a non-finite value, options.onNonfinite 'skip'); null: it updated the weights. */
  readonly skipped: string | null;
}

/**
 * What to train on: an objective, or the shorthand of next-token prediction on a token
 * stream's train/val splits (CausalLmObjective with the options' blockSize and batchSize).
 */
export type TrainerData =
  | { readonly objective: Objective }
  | { readonly train: Int32Array; readonly val: Int32Array; readonly objective?: undefined };

/** `Model`: any model of the contract (default: a built-in family's, so `trainer.model` keeps its class). */
export type TrainerInit<Model extends LanguageModel = AnyLanguageModel> = TrainerSettings<Model> &
  TrainerData;

export interface TrainerSettings<Model extends LanguageModel = AnyLanguageModel> {
  readonly model: Model;
  readonly tokenizer: Tokenizer;
  readonly options: TrainOptions;
  /** Run folder for checkpoints and log.jsonl; null trains in memory only. */
  readonly runDir: string | null;
  readonly data: TrainerState['data'];
  /** A loaded checkpoint to continue from (optimiser, RNG and data state). */
  readonly resume?: LoadedCheckpoint;
  readonly onEvent?: (event: TrainEvent) => void;
  /** runDir holds another run, replaced at this run's first checkpoint (see the file header). */
  readonly replacesRun?: boolean;
  /** The generation_config.json (HF names) written with each checkpoint; default: see Trainer.generationConfig. */
  readonly generationConfig?: Readonly<Record<string, unknown>>;
  /** Passed to every saveCheckpoint (tests inject write failures here). */
  readonly checkpointHooks?: Pick<SaveCheckpointOptions, 'onStage'>;
  /**
   * Writes the model part of each checkpoint into a folder instead of the default HF model
   * folder (weights, config.json, tokenizer.json, generation_config.json): a LoRA adapter
   * folder, or a model folder with its chat template (fine-tuning).
   */
  readonly saveModel?: (dir: string) => Promise<void>;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The Rng a Trainer draws its training batches from (see the constructor): what an
 * objective's epoch plan is computed from before the run, to turn epochs into steps.
 */
export function trainingBatchRng(seed: number): Rng {
  return new Rng(seed + 2 ** 32);
}

/**
 * Runs a file operation on the run folder; a failure (disk full, permissions) is an IoError
 * naming it and, when the run has one, the checkpoint on disk (`checkpointStep`).
 */
async function runFolderIo(
  dir: string,
  what: string,
  operation: () => Promise<unknown>,
  checkpointStep: number | null = null,
): Promise<void> {
  try {
    await operation();
  } catch (error) {
    const kept = checkpointStep === null ? '' : `; the checkpoint of step ${checkpointStep} is intact`;
    throw new IoError(`cannot ${what} (${(error as Error).message})${kept}`, {
      where: dir,
      cause: error,
      ...(checkpointStep === null
        ? {}
        : { hint: 'once the disk has room again, continue the run with --resume' }),
    });
  }
}

export class Trainer<Model extends LanguageModel = AnyLanguageModel> {
  readonly model: Model;
  readonly options: TrainOptions;
  readonly optimizer: AdamW;
  readonly params: number;
  readonly objective: Objective;
  readonly #init: TrainerInit<Model>;
  readonly #sampler: BatchSource<unknown>;
  readonly #dropoutRng: Rng;
  #step = 0;
  #tokensSeen = 0;
  #bestValLoss: number | null = null;
  #evalsWithoutImprovement = 0;
  #lastEvalStep: number | null = null;
  #lastEval: TrainerState['lastEval'] = null;
  #lastMetrics: Readonly<Record<string, number>> = {};
  #stopRequested = false;
  #skippedSteps = 0;
  #consecutiveSkips = 0;
  /** Router statistics since the last evaluation (models with expert layers). */
  readonly #router = new RouterWindow();
  #lastRouter: RouterSummary | null = null;
  /** Log lines not yet on disk: non-null only while replacing a run, before the first checkpoint. */
  #pendingLog: string[] | null;
  #checkpointStep: number | null;

  constructor(init: TrainerInit<Model>) {
    const { model, options } = init;
    const objective =
      init.objective ??
      new CausalLmObjective({
        train: init.train,
        val: init.val,
        blockSize: options.blockSize,
        batchSize: options.batchSize,
        labelSmoothing: options.labelSmoothing,
      });
    objective.check(model);
    if (init.tokenizer.vocabSize > model.vocabSize) {
      throw new ConfigError('the tokenizer has more ids than the model vocabulary', {
        where: 'Trainer',
        expected: `vocabSize >= ${init.tokenizer.vocabSize}`,
        actual: model.vocabSize,
      });
    }
    this.objective = objective;
    this.#init = init;
    this.#pendingLog = init.replacesRun === true && init.runDir !== null ? [] : null;
    this.#checkpointStep = init.resume?.state.step ?? null;
    this.model = model;
    this.options = options;
    this.optimizer = new AdamW(model.namedParameters(), {
      beta1: options.beta1,
      beta2: options.beta2,
      eps: options.eps,
      weightDecay: options.weightDecay,
    });
    this.params = this.optimizer.parameters.reduce((total, p) => total + p.size, 0);
    // Three independent streams from one seed (the Rng mixes every seed bit): the model's
    // initialisation draws from Rng(seed) (createModel), batches from seed + 2^32, dropout
    // from seed + 2^33. Batches on the init's stream would tie which text positions are
    // sampled to the initial embedding values, draw for draw; and how many batches are
    // drawn never shifts the dropout masks.
    this.#sampler = objective.batches('train', trainingBatchRng(options.seed));
    this.#dropoutRng = new Rng(options.seed + 2 ** 33);
    if (init.resume !== undefined) this.#restore(init.resume);
  }

  #restore(checkpoint: LoadedCheckpoint): void {
    const state = checkpoint.state;
    const kind = state.objective ?? 'causal-lm';
    if (kind !== this.objective.kind) {
      throw new ConfigError('the checkpoint was trained with another objective', {
        where: 'Trainer: resume',
        expected: kind,
        actual: this.objective.kind,
      });
    }
    this.optimizer.loadStateDict(checkpoint.optimizer);
    this.#sampler.setState(state.rng.sampler);
    this.#dropoutRng.setState(state.rng.dropout);
    this.#step = state.step;
    this.#tokensSeen = state.tokensSeen;
    this.#bestValLoss = state.bestValLoss;
    this.#evalsWithoutImprovement = state.evalsWithoutImprovement;
    this.#lastEvalStep = state.lastEvalStep;
    this.#lastEval = state.lastEval;
    this.#lastMetrics = state.lastEval?.metrics ?? {};
    this.#skippedSteps = state.skippedSteps ?? 0;
    this.#consecutiveSkips = state.consecutiveSkips ?? 0;
  }

  get step(): number {
    return this.#step;
  }

  /**
   * Asks the loop to checkpoint and return after the current step (Ctrl-C); a replacing run
   * before its first checkpoint returns without saving (see the file header).
   */
  requestStop(): void {
    this.#stopRequested = true;
  }

  /** Mean objective loss (without the auxiliary loss) over `evalIters` batches of a split, without gradients or dropout. */
  estimateLoss(split: 'train' | 'val'): number {
    const { evalIters, seed } = this.options;
    // Seeded by (seed, step, split): the same batches for the same step in any run.
    const rng = new Rng(seed * 2 ** 20 + this.#step * 2 + (split === 'train' ? 0 : 1));
    const batches = this.objective.batches(split, rng);
    let total = 0;
    for (let i = 0; i < evalIters; i++) {
      total += scope(() =>
        noGrad(() => this.objective.loss(this.model, batches.next(), { mode: 'eval' }).loss.item()),
      );
    }
    return total / evalIters;
  }

  /**
   * One optimiser step over gradAccum micro-batches; returns the mean loss and gradient norm.
   * A non-finite loss or gradient norm stops or skips the step (see the file header).
   */
  trainStep(): StepResult {
    const { gradAccum, gradClip } = this.options;
    const lr = learningRate(scheduleOf(this.options), this.#step);
    const parameters = this.optimizer.parameters;
    let lossSum = 0;
    let auxSum: number | null = null;
    let tokens = 0;
    for (let micro = 0; micro < gradAccum; micro++) {
      lossSum += scope(() => {
        const settings = { mode: 'train', rng: this.#dropoutRng } as const;
        const result = this.objective.loss(this.model, this.#sampler.next(), settings);
        tokens += result.tokens;
        this.#router.add(result);
        const aux = result.auxLoss;
        backward(aux === undefined ? result.loss : add(result.loss, aux)); // ()
        if (aux !== undefined) auxSum = (auxSum ?? 0) + aux.item();
        return result.loss.item();
      });
    }
    const loss = lossSum / gradAccum;
    const auxLoss = auxSum === null ? null : auxSum / gradAccum;
    // The gradients hold a sum over micro-batches; 1/gradAccum makes it their mean.
    const { norm, gradScale } = clipScale(parameters, gradClip, 1 / gradAccum);
    const nonfinite = !Number.isFinite(loss)
      ? `the training loss is ${loss}`
      : auxLoss !== null && !Number.isFinite(auxLoss)
        ? `the auxiliary loss is ${auxLoss}`
        : !Number.isFinite(norm)
          ? `the gradient norm is ${norm}`
          : null;
    if (nonfinite === null) {
      this.optimizer.update(lr, gradScale);
      this.#consecutiveSkips = 0;
    } else {
      this.#skipOrStop(nonfinite);
    }
    zeroGrad(parameters);
    this.#step++;
    this.#tokensSeen += tokens;
    return { loss, auxLoss, gradNorm: norm, lr, tokens, skipped: nonfinite };
  }

  /** A non-finite step: counted as skipped, or the DivergenceError (policy 'stop', or too many in a row). */
  #skipOrStop(what: string): void {
    const { onNonfinite, maxSkips } = this.options;
    if (onNonfinite === 'stop') throw this.#diverged(this.#step + 1, what);
    if (this.#consecutiveSkips >= maxSkips) {
      throw this.#diverged(
        this.#step + 1,
        `${what}, after ${this.#consecutiveSkips} skipped steps in a row (the most allowed: maxSkips ${maxSkips})`,
      );
    }
    this.#consecutiveSkips++;
    this.#skippedSteps++;
  }

  /** The DivergenceError for `step`, saying what is on disk. */
  #diverged(step: number, what: string): DivergenceError {
    const dir = this.#init.runDir;
    const kept =
      dir === null
        ? ''
        : this.#checkpointStep !== null
          ? `; nothing was saved over the checkpoint of step ${this.#checkpointStep}`
          : this.#pendingLog !== null
            ? '; the previous run in the folder is unchanged'
            : '; no checkpoint was written';
    return new DivergenceError(`training diverged at step ${step}: ${what}${kept}`, {
      where: dir ?? 'Trainer',
      hint: 'lower the learning rate (--lr) or clip gradients (--grad-clip)',
    });
  }

  /** Throws the DivergenceError when any weight is NaN or infinite. */
  #checkWeights(): void {
    for (const [name, parameter] of this.model.namedParameters()) {
      const values = parameter.floats();
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]!)) {
          throw this.#diverged(this.#step, `weight ${name}[${i}] is ${values[i]}`);
        }
      }
    }
  }

  state(stopReason: StopReason | null): TrainerState {
    return {
      format: 'lmforge-trainer-state',
      version: 1,
      step: this.#step,
      objective: this.objective.kind,
      options: this.options,
      rng: { sampler: this.#sampler.getState(), dropout: this.#dropoutRng.getState() },
      data: this.#init.data,
      tokensSeen: this.#tokensSeen,
      bestValLoss: this.#bestValLoss,
      evalsWithoutImprovement: this.#evalsWithoutImprovement,
      lastEvalStep: this.#lastEvalStep,
      lastEval: this.#lastEval,
      skippedSteps: this.#skippedSteps,
      consecutiveSkips: this.#consecutiveSkips,
      stopReason,
    };
  }

  /**
   * The generation_config.json written with each checkpoint: the settings' generationConfig
   * when given (an encoder-decoder's decoding), else defaultGenerationConfig with the
   * tokenizer's BOS/EOS.
   */
  generationConfig(): Record<string, unknown> {
    if (this.#init.generationConfig !== undefined) return { ...this.#init.generationConfig };
    const { bosId, eosId } = this.#init.tokenizer;
    const config = resolveGenerationConfig(
      { bosTokenId: bosId ?? null, eosTokenIds: eosId === undefined ? null : [eosId] },
      'Trainer.generationConfig',
    );
    return generationConfigToHf(config);
  }

  async checkpoint(stopReason: StopReason | null): Promise<void> {
    const dir = this.#init.runDir;
    if (dir === null) return;
    this.#checkWeights();
    const pending = this.#pendingLog;
    await saveCheckpoint(
      dir,
      {
        model: this.model,
        tokenizer: this.#init.tokenizer,
        generationConfig: this.generationConfig(),
        optimizer: this.optimizer.stateDict(),
        state: this.state(stopReason),
        ...(this.#init.saveModel === undefined ? {} : { saveModel: this.#init.saveModel }),
      },
      { ...this.#init.checkpointHooks, ...(pending === null ? {} : { log: pending.join('') }) },
    );
    this.#pendingLog = null;
    this.#checkpointStep = this.#step;
    this.#init.onEvent?.({ kind: 'checkpoint', step: this.#step, dir });
  }

  async #log(record: object): Promise<void> {
    const dir = this.#init.runDir;
    if (dir === null) return;
    const line = JSON.stringify(record) + '\n';
    if (this.#pendingLog !== null) {
      this.#pendingLog.push(line);
      return;
    }
    await runFolderIo(
      dir,
      `append to ${logFile}`,
      () => appendFile(join(dir, logFile), line),
      this.#checkpointStep,
    );
  }

  /** Drops log lines past the checkpoint's step (written after it, before a crash). */
  async #trimLog(): Promise<void> {
    const dir = this.#init.runDir;
    if (dir === null || this.#pendingLog !== null) return;
    await runFolderIo(dir, 'create the run folder', () => mkdir(dir, { recursive: true }));
    let text: string;
    try {
      text = await readFile(join(dir, logFile), 'utf8');
    } catch {
      return;
    }
    const kept = text
      .split('\n')
      .filter((line) => line !== '')
      .filter((line) => {
        try {
          const record = JSON.parse(line) as { step?: number };
          return record.step === undefined || record.step <= this.#step;
        } catch {
          return false; // a torn last line
        }
      });
    await runFolderIo(dir, `rewrite ${logFile}`, () =>
      writeFileAtomic(join(dir, logFile), kept.map((line) => line + '\n').join('')),
    );
  }

  /** The objective's metrics: a synchronous one inside a scope and noGrad, an asynchronous one awaited. */
  async #metrics(): Promise<Readonly<Record<string, number>>> {
    let pending: Promise<Readonly<Record<string, number>>> | null = null;
    const metrics = scope(() =>
      noGrad(() => {
        const result = this.objective.metrics?.(this.model) ?? {};
        if (!(result instanceof Promise)) return result;
        pending = result;
        return {};
      }),
    );
    return pending === null ? metrics : await pending;
  }

  /** Evaluates both splits, logs, updates early stopping; true when training should stop. */
  async #evaluate(): Promise<boolean> {
    const trainLoss = this.estimateLoss('train');
    const valLoss = this.estimateLoss('val');
    if (!Number.isFinite(trainLoss) || !Number.isFinite(valLoss)) {
      throw this.#diverged(this.#step, `the evaluation loss is ${trainLoss} (train), ${valLoss} (val)`);
    }
    const metrics = await this.#metrics();
    this.#lastEvalStep = this.#step;
    this.#lastEval =
      Object.keys(metrics).length === 0 ? { trainLoss, valLoss } : { trainLoss, valLoss, metrics };
    this.#lastMetrics = metrics;
    const event = {
      kind: 'eval' as const,
      step: this.#step,
      trainLoss,
      valLoss,
      trainPerplexity: Math.exp(trainLoss),
      valPerplexity: Math.exp(valLoss),
      metrics,
    };
    this.#init.onEvent?.(event);
    await this.#log({
      type: 'eval',
      step: this.#step,
      train_loss: trainLoss,
      val_loss: valLoss,
      train_ppl: event.trainPerplexity,
      val_ppl: event.valPerplexity,
      ...metrics,
      time: new Date().toISOString(),
    });
    const router = this.#router.take();
    if (router !== null) {
      this.#lastRouter = router;
      await this.#log(routerLogRecord(this.#step, router));
    }
    if (this.#bestValLoss === null || valLoss < this.#bestValLoss) {
      this.#bestValLoss = valLoss;
      this.#evalsWithoutImprovement = 0;
      return false;
    }
    this.#evalsWithoutImprovement++;
    const patience = this.options.earlyStopPatience;
    if (patience !== null && this.#evalsWithoutImprovement >= patience) {
      this.#init.onEvent?.({ kind: 'early-stop', step: this.#step, bestValLoss: this.#bestValLoss });
      return true;
    }
    return false;
  }

  /**
   * Trains until `iters` steps are done, early stopping triggers or requestStop() is called;
   * checkpoints at every evaluation and at the end.
   */
  async run(): Promise<TrainSummary> {
    const { iters, evalEvery } = this.options;
    const times: number[] = [];
    let tokensTotal = 0;
    let lastAux: number | null = null;
    const losses: number[] = [];
    let stopReason: StopReason = 'completed';
    let averageMs: number | null = null;
    await this.#trimLog();
    while (this.#step < iters) {
      if (this.#step % evalEvery === 0 && this.#lastEvalStep !== this.#step) {
        const stop = await this.#evaluate();
        if (this.#step > 0) await this.checkpoint(null);
        if (stop) {
          stopReason = 'early-stopped';
          break;
        }
      }
      if (this.#stopRequested) {
        stopReason = 'stop-requested';
        break;
      }
      const start = performance.now();
      const { loss, auxLoss, gradNorm, lr, tokens, skipped } = this.trainStep();
      const ms = performance.now() - start;
      times.push(ms);
      losses.push(loss);
      tokensTotal += tokens;
      lastAux = auxLoss;
      averageMs = averageMs === null ? ms : 0.9 * averageMs + 0.1 * ms;
      const tokensPerS = tokens / (ms / 1000);
      if (skipped !== null) {
        await this.#log({
          type: 'skip',
          step: this.#step,
          reason: skipped,
          lr,
          skipped_steps: this.#skippedSteps,
        });
        this.#init.onEvent?.({
          kind: 'skip',
          step: this.#step,
          reason: skipped,
          skippedSteps: this.#skippedSteps,
        });
      } else {
        await this.#log({
          type: 'step',
          step: this.#step,
          loss,
          ...(auxLoss === null ? {} : { aux_loss: auxLoss }),
          lr,
          grad_norm: gradNorm,
          ms,
        });
        this.#init.onEvent?.({
          kind: 'step',
          step: this.#step,
          iters,
          loss,
          auxLoss,
          lr,
          gradNorm,
          ms,
          tokensPerS,
          etaS: ((iters - this.#step) * averageMs) / 1000,
        });
      }
      await yieldToEventLoop();
    }
    if (stopReason === 'completed' && this.#lastEvalStep !== this.#step) await this.#evaluate();
    // A replacing run stopped before its first checkpoint leaves the old run in place.
    if (!(stopReason === 'stop-requested' && this.#pendingLog !== null)) await this.checkpoint(stopReason);
    // The first steps warm caches and pools; skip them as torch_gpt.py does.
    const steady = times.slice(Math.min(10, Math.max(0, times.length - 1)));
    const msMedian = steady.length === 0 ? null : median(steady);
    const tokensPerStep = times.length === 0 ? 0 : tokensTotal / times.length;
    return {
      step: this.#step,
      trainLoss: this.#lastEval?.trainLoss ?? null,
      valLoss: this.#lastEval?.valLoss ?? null,
      msPerIterMedian: msMedian,
      tokensPerS: msMedian === null ? null : tokensPerStep / (msMedian / 1000),
      params: this.params,
      stopReason,
      bestValLoss: this.#bestValLoss,
      losses,
      checkpointStep: this.#checkpointStep,
      metrics: this.#lastMetrics,
      auxLoss: lastAux,
      router: this.#lastRouter,
      skippedSteps: this.#skippedSteps,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}
