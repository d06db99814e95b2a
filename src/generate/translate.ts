/**
 * Translation with an encoder-decoder model: token-id sources in, each one's best
 * hypotheses (decoded ids and scores) out, as HF's `model.generate(input_ids,
 * attention_mask)` decodes them under a TranslationConfig: greedy or sampled decoding
 * (decodeBatch) with numBeams 1, beam search (beamSearch) otherwise.
 *
 * Sources are sorted by length and cut into batches of `batchSize` (so a batch holds
 * similar lengths and little padding), right-padded with the pad id and masked as HF's
 * tokenizer pads them; the encoder runs once per batch, and the results come back in input
 * order. A sentence decodes as it would alone: the padding is masked everywhere.
 *
 * Legend: B sentences of a batch, S source positions.
 */
import { Tensor, keep, noGrad, scope } from '../tensor/index.js';
import type { EncoderDecoderModel, EncoderOutput } from '../models/index.js';
import { ConfigError } from '../util/errors.js';
import { decodeBatch, type DecodedSequence } from './batch-decode.js';
import { beamSearch } from './beam.js';
import type { TranslationConfig } from './translation-config.js';

export interface TranslateOptions {
  /** Sentences per encoder/decoder batch (default 16). */
  readonly batchSize?: number;
  /** Names source i in errors (default `sources[i]`): the CLI passes file:line. */
  readonly where?: (index: number) => string;
  /** Aborting ends each search after its current step. */
  readonly signal?: AbortSignal;
}

/**
 * The numReturnSequences best hypotheses of each source (ids without the decoder start,
 * ending in EOS when decoding stopped on it), best first, in input order.
 *
 * @example
 * const ids = sources.map((text) => tokenizer.encode(text)); // the tokenizer appends </s>
 * const [[best]] = await translateIds(model, ids, config);
 * tokenizer.decode([...best.ids], { skipSpecialTokens: true });
 */
export async function translateIds(
  model: EncoderDecoderModel,
  sources: readonly (readonly number[])[],
  config: TranslationConfig,
  options: TranslateOptions = {},
): Promise<DecodedSequence[][]> {
  const batchSize = options.batchSize ?? 16;
  const where = options.where ?? ((i: number) => `sources[${i}]`);
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new ConfigError('batchSize must be an integer >= 1', { where: 'translateIds', actual: batchSize });
  }
  sources.forEach((ids, i) => checkSource(model, ids, where(i)));
  const order = sources.map((_, i) => i).sort((a, b) => sources[a]!.length - sources[b]!.length);
  const results = new Array<DecodedSequence[]>(sources.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const batch = order.slice(start, start + batchSize);
    const encoderOutput = encodeBatch(
      model,
      batch.map((i) => sources[i]!),
    );
    try {
      const decoded = await decode(model, encoderOutput, config, options.signal);
      batch.forEach((i, b) => (results[i] = decoded[b]!));
    } finally {
      encoderOutput.hiddenStates.dispose();
      encoderOutput.keys?.dispose();
    }
  }
  return results;
}

/** One source: non-empty, ids of the source vocabulary, within the encoder's positions. */
function checkSource(model: EncoderDecoderModel, ids: readonly number[], where: string): void {
  if (ids.length === 0) throw new ConfigError('the source is empty', { where });
  if (ids.length > model.maxPositions) {
    throw new ConfigError("the source is longer than the model's positions", {
      where,
      expected: `at most ${model.maxPositions} ids (max_position_embeddings), EOS included`,
      actual: `${ids.length} ids`,
      hint: 'shorten or split the input',
    });
  }
  const bad = ids.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < model.sourceVocabSize));
  if (bad >= 0) {
    throw new ConfigError('a source id is outside the model vocabulary', {
      where: `${where}[${bad}]`,
      expected: `[0, ${model.sourceVocabSize})`,
      actual: ids[bad],
    });
  }
}

/**
 * The encoder output of right-padded sources (B, S), kept out of every scope (the decoding
 * that reads it outlives the caller's synchronous scope): the caller disposes it.
 */
function encodeBatch(model: EncoderDecoderModel, sources: readonly (readonly number[])[]): EncoderOutput {
  const B = sources.length;
  const S = Math.max(...sources.map((s) => s.length));
  const ids = new Int32Array(B * S).fill(model.padTokenId);
  const mask = new Int32Array(B * S);
  sources.forEach((source, b) => {
    ids.set(source, b * S);
    mask.fill(1, b * S, b * S + source.length);
  });
  const output = scope(() =>
    noGrad(() => {
      const sourceMask = Tensor.fromArray(mask, [B, S]); // (B, S)
      return model.encode(Tensor.fromArray(ids, [B, S]), { sourceMask, mode: 'eval' }); // (B, S, C)
    }),
  );
  keep(output.hiddenStates);
  if (output.keys !== undefined) keep(output.keys);
  return output;
}

async function decode(
  model: EncoderDecoderModel,
  encoderOutput: EncoderOutput,
  config: TranslationConfig,
  signal: AbortSignal | undefined,
): Promise<DecodedSequence[][]> {
  const source = { kind: 'encoder', encoderOutput, decoderStartTokenId: config.decoderStartTokenId } as const;
  const search = {
    maxNewTokens: config.maxNewTokens,
    minNewTokens: config.minNewTokens,
    eosTokenIds: config.eosTokenIds,
    padTokenId: config.padTokenId,
    forcedEosTokenId: config.forcedEosTokenId,
    noRepeatNgramSize: config.noRepeatNgramSize,
    badWordsIds: config.badWordsIds,
    repetitionPenalty: config.repetitionPenalty,
    ...(signal === undefined ? {} : { signal }),
  };
  if (config.numBeams === 1) {
    const decoded = await decodeBatch(model, source, {
      ...search,
      sampling: config.sampling,
      seed: config.seed,
    });
    return decoded.map((sequence) => [sequence]);
  }
  return beamSearch(model, source, {
    ...search,
    numBeams: config.numBeams,
    lengthPenalty: config.lengthPenalty,
    earlyStopping: config.earlyStopping,
    numReturnSequences: config.numReturnSequences,
  });
}
