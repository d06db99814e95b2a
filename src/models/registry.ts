/**
 * The model families lmforge can build from a Hugging Face `model_type`. Both supported
 * types are presets of the one decoder family; a new family adds one entry here.
 */
import { decoderToHfConfig, hfConfigToDecoder, hfFieldNames } from '../io/hf-config.js';
import { ConfigError } from '../util/errors.js';
import { resolveDecoderConfig, type DecoderConfig } from './decoder/config.js';
import { DecoderLM, type DecoderOptions } from './decoder/model.js';
import { checkModelFits } from './decoder/shapes.js';

export type ModelType = 'gpt2' | 'llama';
export const modelTypes: readonly ModelType[] = ['gpt2', 'llama'];

/**
 * Parses an HF config.json object into a resolved DecoderConfig; errors name `where` (the
 * file) and each bad field by its config.json key.
 */
export function configFromHf(json: unknown, where = 'config.json'): DecoderConfig {
  const raw = hfConfigToDecoder(json, where);
  return resolveDecoderConfig(raw, where, hfFieldNames[raw['arch'] as ModelType]);
}

/** The HF config.json object for a config. */
export function configToHf(config: DecoderConfig): Record<string, unknown> {
  return decoderToHfConfig(config);
}

export interface CreateModelOptions extends DecoderOptions {
  /** Named in the error when the model would not fit in memory (default 'createModel'). */
  readonly where?: string;
  /** The memory the model may take (default: this machine's, see memoryLimitBytes). */
  readonly memoryLimitBytes?: number;
}

/**
 * A freshly initialised model for a config (the family is chosen by config.arch). A model
 * larger than the memory limit is refused before anything is allocated.
 */
export function createModel(config: DecoderConfig, options: CreateModelOptions = {}): DecoderLM {
  switch (config.arch) {
    case 'gpt2':
    case 'llama':
      checkModelFits(config, options.where ?? 'createModel', options.memoryLimitBytes);
      return new DecoderLM(config, options);
    default:
      throw new ConfigError('unknown architecture', {
        where: 'createModel',
        expected: modelTypes.join(' | '),
        actual: String((config as { arch: unknown }).arch),
      });
  }
}
