/**
 * The model families lmforge can build from a Hugging Face `model_type`. Both supported
 * types are presets of the one decoder family; a new family adds one entry here.
 */
import { decoderToHfConfig, hfConfigToDecoder } from '../io/hf-config.js';
import { ConfigError } from '../util/errors.js';
import { resolveDecoderConfig, type DecoderConfig } from './decoder/config.js';
import { DecoderLM, type DecoderOptions } from './decoder/model.js';

export type ModelType = 'gpt2' | 'llama';
export const modelTypes: readonly ModelType[] = ['gpt2', 'llama'];

/** Parses an HF config.json object into a resolved DecoderConfig; errors name `where` (the file). */
export function configFromHf(json: unknown, where = 'config.json'): DecoderConfig {
  return resolveDecoderConfig(hfConfigToDecoder(json, where), where);
}

/** The HF config.json object for a config. */
export function configToHf(config: DecoderConfig): Record<string, unknown> {
  return decoderToHfConfig(config);
}

/** A freshly initialised model for a config (the family is chosen by config.arch). */
export function createModel(config: DecoderConfig, options: DecoderOptions = {}): DecoderLM {
  switch (config.arch) {
    case 'gpt2':
    case 'llama':
      return new DecoderLM(config, options);
    default:
      throw new ConfigError('unknown architecture', {
        where: 'createModel',
        expected: modelTypes.join(' | '),
        actual: String((config as { arch: unknown }).arch),
      });
  }
}
