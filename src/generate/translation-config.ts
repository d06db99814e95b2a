/**
 * TranslationConfig: how an encoder-decoder model (Marian) decodes, resolved once from its
 * generation_config.json with Hugging Face generate's semantics, over the defaults HF takes
 * from the model's config.json (decoder_start_token_id, eos/pad/forced_eos_token_id) and HF
 * GenerationConfig's own defaults for the rest: greedy (num_beams 1, do_sample false),
 * length_penalty 1, early_stopping false, max_length 20 (the decoder start counted, so 19
 * new ids) unless max_new_tokens says otherwise. Helsinki-NLP's Marian folders set num_beams 4,
 * max_length 512 and bad_words_ids [[pad]].
 *
 * This is the seq2seq counterpart of generation-config.ts's GenerationConfig (decoder-only
 * text generation, with lmforge's sampling defaults): HF names live only in
 * translationConfigFromHf / translationConfigToHf, and a field that asks for what the
 * searches here do not do (beam sampling, diverse beams, renormalized beam scores) is an
 * error naming it, never ignored.
 */
import type { EncoderDecoderModel } from '../models/index.js';
import { ConfigError } from '../util/errors.js';
import type { Sampling } from './sampling.js';
import { jsonText } from '../util/preview.js';

export interface TranslationConfig {
  /** Ids to generate at most, EOS included (>= 1). */
  readonly maxNewTokens: number;
  /** EOS is banned before this many ids. */
  readonly minNewTokens: number;
  /** 1: greedy (or sampling); more: beam search. */
  readonly numBeams: number;
  readonly lengthPenalty: number;
  readonly earlyStopping: boolean | 'never';
  /** Hypotheses returned per input, best first (<= numBeams). */
  readonly numReturnSequences: number;
  readonly noRepeatNgramSize: number;
  readonly repetitionPenalty: number;
  readonly decoderStartTokenId: number;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number;
  readonly forcedEosTokenId: number | null;
  readonly badWordsIds: readonly (readonly number[])[];
  /** Greedy unless do_sample (numBeams 1 only). */
  readonly sampling: Sampling;
  readonly seed: number;
}

/** What HF takes from config.json when generation_config.json leaves a field out. */
export type TranslationDefaults = Pick<
  EncoderDecoderModel,
  'decoderStartTokenId' | 'padTokenId' | 'eosTokenId' | 'forcedEosTokenId'
>;

/** HF GenerationConfig's defaults over the model's ids. */
export function defaultTranslationConfig(model: TranslationDefaults): TranslationConfig {
  return Object.freeze({
    maxNewTokens: 19, // HF max_length 20, the decoder start counted
    minNewTokens: 0,
    numBeams: 1,
    lengthPenalty: 1,
    earlyStopping: false,
    numReturnSequences: 1,
    noRepeatNgramSize: 0,
    repetitionPenalty: 1,
    decoderStartTokenId: model.decoderStartTokenId,
    eosTokenIds: Object.freeze([model.eosTokenId]),
    padTokenId: model.padTokenId,
    forcedEosTokenId: model.forcedEosTokenId,
    badWordsIds: Object.freeze([]),
    sampling: Object.freeze({ kind: 'greedy' }),
    seed: 0,
  });
}

/** Fields that change nothing decoding does here. */
const inertFields = new Set([
  'transformers_version',
  '_from_model_config',
  'use_cache',
  'bos_token_id',
  'output_scores',
  'return_dict_in_generate',
]);

const knownFields = new Set([
  'max_new_tokens',
  'max_length',
  'min_new_tokens',
  'min_length',
  'num_beams',
  'length_penalty',
  'early_stopping',
  'num_return_sequences',
  'no_repeat_ngram_size',
  'repetition_penalty',
  'decoder_start_token_id',
  'eos_token_id',
  'pad_token_id',
  'forced_eos_token_id',
  'bad_words_ids',
  'do_sample',
  'temperature',
  'top_k',
  'top_p',
  'lmforge_seed',
  // Accepted at their HF defaults only (checked below).
  'renormalize_logits',
  'num_beam_groups',
  'diversity_penalty',
  'forced_bos_token_id',
]);

/**
 * The config generation_config.json describes (HF names), over `defaultTranslationConfig`
 * of the model for what it leaves out. Errors name `where` and every bad field.
 *
 * @example
 * const config = translationConfigFromHf({ num_beams: 4, max_length: 512, bad_words_ids: [[58100]] }, model);
 */
export function translationConfigFromHf(
  json: unknown,
  model: TranslationDefaults,
  where = 'generation_config.json',
): TranslationConfig {
  const base = defaultTranslationConfig(model);
  if (json === null || json === undefined) return base;
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError('generation config is not a JSON object', { where, actual: jsonText(json) });
  }
  const c = json as Readonly<Record<string, unknown>>;
  const problems: string[] = [];
  const bad = (field: string, expected: string): undefined => {
    problems.push(`${field}: expected ${expected}, got ${jsonText(c[field])}`);
    return undefined;
  };
  for (const field of Object.keys(c)) {
    if (!knownFields.has(field) && !inertFields.has(field))
      problems.push(`${field}: not supported by lmforge`);
  }
  const number = (field: string, ok: (v: number) => boolean, expected: string): number | undefined => {
    const value = c[field];
    if (value === undefined || value === null) return undefined;
    return typeof value === 'number' && Number.isFinite(value) && ok(value) ? value : bad(field, expected);
  };
  const int = (min: number) => (v: number) => Number.isInteger(v) && v >= min;
  const idOrNull = (field: string): number | null | undefined => {
    const value = c[field];
    if (value === undefined) return undefined;
    if (value === null) return null;
    return typeof value === 'number' && int(0)(value) ? value : bad(field, 'a token id or null');
  };
  // The length: max_new_tokens, else max_length counting the decoder start.
  const maxNewTokens = number('max_new_tokens', int(1), 'an integer >= 1');
  const maxLength = number('max_length', int(2), 'an integer >= 2 (the decoder start counts)');
  const minNewTokens = number('min_new_tokens', int(0), 'an integer >= 0');
  const minLength = number('min_length', int(0), 'an integer >= 0');
  const numBeams = number('num_beams', int(1), 'an integer >= 1');
  const lengthPenalty = number('length_penalty', () => true, 'a number');
  const numReturnSequences = number('num_return_sequences', int(1), 'an integer >= 1');
  const noRepeatNgramSize = number('no_repeat_ngram_size', int(0), 'an integer >= 0');
  const repetitionPenalty = number('repetition_penalty', (v) => v > 0, 'a number > 0 (1 is none)');
  const temperature = number('temperature', (v) => v > 0, 'a number > 0');
  const topK = number('top_k', int(0), 'an integer >= 0 (0 keeps every id)');
  const topP = number('top_p', (v) => v > 0 && v <= 1, 'a number in (0, 1]');
  const seed = number('lmforge_seed', (v) => Number.isSafeInteger(v), 'an integer');
  const decoderStart = idOrNull('decoder_start_token_id');
  if (decoderStart === null) bad('decoder_start_token_id', 'a token id');
  const pad = idOrNull('pad_token_id');
  const forcedEos = idOrNull('forced_eos_token_id');
  let eosTokenIds: readonly number[] | undefined;
  const eos = c['eos_token_id'];
  if (typeof eos === 'number' && int(0)(eos)) eosTokenIds = [eos];
  else if (Array.isArray(eos) && eos.length > 0 && eos.every((v) => typeof v === 'number' && int(0)(v)))
    eosTokenIds = eos as number[];
  else if (eos !== undefined && eos !== null) bad('eos_token_id', 'a token id or a non-empty list of them');
  let badWordsIds: readonly (readonly number[])[] | undefined;
  const badWords = c['bad_words_ids'];
  const isIds = (v: unknown): v is number[] =>
    Array.isArray(v) && v.length > 0 && v.every((id) => typeof id === 'number' && int(0)(id));
  if (Array.isArray(badWords) && badWords.every(isIds)) badWordsIds = badWords;
  else if (badWords !== undefined && badWords !== null) bad('bad_words_ids', 'a list of non-empty id lists');
  const earlyStopping = c['early_stopping'];
  if (
    earlyStopping !== undefined &&
    earlyStopping !== true &&
    earlyStopping !== false &&
    earlyStopping !== 'never'
  ) {
    bad('early_stopping', "true, false or 'never'");
  }
  const doSample = c['do_sample'];
  if (doSample !== undefined && typeof doSample !== 'boolean') bad('do_sample', 'true or false');
  const beams = numBeams ?? base.numBeams;
  if (doSample === true && beams > 1)
    problems.push('do_sample: beam sampling (do_sample with num_beams > 1) is not supported');
  for (const [field, neutral] of [
    ['renormalize_logits', false],
    ['num_beam_groups', 1],
    ['diversity_penalty', 0],
    ['forced_bos_token_id', null],
  ] as const) {
    if (c[field] !== undefined && c[field] !== neutral) {
      problems.push(
        `${field}: not supported by lmforge (only ${jsonText(neutral)}), got ${jsonText(c[field])}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
  const sampling: Sampling =
    doSample === true
      ? {
          kind: 'sample',
          temperature: temperature ?? 1,
          ...(topK === undefined ? { topK: 50 } : topK === 0 ? {} : { topK }),
          ...(topP === undefined || topP === 1 ? {} : { topP }),
        }
      : base.sampling;
  return resolveTranslationConfig(
    {
      maxNewTokens: maxNewTokens ?? (maxLength === undefined ? base.maxNewTokens : maxLength - 1),
      minNewTokens:
        minNewTokens ?? (minLength === undefined ? base.minNewTokens : Math.max(0, minLength - 1)),
      numBeams: beams,
      lengthPenalty: lengthPenalty ?? base.lengthPenalty,
      earlyStopping: (earlyStopping as boolean | 'never' | undefined) ?? base.earlyStopping,
      numReturnSequences: numReturnSequences ?? base.numReturnSequences,
      noRepeatNgramSize: noRepeatNgramSize ?? base.noRepeatNgramSize,
      repetitionPenalty: repetitionPenalty ?? base.repetitionPenalty,
      decoderStartTokenId: decoderStart ?? base.decoderStartTokenId,
      eosTokenIds: eosTokenIds ?? base.eosTokenIds,
      padTokenId: pad ?? base.padTokenId,
      forcedEosTokenId: forcedEos === undefined ? base.forcedEosTokenId : forcedEos,
      badWordsIds: badWordsIds ?? base.badWordsIds,
      sampling,
      seed: seed ?? base.seed,
    },
    where,
  );
}

/**
 * A TranslationConfig from camelCase fields (overrides over `base`), every field checked:
 * one ConfigError listing each bad one.
 *
 * @example
 * const beam5 = resolveTranslationConfig({ ...config, numBeams: 5, numReturnSequences: 3 });
 */
export function resolveTranslationConfig(
  config: TranslationConfig,
  where = 'TranslationConfig',
): TranslationConfig {
  const problems: string[] = [];
  const int = (name: keyof TranslationConfig, min: number): void => {
    const value = config[name] as number;
    if (!(Number.isSafeInteger(value) && value >= min))
      problems.push(`${name}: expected an integer >= ${min}, got ${value}`);
  };
  int('maxNewTokens', 1);
  int('minNewTokens', 0);
  int('numBeams', 1);
  int('numReturnSequences', 1);
  int('noRepeatNgramSize', 0);
  if (config.numReturnSequences > config.numBeams) {
    problems.push(
      `numReturnSequences: at most numBeams ${config.numBeams} hypotheses exist, got ${config.numReturnSequences}`,
    );
  }
  if (!Number.isFinite(config.lengthPenalty))
    problems.push(`lengthPenalty: expected a number, got ${config.lengthPenalty}`);
  if (config.sampling.kind === 'sample' && config.numBeams > 1) {
    problems.push('sampling: beam sampling (sampling with numBeams > 1) is not supported');
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
  return Object.freeze({ ...config });
}

/**
 * The generation_config.json object for `config` (HF names; translationConfigFromHf of it
 * gives `config` back). forced_eos_token_id is written even when null, since HF would take
 * config.json's otherwise.
 */
export function translationConfigToHf(config: TranslationConfig): Record<string, unknown> {
  const s = config.sampling;
  const eos = config.eosTokenIds;
  return {
    decoder_start_token_id: config.decoderStartTokenId,
    eos_token_id: eos.length === 1 ? eos[0] : [...eos],
    pad_token_id: config.padTokenId,
    forced_eos_token_id: config.forcedEosTokenId,
    ...(config.badWordsIds.length === 0 ? {} : { bad_words_ids: config.badWordsIds.map((ids) => [...ids]) }),
    max_new_tokens: config.maxNewTokens,
    ...(config.minNewTokens === 0 ? {} : { min_new_tokens: config.minNewTokens }),
    num_beams: config.numBeams,
    length_penalty: config.lengthPenalty,
    early_stopping: config.earlyStopping,
    ...(config.numReturnSequences === 1 ? {} : { num_return_sequences: config.numReturnSequences }),
    ...(config.noRepeatNgramSize === 0 ? {} : { no_repeat_ngram_size: config.noRepeatNgramSize }),
    ...(config.repetitionPenalty === 1 ? {} : { repetition_penalty: config.repetitionPenalty }),
    do_sample: s.kind === 'sample',
    ...(s.kind === 'sample'
      ? { temperature: s.temperature, top_k: s.topK ?? 0, ...(s.topP === undefined ? {} : { top_p: s.topP }) }
      : {}),
    ...(config.seed === 0 ? {} : { lmforge_seed: config.seed }),
  };
}
