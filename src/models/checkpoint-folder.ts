/**
 * Model folders in the Hugging Face layout: `config.json` + `model.safetensors` (+ the
 * optional `tokenizer.json` and `generation_config.json`), loadable by transformers'
 * GPT2LMHeadModel / LlamaForCausalLM because parameter paths are the HF keys.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsFile, writeSafetensorsFile } from '../io/safetensors.js';
import { ConfigError, FormatError, ShapeError } from '../util/errors.js';
import type { DecoderConfig } from './decoder/config.js';
import type { DecoderLM } from './decoder/model.js';
import { checkpointFromParameters, parametersFromCheckpoint } from './decoder/weights.js';
import { configFromHf, configToHf, createModel } from './registry.js';

export const configFileName = 'config.json';
export const weightsFileName = 'model.safetensors';
export const tokenizerFileName = 'tokenizer.json';
export const generationConfigFileName = 'generation_config.json';

export interface SaveModelFolderOptions {
  /** tokenizer.json contents (a JSON string or object), written as is. */
  readonly tokenizerJson?: string | object;
  /** generation_config.json contents (HF field names), written as is. */
  readonly generationConfig?: object;
}

export interface LoadedModelFolder {
  readonly model: DecoderLM;
  readonly config: DecoderConfig;
  /** Path of tokenizer.json when the folder has one, else null (the caller loads it). */
  readonly tokenizerPath: string | null;
  /** Parsed generation_config.json, or null. */
  readonly generationConfig: Record<string, unknown> | null;
}

/** Writes text through a temporary file and a rename, so readers never see half a file. */
async function writeAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
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
  model: DecoderLM,
  options: SaveModelFolderOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeSafetensorsFile(join(dir, weightsFileName), checkpointFromParameters(model.namedParameters()), {
    format: 'pt',
  });
  await writeAtomic(join(dir, configFileName), json(configToHf(model.config)));
  if (options.tokenizerJson !== undefined) {
    const text =
      typeof options.tokenizerJson === 'string' ? options.tokenizerJson : json(options.tokenizerJson);
    await writeAtomic(join(dir, tokenizerFileName), text);
  }
  if (options.generationConfig !== undefined) {
    await writeAtomic(join(dir, generationConfigFileName), json(options.generationConfig));
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

/**
 * Loads an HF model folder of model_type gpt2 or llama (float32/float64/float16/bfloat16
 * weights are converted to float32 by the safetensors reader).
 *
 * @example
 * const { model, tokenizerPath } = await loadModelFolder('out/shakespeare');
 */
export async function loadModelFolder(dir: string): Promise<LoadedModelFolder> {
  const configPath = join(dir, configFileName);
  const config = configFromHf(await readJson(configPath), configPath);
  const weightsPath = join(dir, weightsFileName);
  if (!existsSync(weightsPath)) {
    throw new FormatError('model folder has no weights', {
      where: weightsPath,
      hint: 'sharded checkpoints (model-00001-of-N.safetensors) and .bin files are not supported',
    });
  }
  const file = await readSafetensorsFile(weightsPath);
  // Initialisation is overwritten by the load; a fixed seed keeps it cheap and deterministic.
  const model = createModel(config, { seed: 0 });
  try {
    model.loadStateDict(parametersFromCheckpoint(config, file.tensors));
  } catch (error) {
    model.dispose();
    if (error instanceof ConfigError || error instanceof ShapeError) {
      throw new FormatError(error.message, {
        where: weightsPath,
        cause: error,
        hint: 'weights do not match config.json',
      });
    }
    throw error;
  } finally {
    for (const tensor of file.tensors.values()) tensor.dispose();
  }
  const tokenizerPath = existsSync(join(dir, tokenizerFileName)) ? join(dir, tokenizerFileName) : null;
  const generationPath = join(dir, generationConfigFileName);
  const generationConfig = existsSync(generationPath)
    ? ((await readJson(generationPath)) as Record<string, unknown>)
    : null;
  model.eval();
  return { model, config, tokenizerPath, generationConfig };
}
