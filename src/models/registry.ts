/**
 * The registry of model families, keyed by Hugging Face `model_type`. A family is one
 * folder (config, model, HF mapping, family.ts) plus one `registerFamily` line below:
 * checkpoint folders, `createModel` and every caller of the contract (model.ts) find it
 * here, so generate/train/checkpoint code never names a family.
 */
import { ConfigError } from '../util/errors.js';
import type { DecoderConfig } from './decoder/config.js';
import type { DecoderLM } from './decoder/model.js';
import type { ModelFamily, ModelInit } from './family.js';
import type { LanguageModel, ModelConfig } from './model.js';
import { checkSizeFits, type ModelSize } from './size.js';
import { gpt2Family } from './gpt2/family.js';
import { llamaFamily } from './llama/family.js';
import { mistralFamily } from './mistral/family.js';
import { qwen2Family } from './qwen2/family.js';
import { qwen3Family } from './qwen3/family.js';
import { mixtralFamily } from './mixtral/family.js';
import type { BertConfig } from './bert/config.js';
import type { BertModel } from './bert/model.js';
import { bertFamily } from './bert/family.js';
import type { MarianConfig } from './marian/config.js';
import type { MarianMTModel } from './marian/model.js';
import { marianFamily } from './marian/family.js';
import type { RnnConfig } from './rnn/config.js';
import { gruFamily, lstmFamily } from './rnn/family.js';
import type { RnnLM } from './rnn/model.js';
import { previewJson } from '../util/preview.js';

/**
 * The config and model class of each built-in model_type, so that what a folder holds is
 * typed as the union of what it can be (narrow it by `config.arch`). A new family adds
 * its entry here beside its registerFamily line.
 */
export interface BuiltinFamilies {
  readonly gpt2: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly llama: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly mistral: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly qwen2: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly qwen3: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly mixtral: { readonly config: DecoderConfig; readonly model: DecoderLM };
  readonly bert: { readonly config: BertConfig; readonly model: BertModel };
  readonly marian: { readonly config: MarianConfig; readonly model: MarianMTModel };
  readonly 'lmforge-lstm': { readonly config: RnnConfig; readonly model: RnnLM };
  readonly 'lmforge-gru': { readonly config: RnnConfig; readonly model: RnnLM };
}

export type AnyModelConfig = BuiltinFamilies[keyof BuiltinFamilies]['config'];
export type AnyLanguageModel = BuiltinFamilies[keyof BuiltinFamilies]['model'];

const families = new Map<string, ModelFamily>();

/**
 * Adds a family under its model_type (a test may register a toy one). A second family
 * under a taken model_type is an error.
 *
 * @example
 * registerFamily(bertFamily); // then configFromHf, createModel and model folders know 'bert'
 */
export function registerFamily<Config extends ModelConfig>(family: ModelFamily<Config>): void {
  if (families.has(family.modelType)) {
    throw new ConfigError('a model family is already registered under this model_type', {
      where: 'registerFamily',
      actual: family.modelType,
    });
  }
  // The map holds every family under the common config type; each is only ever handed
  // configs its own fromHf resolved (familyOf(config.arch)).
  families.set(family.modelType, family as unknown as ModelFamily);
}

registerFamily(gpt2Family);
registerFamily(llamaFamily);
registerFamily(mistralFamily);
registerFamily(qwen2Family);
registerFamily(qwen3Family);
registerFamily(mixtralFamily);
registerFamily(bertFamily);
registerFamily(marianFamily);
registerFamily(lstmFamily);
registerFamily(gruFamily);

/** The model_types that can be built and loaded, in registration order. */
export function modelTypes(): string[] {
  return [...families.keys()];
}

/** The family of `modelType`; an unknown one is a ConfigError at `where` listing the known ones. */
export function familyOf(modelType: unknown, where = 'model_type'): ModelFamily {
  const family = typeof modelType === 'string' ? families.get(modelType) : undefined;
  if (family === undefined) {
    throw new ConfigError('unsupported model_type', {
      where,
      expected: modelTypes().join(' | '),
      actual: previewJson(modelType),
    });
  }
  return family;
}

/**
 * Parses an HF config.json object into its family's resolved config; errors name `where`
 * (the file) and each bad field by its config.json key.
 *
 * @example
 * const config = configFromHf(JSON.parse(readFileSync('gpt2/config.json', 'utf8')), 'gpt2/config.json');
 */
export function configFromHf(json: unknown, where = 'config.json'): AnyModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('config is not a JSON object', { where, actual: previewJson(json) });
  }
  const raw = json as Readonly<Record<string, unknown>>;
  // Typed as a built-in family's config; a family registered at run time narrows by arch.
  return familyOf(raw['model_type'], `${where}: model_type`).fromHf(raw, where) as AnyModelConfig;
}

/** The HF config.json object for a config. */
export function configToHf(config: ModelConfig): Record<string, unknown> {
  return familyOf(config.arch, 'configToHf').toHf(config);
}

/** Parameters and bytes of the model `config` describes, from the config alone. */
export function modelSize(config: ModelConfig): ModelSize {
  return familyOf(config.arch, 'modelSize').size(config);
}

export interface CreateModelOptions {
  /** Default 'random'. */
  readonly init?: ModelInit;
  /** Seed of the random initialisation (default 0). */
  readonly seed?: number;
  /** Named in the error when the model would not fit in memory (default 'createModel'). */
  readonly where?: string;
  /** The memory the model may take (default: this machine's, see memoryLimitBytes). */
  readonly memoryLimitBytes?: number;
}

/**
 * A new model for a config (the family is chosen by config.arch). A model larger than
 * the memory limit is refused before anything is allocated.
 *
 * @example
 * const model = createModel(gpt2Preset({ vocabSize: 65, nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64 }), { seed: 1337 });
 */
export function createModel(config: DecoderConfig, options?: CreateModelOptions): DecoderLM;
export function createModel(config: BertConfig, options?: CreateModelOptions): BertModel;
export function createModel(config: MarianConfig, options?: CreateModelOptions): MarianMTModel;
export function createModel(config: RnnConfig, options?: CreateModelOptions): RnnLM;
export function createModel(config: ModelConfig, options?: CreateModelOptions): LanguageModel;
export function createModel(config: ModelConfig, options: CreateModelOptions = {}): LanguageModel {
  const family = familyOf(config.arch, 'createModel: arch');
  checkSizeFits(family.size(config), options.where ?? 'createModel', options.memoryLimitBytes);
  return family.create(config, { init: options.init ?? 'random', seed: options.seed ?? 0 });
}
