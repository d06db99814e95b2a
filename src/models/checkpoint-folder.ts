/**
 * Model folders in the Hugging Face layout: `config.json` + `model.safetensors` (+ the
 * optional `tokenizer.json` and `generation_config.json`), for any registered family
 * (registry.ts): config.json's model_type picks the family, which maps the config and
 * names the parameters by their HF keys, so transformers loads the folder as is.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  openSafetensorsFile,
  writeSafetensorsFile,
  type SafetensorsEntry,
  type SafetensorsReader,
} from '../io/index.js';
import type { Tensor, TypedArray } from '../tensor/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { FormatError } from '../util/errors.js';
import { checkpointFromParameters, matchCheckpoint } from './checkpoint-match.js';
import type { LanguageModel } from './model.js';
import {
  configFromHf,
  configToHf,
  createModel,
  modelSize,
  type AnyLanguageModel,
  type AnyModelConfig,
} from './registry.js';

export const configFileName = 'config.json';
export const weightsFileName = 'model.safetensors';
export const tokenizerFileName = 'tokenizer.json';
export const generationConfigFileName = 'generation_config.json';
export const tokenizerConfigFileName = 'tokenizer_config.json';

export interface SaveModelFolderOptions {
  /** tokenizer.json contents (a JSON string or object), written as is. */
  readonly tokenizerJson?: string | object;
  /** generation_config.json contents (HF field names), written as is. */
  readonly generationConfig?: object;
  /** tokenizer_config.json contents (a chat template, special tokens), written as is. */
  readonly tokenizerConfig?: object;
  /**
   * The weights to write by checkpoint key (default `model.namedParameters()`): a model with
   * a LoRA adapter merged in writes its base weights without the adapter's matrices.
   */
  readonly parameters?: ReadonlyArray<[string, Tensor]>;
}

export interface LoadedModelFolder {
  readonly model: AnyLanguageModel;
  readonly config: AnyModelConfig;
  /** Path of tokenizer.json when the folder has one, else null (the caller loads it). */
  readonly tokenizerPath: string | null;
  /** Parsed generation_config.json (HF field names; lmforge/generate resolves it), or null. */
  readonly generationConfig: Record<string, unknown> | null;
  /** Parsed tokenizer_config.json (HF's; its eos_token says which token ends generation), or null. */
  readonly tokenizerConfig: Record<string, unknown> | null;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Saves `model` as an HF model folder (created if needed).
 *
 * @example
 * await saveModelFolder('out/shakespeare', model, { tokenizerJson: tokenizer.toJSON() });
 */
export async function saveModelFolder(
  dir: string,
  model: LanguageModel,
  options: SaveModelFolderOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeSafetensorsFile(
    join(dir, weightsFileName),
    checkpointFromParameters(options.parameters ?? model.namedParameters()),
    {
      format: 'pt',
    },
  );
  await writeFileAtomic(join(dir, configFileName), json(configToHf(model.config)));
  if (options.tokenizerJson !== undefined) {
    const text =
      typeof options.tokenizerJson === 'string' ? options.tokenizerJson : json(options.tokenizerJson);
    await writeFileAtomic(join(dir, tokenizerFileName), text);
  }
  if (options.generationConfig !== undefined) {
    await writeFileAtomic(join(dir, generationConfigFileName), json(options.generationConfig));
  }
  if (options.tokenizerConfig !== undefined) {
    await writeFileAtomic(join(dir, tokenizerConfigFileName), json(options.tokenizerConfig));
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FormatError('cannot read file', { where: path, cause: error, hint: 'is this a model folder?' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new FormatError('not valid JSON', {
      where: path,
      actual: error instanceof Error ? error.message : String(error),
      cause: error,
    });
  }
}

export interface LoadModelFolderOptions {
  /** Most bytes per read of model.safetensors (default 256 MiB). */
  readonly pieceBytes?: number;
  /** The memory the model may take (default: this machine's). */
  readonly memoryLimitBytes?: number;
}

/** A folder's config and its weights file, opened and checked against each other. */
interface CheckedWeights {
  readonly config: AnyModelConfig;
  readonly configPath: string;
  readonly weightsPath: string;
  readonly file: SafetensorsReader;
  /** The entry each parameter path loads from. */
  readonly entries: Map<string, SafetensorsEntry>;
}

/**
 * Reads config.json, opens model.safetensors and checks its header against the config;
 * only headers are read. The caller closes `file`.
 */
async function openCheckedWeights(dir: string, options: LoadModelFolderOptions): Promise<CheckedWeights> {
  const configPath = join(dir, configFileName);
  const config = configFromHf(await readJson(configPath), configPath);
  const weightsPath = join(dir, weightsFileName);
  if (!existsSync(weightsPath)) {
    throw new FormatError('model folder has no weights', {
      where: weightsPath,
      hint: 'sharded checkpoints (model-00001-of-N.safetensors) and .bin files are not supported',
    });
  }
  const file = await openSafetensorsFile(weightsPath, options);
  try {
    return {
      config,
      configPath,
      weightsPath,
      file,
      entries: matchCheckpoint(config, file.entries, weightsPath),
    };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/** Reads `entry` into `into` and rejects NaN or infinite values, naming the tensor and element. */
async function readFinite(
  weights: CheckedWeights,
  entry: SafetensorsEntry,
  into?: TypedArray,
): Promise<TypedArray> {
  const values = await weights.file.read(entry, into);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new FormatError('weight is not finite', {
        where: `${weights.weightsPath} tensor '${entry.name}'`,
        expected: 'finite values',
        actual: `${values[i]} at element ${i} of (${entry.shape.join(', ')})`,
        hint: 'the run that wrote it diverged, or the file is damaged; load an earlier checkpoint',
      });
    }
  }
  return values;
}

/**
 * Loads an HF model folder of a registered model_type (gpt2, llama). Before anything is allocated,
 * config.json is validated (required dimensions present and in range), the
 * model.safetensors header is checked against it (every tensor present with the shape
 * the config implies, no unexpected ones) and the model's size against the machine's
 * memory. Weights are then read in pieces straight into the parameters (F64/F16/BF16
 * converted to float32); NaN or infinite values are a FormatError naming the tensor.
 *
 * @example
 * const { model, tokenizerPath } = await loadModelFolder('out/shakespeare');
 */
export async function loadModelFolder(
  dir: string,
  options: LoadModelFolderOptions = {},
): Promise<LoadedModelFolder> {
  const weights = await openCheckedWeights(dir, options);
  const { config, configPath } = weights;
  let model: AnyLanguageModel;
  try {
    // Every parameter is overwritten below: no random initialisation to pay for first.
    // The model of the family config.json names (typed as a built-in one; see BuiltinFamilies).
    model = createModel(config, {
      init: 'empty',
      where: configPath,
      ...(options.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: options.memoryLimitBytes }),
    }) as AnyLanguageModel;
    try {
      for (const [path, parameter] of model.namedParameters()) {
        await readFinite(weights, weights.entries.get(path)!, parameter.values());
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
  } finally {
    await weights.file.close();
  }
  const tokenizerPath = existsSync(join(dir, tokenizerFileName)) ? join(dir, tokenizerFileName) : null;
  const optionalJson = async (name: string): Promise<Record<string, unknown> | null> =>
    existsSync(join(dir, name)) ? ((await readJson(join(dir, name))) as Record<string, unknown>) : null;
  const generationConfig = await optionalJson(generationConfigFileName);
  const tokenizerConfig = await optionalJson(tokenizerConfigFileName);
  model.eval();
  return { model, config, tokenizerPath, generationConfig, tokenizerConfig };
}

export interface CheckedModelFolder {
  readonly config: AnyModelConfig;
  /** Scalar parameters of the model (a tied head counted once). */
  readonly parameters: number;
}

/**
 * Validates a model folder as loadModelFolder does (config, header against config, every
 * weight finite), reading one tensor at a time and building no model (so a model larger
 * than this machine can still be described): for `lmforge info`, which must not report
 * what it could not load.
 *
 * @example
 * const { config, parameters } = await checkModelFolder('out/shakespeare');
 */
export async function checkModelFolder(
  dir: string,
  options: LoadModelFolderOptions = {},
): Promise<CheckedModelFolder> {
  const weights = await openCheckedWeights(dir, options);
  try {
    for (const entry of weights.entries.values()) await readFinite(weights, entry);
  } finally {
    await weights.file.close();
  }
  return { config: weights.config, parameters: modelSize(weights.config).parameters };
}
