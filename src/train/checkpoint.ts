/**
 * Training checkpoints. A run folder is a Hugging Face model folder
 *   config.json  model.safetensors  tokenizer.json  generation_config.json
 * plus what resuming needs
 *   optimizer.safetensors   AdamW m and v (`exp_avg.<param>`, `exp_avg_sq.<param>`)
 *   trainer_state.json      step, the training options, RNG and data-sampler states,
 *                           early-stopping bookkeeping (written last: its presence marks
 *                           a complete checkpoint)
 *   log.jsonl               the training log (appended during the run, copied along)
 *
 * Atomicity: a checkpoint is written whole into a sibling folder `.NAME.next`, every file
 * fsync'd, then swapped in: `NAME` -> `.NAME.prev`, `.NAME.next` -> `NAME`, and `.NAME.prev`
 * is removed. A crash (or Ctrl-C) at any point leaves a complete checkpoint on disk: the
 * old `NAME`, or a complete `.NAME.next` / `.NAME.prev` that `recoverRunFolder` (run before
 * every load and save) moves back into place. The previous checkpoint is deleted only
 * once the new one is in place. A write error (a full disk) while the new checkpoint is
 * written removes the partial `.NAME.next` and is an IoError saying the old one is intact.
 *
 * Replacing a run (`train --force`): the new run leaves the old folder untouched, its log
 * held in memory, until its first checkpoint, which is swapped in as above with that log
 * instead of the old one; a failure or interrupt before then leaves the old run as it was.
 */
import { cp, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RngState } from '../tensor/index.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../io/index.js';
import {
  loadModelFolder,
  saveModelFolder,
  type AnyLanguageModel,
  type AnyModelConfig,
  type LanguageModel,
} from '../models/index.js';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.js';
import { ConfigError, FormatError, IoError } from '../util/errors.js';
import { syncFolder, writeFileAtomic } from '../util/atomic-file.js';
import { fileCaps, readTextCapped } from '../util/read-capped.js';
import type { AdamWStateDict } from './optim/adamw.js';
import type { TrainOptions } from './options.js';
import type { DataSource } from './data/dataset.js';
import { pathExists } from '../util/path-exists.js';
import { previewJson } from '../util/preview.js';

/** Where the training tokens came from, so that a resumed run re-reads the same data. */
export interface DataState {
  readonly source: DataSource;
  readonly description: string;
  /** SHA-256 (hex) of the text; a resumed run refuses text that changed. */
  readonly textHash: string;
  readonly trainTokens: number;
  readonly valTokens: number;
  /**
   * The tokenizer as asked for (`char`, `bpe:N`, an encoding name or an absolute path), so
   * that a resume can tell a different --tokenizer; absent in runs written before it was kept.
   */
  readonly tokenizer?: string;
  /** A fine-tuning run's own settings (task, template, LoRA, packing), compared on resume. */
  readonly recipe?: Readonly<Record<string, unknown>>;
}

export const trainerStateFile = 'trainer_state.json';
export const optimizerFile = 'optimizer.safetensors';
export const logFile = 'log.jsonl';

export interface TrainerState {
  readonly format: 'lmforge-trainer-state';
  readonly version: 1;
  /** Optimiser steps completed. */
  readonly step: number;
  readonly options: TrainOptions;
  /** The objective's kind (objectives/); absent in runs written before objectives: 'causal-lm'. */
  readonly objective?: string;
  /**
   * RNG states: the training-batch source (the objective's BatchSource state: an RngState
   * for next-token blocks) and the model's dropout stream.
   */
  readonly rng: { readonly sampler: unknown; readonly dropout: RngState };
  readonly data: DataState;
  readonly tokensSeen: number;
  readonly bestValLoss: number | null;
  readonly evalsWithoutImprovement: number;
  /** The step of the last evaluation (so a resumed run does not repeat it). */
  readonly lastEvalStep: number | null;
  readonly lastEval: {
    readonly trainLoss: number;
    readonly valLoss: number;
    /** The objective's metrics at that evaluation (absent: none). */
    readonly metrics?: Readonly<Record<string, number>>;
  } | null;
  /** Steps skipped for a non-finite loss or gradient (options.onNonfinite 'skip'); absent in older runs: 0. */
  readonly skippedSteps?: number;
  /** How many of the last steps were skipped in a row (for options.maxSkips); absent: 0. */
  readonly consecutiveSkips?: number;
  /** Why the run ended; null while it runs (a checkpoint at an evaluation). */
  readonly stopReason: StopReason | null;
}

export type StopReason = 'completed' | 'early-stopped' | 'stop-requested';

export interface CheckpointContents {
  readonly model: LanguageModel;
  readonly tokenizer: Tokenizer;
  readonly generationConfig: Readonly<Record<string, unknown>>;
  readonly optimizer: AdamWStateDict;
  readonly state: TrainerState;
  /** Writes the model part (default: saveModelFolder with the tokenizer and generation config). */
  readonly saveModel?: (dir: string) => Promise<void>;
}

/** Stages a test can fail at, to prove that a crash never leaves a torn checkpoint. */
export type CheckpointStage = 'model-written' | 'files-written' | 'old-moved-aside' | 'new-in-place';

export interface SaveCheckpointOptions {
  /**
   * Called at each stage (tests only): throwing an Error simulates a crash there; throwing
   * one with a Node `code` (say 'ENOSPC') simulates a failed write, which is cleaned up.
   */
  readonly onStage?: (stage: CheckpointStage) => void;
  /** The log.jsonl to write; absent: the one in `dir` (if any) is copied along. */
  readonly log?: string;
}

const siblings = (dir: string): { next: string; prev: string } => ({
  next: join(dirname(dir), `.${basename(dir)}.next`),
  prev: join(dirname(dir), `.${basename(dir)}.prev`),
});

const isComplete = (folder: string): Promise<boolean> => pathExists(join(folder, trainerStateFile));

/**
 * Finishes or rolls back a checkpoint swap interrupted by a crash, so that `dir` holds the
 * newest complete checkpoint, and removes leftovers. Safe to call at any time.
 */
export async function recoverRunFolder(dir: string): Promise<void> {
  const { next, prev } = siblings(dir);
  if (!(await pathExists(dir))) {
    if (await isComplete(next)) await rename(next, dir);
    else if (await pathExists(prev)) await rename(prev, dir);
  }
  await rm(next, { recursive: true, force: true });
  if (await pathExists(dir)) await rm(prev, { recursive: true, force: true });
}

/** Writes a complete checkpoint into `dir` atomically (see the file header). */
export async function saveCheckpoint(
  dir: string,
  contents: CheckpointContents,
  options: SaveCheckpointOptions = {},
): Promise<void> {
  const { next, prev } = siblings(dir);
  try {
    await mkdir(dirname(dir), { recursive: true });
    await recoverRunFolder(dir);
    await mkdir(next, { recursive: true });
    if (contents.saveModel !== undefined) await contents.saveModel(next);
    else {
      await saveModelFolder(next, contents.model, {
        tokenizerJson: contents.tokenizer.toJSON(),
        generationConfig: contents.generationConfig,
      });
    }
    options.onStage?.('model-written');
    const moments = new Map(contents.optimizer.tensors);
    await writeSafetensorsFile(join(next, optimizerFile), moments, {
      format: 'lmforge-adamw',
      step: String(contents.optimizer.step),
    });
    if (options.log !== undefined) await writeFileAtomic(join(next, logFile), options.log);
    else if (await pathExists(join(dir, logFile))) await cp(join(dir, logFile), join(next, logFile));
    // Written last: its presence marks the folder complete (recoverRunFolder relies on it).
    await writeFileAtomic(join(next, trainerStateFile), JSON.stringify(contents.state, null, 2) + '\n');
    await syncFolder(next);
    options.onStage?.('files-written');
  } catch (error) {
    if (!isSystemError(error)) throw error; // a crash: recoverRunFolder deals with what is left
    await rm(next, { recursive: true, force: true }).catch(() => undefined);
    throw await saveError(dir, contents.state.step, error);
  }
  try {
    if (await pathExists(dir)) {
      await rename(dir, prev);
      options.onStage?.('old-moved-aside');
    }
    await rename(next, dir);
    await syncFolder(dirname(dir));
    options.onStage?.('new-in-place');
    await rm(prev, { recursive: true, force: true });
  } catch (error) {
    if (!isSystemError(error)) throw error;
    await recoverRunFolder(dir).catch(() => undefined);
    throw await saveError(dir, contents.state.step, error);
  }
}

/** A Node system error (ENOSPC, EACCES, EIO ...), as opposed to a bug or a simulated crash. */
function isSystemError(error: unknown): error is Error & { code: string } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}

/** The IoError for a failed save, saying which checkpoint `dir` holds now. */
async function saveError(dir: string, step: number, cause: Error & { code: string }): Promise<IoError> {
  const onDisk = await readTrainerState(dir).then(
    (state) => state.step,
    () => null,
  );
  const now =
    onDisk === null
      ? 'no earlier checkpoint exists'
      : onDisk === step
        ? `the new checkpoint (step ${step}) is in place`
        : `the previous checkpoint (step ${onDisk}) is intact`;
  return new IoError(`could not save the checkpoint of step ${step} (${cause.message}); ${now}`, {
    where: dir,
    cause,
    ...(onDisk === null ? {} : { hint: 'once the disk has room again, continue the run with --resume' }),
  });
}

/** What an output folder holds, for `train` deciding whether it may write there. */
export type RunFolderKind =
  /** Nothing there (the folder is created). */
  | 'missing'
  | 'empty'
  /** A checkpointed training run. */
  | 'run'
  /** Only the log of a run stopped before its first checkpoint. */
  | 'unfinished'
  /** Anything else: a model folder that is not a run, unrelated files. */
  | 'other';

/**
 * Classifies `dir` (after finishing an interrupted checkpoint swap). A path that is a file,
 * or below a file, is a ConfigError naming it.
 */
export async function inspectRunFolder(dir: string): Promise<RunFolderKind> {
  let info;
  try {
    info = await stat(dir);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOTDIR') await refuseFileAncestor(dir);
    if (code !== 'ENOENT') {
      throw new IoError(`cannot open the output folder (${(error as Error).message})`, {
        where: dir,
        cause: error,
      });
    }
    await refuseFileAncestor(dir);
    await recoverRunFolder(dir);
    return (await pathExists(dir)) ? inspectRunFolder(dir) : 'missing';
  }
  if (!info.isDirectory()) {
    throw new ConfigError('the output path is a file, not a folder', {
      where: dir,
      hint: 'pass another --out',
    });
  }
  await recoverRunFolder(dir);
  const entries = await readdir(dir);
  if (entries.length === 0) return 'empty';
  if (entries.includes(trainerStateFile)) return 'run';
  if (entries.every((name) => name === logFile)) return 'unfinished';
  return 'other';
}

/** A missing folder whose nearest existing ancestor is a file cannot be created: say which file. */
async function refuseFileAncestor(dir: string): Promise<void> {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const info = await stat(parent).catch(() => null);
    if (info !== null) {
      if (info.isDirectory()) return;
      throw new ConfigError('a parent of the output folder is a file', {
        where: parent,
        expected: `a folder to create ${dir} in`,
        hint: 'pass another --out',
      });
    }
    if (dirname(parent) === parent) return;
  }
}

export interface LoadedCheckpoint {
  readonly model: AnyLanguageModel;
  readonly config: AnyModelConfig;
  readonly tokenizer: Tokenizer;
  readonly optimizer: AdamWStateDict;
  readonly state: TrainerState;
}

/** Reads trainer_state.json, checking its kind and fields. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const path = join(dir, trainerStateFile);
  const text = await readTextCapped(
    path,
    fileCaps.config,
    (cause) =>
      new FormatError('no trainer state in this folder', {
        where: path,
        hint: 'resume needs a run folder written by `lmforge train`',
        cause,
      }),
  );
  let state: TrainerState;
  try {
    state = JSON.parse(text) as TrainerState;
  } catch (error) {
    throw new FormatError('trainer_state.json is not valid JSON (truncated?)', { where: path, cause: error });
  }
  // `null` or a list parses too: only an object has the fields.
  const fields = (typeof state === 'object' && state !== null ? state : {}) as Partial<TrainerState>;
  if (fields.format !== 'lmforge-trainer-state' || fields.version !== 1 || !Number.isInteger(fields.step)) {
    throw new FormatError('not an lmforge trainer state', {
      where: path,
      expected: "format 'lmforge-trainer-state', version 1, an integer step",
      actual: `format ${previewJson(fields.format)}, version ${previewJson(fields.version)}`,
    });
  }
  return state;
}

/** Loads everything a resumed run needs; every missing or damaged file is a FormatError. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  await recoverRunFolder(dir);
  const state = await readTrainerState(dir);
  const optimizer = await readOptimizerState(dir, optimizerUpdates(state));
  const { model, config } = await loadModelFolder(dir);
  const tokenizer = await loadTokenizer(dir);
  return { model, config, tokenizer, optimizer, state };
}

/** The optimizer updates a checkpoint's steps made: its step count less the skipped steps. */
export function optimizerUpdates(state: Pick<TrainerState, 'step' | 'skippedSteps'>): number {
  return state.step - (state.skippedSteps ?? 0);
}

/** A run folder's optimizer.safetensors, which must have made `step` updates (optimizerUpdates of its trainer state). */
export async function readOptimizerState(dir: string, step: number): Promise<AdamWStateDict> {
  const file = await readSafetensorsFile(join(dir, optimizerFile));
  const saved = Number(file.metadata['step']);
  if (file.metadata['format'] !== 'lmforge-adamw' || saved !== step) {
    for (const tensor of file.tensors.values()) tensor.dispose();
    throw new FormatError('optimizer state does not match the trainer state', {
      where: join(dir, optimizerFile),
      expected: `format lmforge-adamw at step ${step}`,
      actual: `format ${file.metadata['format'] ?? 'none'} at step ${file.metadata['step'] ?? 'none'}`,
    });
  }
  return { step, tensors: file.tensors };
}

/** Files of a run folder (for `lmforge info`). */
export async function listRunFolder(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
