/**
 * Model folders in the Hugging Face layout: `config.json` + `model.safetensors` (+ the
 * optional `tokenizer.json`, `tokenizer_config.json` and `generation_config.json`), for any
 * registered family (registry.ts): config.json's model_type picks the family, which maps
 * the config and names the parameters by their HF keys, so transformers loads the folder as
 * is. Loading also takes what transformers writes and downloads: sharded weights
 * (`model.safetensors.index.json` and its shards; a folder with both files loads
 * model.safetensors, as transformers prefers it), F16 and BF16 weights (converted exactly
 * to float32), keys saved from the bare base model (LlamaModel's `layers.0...` for
 * LlamaForCausalLM's `model.layers.0...`), and a tied head's stored copy (`lm_head.weight`
 * with tie_word_embeddings true: ignored, as transformers ties it to the embedding after
 * loading).
 */
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  openSafetensorsFile,
  openSafetensorsIndex,
  writeSafetensorsFile,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsReader,
  type ShardedSafetensorsReader,
} from '../io/index.js';
import type { Tensor, TypedArray } from '../tensor/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { fileCaps, readTextCapped } from '../util/read-capped.js';
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
export const weightsIndexFileName = 'model.safetensors.index.json';
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

/** What a folder's weights were: for `lmforge info`, and for callers that want to say what they loaded. */
export interface WeightsSummary {
  /** The safetensors files read: model.safetensors, or the shards of the index in its order. */
  readonly files: readonly string[];
  /** The index file of a sharded checkpoint; null for one model.safetensors. */
  readonly index: string | null;
  /** Parameter tensors per stored dtype (F16 and BF16 are converted to float32 on load). */
  readonly dtypes: Readonly<Partial<Record<SafetensorsDType, number>>>;
  /** Stored keys that are not parameters and were not read: buffers, a tied head's copy. */
  readonly ignoredKeys: readonly string[];
  /** The keys lacked the body's prefix (saved from the base model, e.g. LlamaModel). */
  readonly bareKeys: boolean;
}

export interface LoadedModelFolder {
  readonly model: AnyLanguageModel;
  readonly config: AnyModelConfig;
  readonly weights: WeightsSummary;
  /** Path of tokenizer.json when the folder has one, else null (the caller loads it). */
  readonly tokenizerPath: string | null;
  /**
   * Parsed generation_config.json (HF field names; lmforge/generate resolves it); without
   * that file, config.json's bos_token_id / eos_token_id when it has them (transformers'
   * GenerationConfig.from_model_config); else null.
   */
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
    checkpointFromParameters(options.parameters ?? model.stateDict?.() ?? model.namedParameters()),
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
  const text = await readTextCapped(
    path,
    fileCaps.config,
    (cause) => new FormatError('cannot read file', { where: path, cause, hint: 'is this a model folder?' }),
  );
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

/** A folder's config and its weights, opened and checked against each other. */
interface CheckedWeights {
  readonly config: AnyModelConfig;
  /** config.json as parsed (HF field names). */
  readonly configJson: Readonly<Record<string, unknown>>;
  readonly configPath: string;
  /** model.safetensors, or the index of a sharded checkpoint. */
  readonly weightsPath: string;
  readonly file: SafetensorsReader;
  /** The entry each parameter path loads from. */
  readonly entries: Map<string, SafetensorsEntry>;
  readonly summary: WeightsSummary;
}

/** The weights of `dir`: model.safetensors, else the sharded index; neither is a FormatError saying what is there. */
async function openWeights(dir: string, options: LoadModelFolderOptions): Promise<SafetensorsReader> {
  const single = join(dir, weightsFileName);
  if (existsSync(single)) return openSafetensorsFile(single, options);
  const index = join(dir, weightsIndexFileName);
  if (existsSync(index)) return openSafetensorsIndex(index, options);
  const pickle = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].find((name) =>
    existsSync(join(dir, name)),
  );
  throw new FormatError('model folder has no weights', {
    where: single,
    expected: `${weightsFileName} or ${weightsIndexFileName} with its shards`,
    ...(pickle === undefined ? {} : { actual: pickle }),
    hint:
      pickle === undefined
        ? 'is this a model folder?'
        : 'PyTorch pickle (.bin) checkpoints are not read (they can run code); convert them to safetensors',
  });
}

/**
 * Reads config.json, opens the weights and checks their headers against the config; only
 * headers are read. The caller closes `file`.
 */
async function openCheckedWeights(dir: string, options: LoadModelFolderOptions): Promise<CheckedWeights> {
  const configPath = join(dir, configFileName);
  const configJson = await readJson(configPath);
  const config = configFromHf(configJson, configPath);
  const file = await openWeights(dir, options);
  try {
    const entries = matchCheckpoint(config, file.entries, file.path);
    const loaded = new Set(entries.values());
    const dtypes: Partial<Record<SafetensorsDType, number>> = {};
    for (const entry of loaded) dtypes[entry.dtype] = (dtypes[entry.dtype] ?? 0) + 1;
    const shards = 'shards' in file ? (file as ShardedSafetensorsReader).shards : null;
    const summary: WeightsSummary = {
      files: shards ?? [file.path],
      index: shards === null ? null : file.path,
      dtypes,
      ignoredKeys: file.entries.filter((entry) => !loaded.has(entry)).map((entry) => entry.name),
      bareKeys: [...entries].some(([path, entry]) => path !== entry.name),
    };
    return {
      config,
      configJson: configJson as Readonly<Record<string, unknown>>,
      configPath,
      weightsPath: file.path,
      file,
      entries,
      summary,
    };
  } catch (error) {
    await file.close();
    throw error;
  }
}

/**
 * The generation settings of config.json when a folder has no generation_config.json: its
 * token ids, as transformers' GenerationConfig.from_model_config takes them (older
 * checkpoints say which token ends a text only there). Null when it has none.
 */
function generationFieldsOfConfig(json: Readonly<Record<string, unknown>>): Record<string, unknown> | null {
  const fields = ['bos_token_id', 'eos_token_id'].filter(
    (key) => json[key] !== undefined && json[key] !== null,
  );
  return fields.length === 0 ? null : Object.fromEntries(fields.map((key) => [key, json[key]]));
}

/** The file that holds `entry`: its shard, for a sharded checkpoint. */
function fileOf(file: SafetensorsReader, entry: SafetensorsEntry): string {
  return 'shardOf' in file ? (file as ShardedSafetensorsReader).shardOf(entry) : file.path;
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
        where: `${fileOf(weights.file, entry)} tensor '${entry.name}'`,
        expected: 'finite values',
        actual: `${values[i]} at element ${i} of (${entry.shape.join(', ')})`,
        hint: 'the run that wrote it diverged, or the file is damaged; load an earlier checkpoint',
      });
    }
  }
  return values;
}

/**
 * Loads an HF model folder of a registered model_type (gpt2, llama, mistral, qwen2, qwen3).
 * Before anything is allocated, config.json is validated (required dimensions present and
 * in range, every field that changes the math understood), the safetensors headers (one
 * file or the shards of the index) are checked against it (every tensor present with the
 * shape the config implies, no unexpected ones) and the model's size against the machine's
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
  const { config, configPath, configJson } = weights;
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
      // Parameters and persistent buffers; a buffer the file leaves out keeps its initial value.
      for (const [path, tensor] of model.stateDict?.() ?? model.namedParameters()) {
        const entry = weights.entries.get(path);
        if (entry !== undefined) await readFinite(weights, entry, tensor.values());
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
  } finally {
    await weights.file.close();
  }
  const tokenizerPath = existsSync(join(dir, tokenizerFileName)) ? join(dir, tokenizerFileName) : null;
  const side = await readSideFiles(dir, configJson);
  model.eval();
  return { model, config, weights: weights.summary, tokenizerPath, ...side };
}

/** A folder's generation_config.json (else config.json's token ids) and tokenizer_config.json, parsed. */
async function readSideFiles(
  dir: string,
  configJson: Readonly<Record<string, unknown>>,
): Promise<Pick<LoadedModelFolder, 'generationConfig' | 'tokenizerConfig'>> {
  const optionalJson = async (name: string): Promise<Record<string, unknown> | null> =>
    existsSync(join(dir, name)) ? ((await readJson(join(dir, name))) as Record<string, unknown>) : null;
  return {
    generationConfig: (await optionalJson(generationConfigFileName)) ?? generationFieldsOfConfig(configJson),
    tokenizerConfig: await optionalJson(tokenizerConfigFileName),
  };
}

export interface CheckedModelFolder {
  readonly config: AnyModelConfig;
  /** Scalar parameters of the model (a tied head counted once). */
  readonly parameters: number;
  readonly weights: WeightsSummary;
  /** As LoadedModelFolder's: generation_config.json, else config.json's token ids, else null. */
  readonly generationConfig: Record<string, unknown> | null;
  /** As LoadedModelFolder's: the parsed tokenizer_config.json, or null. */
  readonly tokenizerConfig: Record<string, unknown> | null;
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
  return {
    config: weights.config,
    parameters: modelSize(weights.config).parameters,
    weights: weights.summary,
    ...(await readSideFiles(dir, weights.configJson)),
  };
}
