/**
 * GenerationConfig: how a model is asked to generate, as one readonly, resolved object
 * with camelCase fields, and its defaults, written once (nanoGPT's sample.py: sampling at
 * temperature 0.8 from the 200 most probable tokens, 200 new tokens). Hugging Face's
 * `generation_config.json` names (`max_new_tokens`, `do_sample`, `eos_token_id`, ...)
 * appear only in generationConfigFromHf / generationConfigToHf, the file boundary.
 *
 * Reading a file: every field it gives is validated (one ConfigError listing each bad
 * field by its HF name); a field it leaves out takes lmforge's default below, so a folder
 * with no `do_sample` samples as lmforge always has (HF's own default is greedy). HF
 * fields that do not change what lmforge generates (transformers_version, use_cache,
 * pad_token_id, max_length, ...) are accepted and not kept; fields that would ask for
 * something lmforge does not do (beam search) are rejected, never ignored.
 *
 * Which ids end generation (eosIdsFor): the config's eosTokenIds when it has them (from
 * generation_config.json's eos_token_id), else tokenizer_config.json's eos_token, else the
 * tokenizer's EOS (its post-processor's last added token, or, when nothing says, the
 * first of the usual EOS names it has).
 */
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { validateSampling, type Sampling } from './sampling.js';
import { jsonText } from '../util/preview.js';

export interface GenerationConfig {
  /** Tokens to generate at most (>= 1). */
  readonly maxNewTokens: number;
  readonly sampling: Sampling;
  /** CTRL repetition penalty over prompt and output ids (1 = none). */
  readonly repetitionPenalty: number;
  /** Strings that end generation; they are not part of the output. */
  readonly stop: readonly string[];
  /** Ids that end generation; null: the tokenizer's (see eosIdsFor). */
  readonly eosTokenIds: readonly number[] | null;
  /** The id a prompt may start with; null: the tokenizer's. */
  readonly bosTokenId: number | null;
  /** Seed of the sampling Rng. */
  readonly seed: number;
}

/** THE defaults: the CLI, generation_config.json reading and the trainer all start from these. */
export const defaultGenerationConfig: GenerationConfig = Object.freeze({
  maxNewTokens: 200,
  sampling: Object.freeze({ kind: 'sample', temperature: 0.8, topK: 200 }),
  repetitionPenalty: 1,
  stop: Object.freeze([]),
  eosTokenIds: null,
  bosTokenId: null,
  seed: 0,
});

/** Fields an HF generation_config.json may hold that change nothing lmforge generates. */
const inertFields = new Set([
  'transformers_version',
  '_from_model_config',
  'use_cache',
  'pad_token_id',
  'max_length',
  'num_return_sequences',
  'output_scores',
  'return_dict_in_generate',
]);

/**
 * The config a generation_config.json object describes, over `base` (default
 * defaultGenerationConfig) for what it leaves out. Errors name `where` (the file) and
 * every bad field by its HF name.
 *
 * @example
 * const config = generationConfigFromHf({ do_sample: true, temperature: 0.7, top_p: 0.9, eos_token_id: [2, 32000] });
 */
export function generationConfigFromHf(
  json: unknown,
  where = 'generation_config.json',
  base: GenerationConfig = defaultGenerationConfig,
): GenerationConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError('generation config is not a JSON object', { where, actual: jsonText(json) });
  }
  const c = json as Readonly<Record<string, unknown>>;
  const problems: string[] = [];
  const bad = (field: string, expected: string): undefined => {
    problems.push(`${field}: expected ${expected}, got ${jsonText(c[field])}`);
    return undefined;
  };
  const number = (field: string, ok: (v: number) => boolean, expected: string): number | undefined => {
    const value = c[field];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'number' && Number.isFinite(value) && ok(value) ? value : bad(field, expected);
  };
  const id = (v: number): boolean => Number.isInteger(v) && v >= 0;
  const known = new Set([
    'max_new_tokens',
    'do_sample',
    'temperature',
    'top_k',
    'top_p',
    'repetition_penalty',
    'stop_strings',
    'eos_token_id',
    'bos_token_id',
    'num_beams',
    'lmforge_seed',
  ]);
  for (const field of Object.keys(c)) {
    if (!known.has(field) && !inertFields.has(field)) problems.push(`${field}: not supported by lmforge`);
  }
  const maxNewTokens = number('max_new_tokens', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1');
  const rawDoSample = c['do_sample'];
  const doSample = typeof rawDoSample === 'boolean' ? rawDoSample : undefined;
  if (rawDoSample !== undefined && doSample === undefined) bad('do_sample', 'true or false');
  const temperature = number('temperature', (v) => v >= 0, 'a number >= 0 (0 is greedy)');
  // HF: top_k 0 and top_p 1 disable the filter.
  const topK = number('top_k', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0 (0 keeps every id)');
  const topP = number('top_p', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const repetitionPenalty = number('repetition_penalty', (v) => v > 0, 'a number > 0 (1 is none)');
  const seed = number('lmforge_seed', (v) => Number.isSafeInteger(v), 'an integer');
  const bosTokenId = number('bos_token_id', id, 'a token id (an integer >= 0)');
  let eosTokenIds: readonly number[] | undefined;
  const eos = c['eos_token_id'];
  if (typeof eos === 'number' && id(eos)) eosTokenIds = [eos];
  else if (Array.isArray(eos) && eos.every((v) => typeof v === 'number' && id(v)))
    eosTokenIds = eos as number[];
  else if (eos !== undefined && eos !== null) bad('eos_token_id', 'a token id or a list of them');
  let stop: readonly string[] | undefined;
  const stopStrings = c['stop_strings'];
  if (typeof stopStrings === 'string') stop = [stopStrings];
  else if (Array.isArray(stopStrings) && stopStrings.every((v) => typeof v === 'string')) stop = stopStrings;
  else if (stopStrings !== undefined && stopStrings !== null)
    bad('stop_strings', 'a string or a list of strings');
  if (c['num_beams'] !== undefined && c['num_beams'] !== 1)
    bad('num_beams', '1 (beam search is not supported yet)');
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }

  const baseSample = base.sampling.kind === 'sample' ? base.sampling : defaultSample;
  const sampleTemperature = temperature ?? baseSample.temperature;
  let sampling: Sampling = { kind: 'greedy' };
  // Temperature 0 is greedy, as the CLI's --temperature 0.
  if ((doSample ?? base.sampling.kind === 'sample') && sampleTemperature > 0) {
    const k = topK === undefined ? baseSample.topK : topK === 0 ? undefined : topK;
    const p = topP === undefined ? baseSample.topP : topP === 1 ? undefined : topP;
    sampling = {
      kind: 'sample',
      temperature: sampleTemperature,
      ...(k === undefined ? {} : { topK: k }),
      ...(p === undefined ? {} : { topP: p }),
    };
  }
  return Object.freeze({
    maxNewTokens: maxNewTokens ?? base.maxNewTokens,
    sampling: Object.freeze(sampling),
    repetitionPenalty: repetitionPenalty ?? base.repetitionPenalty,
    stop: Object.freeze(stop ?? base.stop),
    eosTokenIds: eosTokenIds === undefined ? base.eosTokenIds : Object.freeze([...eosTokenIds]),
    bosTokenId: bosTokenId ?? base.bosTokenId,
    seed: seed ?? base.seed,
  });
}

const defaultSample = defaultGenerationConfig.sampling as Extract<Sampling, { kind: 'sample' }>;

/**
 * The generation_config.json object for `config` (HF names; fromHf(toHf(c)) equals c).
 * The seed, which HF does not record, is written as lmforge_seed when it is not 0.
 */
export function generationConfigToHf(config: GenerationConfig): Record<string, unknown> {
  const s = config.sampling;
  const eos = config.eosTokenIds;
  return {
    ...(config.bosTokenId === null ? {} : { bos_token_id: config.bosTokenId }),
    ...(eos === null ? {} : { eos_token_id: eos.length === 1 ? eos[0] : [...eos] }),
    max_new_tokens: config.maxNewTokens,
    do_sample: s.kind === 'sample',
    ...(s.kind === 'sample'
      ? { temperature: s.temperature, top_k: s.topK ?? 0, ...(s.topP === undefined ? {} : { top_p: s.topP }) }
      : {}),
    ...(config.repetitionPenalty === 1 ? {} : { repetition_penalty: config.repetitionPenalty }),
    ...(config.stop.length === 0 ? {} : { stop_strings: [...config.stop] }),
    ...(config.seed === 0 ? {} : { lmforge_seed: config.seed }),
  };
}

/**
 * A GenerationConfig from camelCase overrides over `base`, every field checked (one
 * ConfigError listing each bad one).
 *
 * @example
 * const config = resolveGenerationConfig({ maxNewTokens: 50, sampling: { kind: 'greedy' } });
 */
export function resolveGenerationConfig(
  overrides: Partial<GenerationConfig>,
  where = 'GenerationConfig',
  base: GenerationConfig = defaultGenerationConfig,
): GenerationConfig {
  const config = { ...base, ...overrides };
  const problems: string[] = [];
  if (!(Number.isInteger(config.maxNewTokens) && config.maxNewTokens >= 1)) {
    problems.push(`maxNewTokens: expected an integer >= 1, got ${config.maxNewTokens}`);
  }
  if (!Number.isSafeInteger(config.seed)) problems.push(`seed: expected an integer, got ${config.seed}`);
  const isId = (v: number): boolean => Number.isInteger(v) && v >= 0;
  if (config.eosTokenIds !== null && !config.eosTokenIds.every(isId)) {
    problems.push(`eosTokenIds: expected token ids, got [${config.eosTokenIds.join(', ')}]`);
  }
  if (config.bosTokenId !== null && !isId(config.bosTokenId)) {
    problems.push(`bosTokenId: expected a token id, got ${config.bosTokenId}`);
  }
  try {
    validateSampling(config.sampling, config.repetitionPenalty);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(String(error.actual));
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
  return Object.freeze({ ...config, stop: Object.freeze([...config.stop]) });
}

/**
 * The content of a special token a tokenizer_config.json names (`bos_token`, `eos_token`,
 * ...): a string, or an added-token object with `content`; undefined when it names none.
 */
export function tokenizerConfigToken(json: unknown, field: string): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const token = (json as Record<string, unknown>)[field];
  const content =
    typeof token === 'string'
      ? token
      : typeof token === 'object' && token !== null
        ? (token as { content?: unknown }).content
        : undefined;
  return typeof content === 'string' ? content : undefined;
}

/**
 * tokenizer_config.json's `eos_token` (a string, or an added-token object with `content`)
 * as an id of `tokenizer`; undefined when the file names none. A token the tokenizer does
 * not have is a ConfigError naming the file.
 */
export function eosIdFromTokenizerConfig(
  json: unknown,
  tokenizer: Tokenizer,
  where = 'tokenizer_config.json',
): number | undefined {
  const content = tokenizerConfigToken(json, 'eos_token');
  if (content === undefined) return undefined;
  const id = tokenizer.specialTokens.get(content) ?? tokenizer.tokenToId(content);
  if (id === undefined) {
    throw new ConfigError('eos_token is not a token of tokenizer.json', {
      where: `${where}: eos_token`,
      actual: jsonText(content),
    });
  }
  return id;
}

/**
 * The ids that end generation, by precedence: the config's eosTokenIds (from
 * generation_config.json), tokenizer_config.json's eos_token, the tokenizer's EOS (see
 * the file header); [] when none says.
 */
export function eosIdsFor(
  config: Pick<GenerationConfig, 'eosTokenIds'>,
  tokenizer: Tokenizer,
  tokenizerConfigEos?: number,
): readonly number[] {
  if (config.eosTokenIds !== null) return config.eosTokenIds;
  const id = tokenizerConfigEos ?? tokenizer.eosId;
  return id === undefined ? [] : [id];
}
