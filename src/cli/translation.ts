/**
 * What `translate` and `eval --pairs` share: loading an encoder-decoder folder with its
 * tokenizer and decoding settings (the folder's generation_config.json read as HF generate
 * reads it, then --beam, --n-best and --max-tokens), and encoding source texts exactly as
 * `lmforge tokenize --tokenizer DIR` does (the tokenizer's post-processor appends </s>).
 */
import { join } from 'node:path';
import {
  resolveTranslationConfig,
  translateIds,
  translationConfigFromHf,
  type TranslationConfig,
} from '../generate/index.js';
import { generationConfigFileName, isEncoderDecoder, type EncoderDecoderModel } from '../models/index.js';
import { UnknownCharacters, type Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { loadModelWithTokenizer } from './load-model.js';
import { warnUnknownCharacters } from './unknown-characters.js';

/** The decoding flags of translate and eval. */
export interface DecodingFlags {
  readonly beam?: number | undefined;
  readonly nBest?: number | undefined;
  readonly maxTokens?: number | undefined;
}

export interface Translator {
  readonly model: EncoderDecoderModel;
  readonly tokenizer: Tokenizer;
  readonly config: TranslationConfig;
}

/**
 * An encoder-decoder folder ready to translate; a folder of another kind is a ConfigError
 * naming it (decoders generate, they do not translate).
 */
export async function loadTranslator(
  dir: string,
  flags: DecodingFlags,
  command: string,
): Promise<Translator> {
  const { model, tokenizer, generationConfig } = await loadModelWithTokenizer(dir);
  try {
    if (!isEncoderDecoder(model)) {
      throw new ConfigError(`${command} needs an encoder-decoder model folder`, {
        where: dir,
        expected: 'a sequence-to-sequence model (model_type marian)',
        actual: `a ${model.family} ${model.kind}`,
        hint:
          command === 'translate'
            ? 'continue text with a decoder by `lmforge generate`'
            : 'evaluate a decoder with --data',
      });
    }
    const file = translationConfigFromHf(generationConfig, model, join(dir, generationConfigFileName));
    const numBeams = flags.beam ?? file.numBeams;
    if (flags.nBest !== undefined && flags.nBest > numBeams) {
      throw new ConfigError('more hypotheses asked for than beams', {
        where: '--n-best',
        expected: `at most --beam ${numBeams}${flags.beam === undefined ? ' (num_beams of generation_config.json)' : ''}`,
        actual: flags.nBest,
      });
    }
    const config = resolveTranslationConfig(
      {
        ...file,
        numBeams,
        numReturnSequences: flags.nBest ?? Math.min(file.numReturnSequences, numBeams),
        ...(flags.maxTokens === undefined ? {} : { maxNewTokens: flags.maxTokens }),
      },
      command,
    );
    if (config.maxNewTokens + 1 > model.maxPositions) {
      throw new ConfigError("more tokens asked for than the decoder's positions hold", {
        where: flags.maxTokens === undefined ? join(dir, generationConfigFileName) : '--max-tokens',
        expected: `at most ${model.maxPositions - 1} (max_position_embeddings ${model.maxPositions}, the decoder start included)`,
        actual: config.maxNewTokens,
      });
    }
    return { model, tokenizer, config };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** The ids of each source text, as `lmforge tokenize --tokenizer DIR` encodes it; warns about dropped characters. */
export function encodeSources(tokenizer: Tokenizer, texts: readonly string[], of: string): number[][] {
  const unknown = new UnknownCharacters();
  const ids = texts.map((text) => tokenizer.encode(text, { unknown }));
  warnUnknownCharacters(unknown, of);
  return ids;
}

export interface Translation {
  readonly translation: string;
  readonly ids: readonly number[];
  readonly score: number;
  readonly finishReason: string;
}

/** Each source's hypotheses (best first), decoded to text without special tokens. */
export async function translateTexts(
  translator: Translator,
  sources: readonly (readonly number[])[],
  where: (index: number) => string,
  batchSize: number,
): Promise<Translation[][]> {
  const { model, tokenizer, config } = translator;
  const decoded = await translateIds(model, sources, config, { where, batchSize });
  return decoded.map((hypotheses) =>
    hypotheses.map((h) => ({
      translation: tokenizer.decode([...h.ids], { skipSpecialTokens: true }),
      ids: h.ids,
      score: h.score,
      finishReason: h.finishReason,
    })),
  );
}
