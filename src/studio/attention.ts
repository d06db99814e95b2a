/**
 * The attention view's data: the model's own attention probabilities, every layer and head,
 * as one `forward(..., { attentions: true })` returns them (the composed attention path).
 * A decoder or encoder gives one set, `self`, over a text. An encoder-decoder (Marian) gives
 * three over a source and a target: `encoder` (S x S), `decoder` (T x T, causal) and `cross`
 * (T x S: target queries over source keys), from one teacher-forced forward as HF's
 * `model(input_ids, decoder_input_ids=..., output_attentions=True)`; without a target the
 * source is translated first (translateIds under the folder's TranslationConfig).
 *
 * The decoder's inputs are the decoder start id, then the target's ids; a final EOS is not an
 * input (decoding stops once it is produced), so row i is the query that predicts target id i.
 *
 * Legend: L layers, nH heads, T target (or text) tokens, S source tokens.
 */
import { isEncoderDecoder, type EncoderDecoderModel, type LanguageModel } from '../models/index.js';
import { translateIds, translationConfigFromHf, type TranslationConfig } from '../generate/index.js';
import { Tensor, contiguous, noGrad, scope } from '../tensor/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import type { AttentionKind } from './api-types.js';
import { tokenPieces } from './pieces.js';

export interface AttentionSet {
  readonly kind: AttentionKind;
  /** Queries (rows) and keys (columns) of every map. */
  readonly rows: number;
  readonly cols: number;
  readonly heads: number;
  /** layers[l]: (nH, rows, cols) row-major; row i the attention of query i. */
  readonly layers: readonly Float32Array[];
}

export interface TokenText {
  /** The ids, as `lmforge tokenize` gives them for the text. */
  readonly tokens: readonly number[];
  readonly pieces: readonly string[];
}

export interface AttentionMaps extends TokenText {
  /** Encoder-decoders: the source (the keys of `encoder` and `cross`); null otherwise. */
  readonly source: TokenText | null;
  /** Decoders and encoders: [self]; encoder-decoders: [encoder, decoder, cross]. */
  readonly sets: readonly AttentionSet[];
}

/** The (rows, cols) map of layer l, head h of a set: a view, not a copy. */
export function attentionHead(set: AttentionSet, layer: number, head: number): Float32Array {
  const size = set.rows * set.cols;
  return set.layers[layer]!.subarray(head * size, (head + 1) * size);
}

function checkLength(ids: readonly number[], max: number, where: string): void {
  if (ids.length === 0) throw new ConfigError('the text has no tokens', { where });
  if (ids.length > max) {
    throw new ConfigError('the text is longer than the model context', {
      where,
      expected: `at most ${max} tokens`,
      actual: `${ids.length} tokens`,
    });
  }
}

/** Each (1, nH, rows, cols) tensor's values, copied once out of the scope. */
function setOf(kind: AttentionKind, tensors: readonly Tensor[] | undefined, where: string): AttentionSet {
  if (tensors === undefined || tensors.length === 0) {
    throw new ConfigError('the model returned no attention probabilities', { where, actual: kind });
  }
  const [, heads, rows, cols] = tensors[0]!.shape as [number, number, number, number];
  return { kind, rows, cols, heads, layers: tensors.map((t) => Float32Array.from(contiguous(t).floats())) };
}

/**
 * A decoder's or encoder's self-attention over `text`.
 *
 * @example
 * const maps = attentionMaps(model, tokenizer, 'the cat sat');
 * attentionHead(maps.sets[0], 0, 1)[2 * T + 1]; // layer 0, head 1: query 2 attending key 1
 */
export function attentionMaps(model: LanguageModel, tokenizer: Tokenizer, text: string): AttentionMaps {
  if (model.kind === 'encoder-decoder') {
    throw new ConfigError('an encoder-decoder model takes a source and a target, not a text', {
      where: 'attention.text',
      actual: model.family,
      hint: 'send {source, target?} (without target the source is translated first)',
    });
  }
  const tokens = tokenizer.encode(text);
  checkLength(tokens, model.maxPositions, 'attention.text');
  const T = tokens.length;
  const set = scope(() =>
    noGrad(() => {
      const ids = Tensor.fromArray(Int32Array.from(tokens), [1, T]); // (1, T)
      const { attentions } = model.forward({ ids }, { logits: 'none', attentions: true, mode: 'eval' });
      return setOf('self', attentions, 'attention');
    }),
  );
  return { tokens, pieces: tokenPieces(tokenizer, tokens), source: null, sets: [set] };
}

/**
 * An encoder-decoder's encoder, decoder and cross-attention for source ids and target ids
 * (a final EOS of the target is dropped: see the file header).
 */
export function translationAttentionMaps(
  model: EncoderDecoderModel,
  tokenizer: Tokenizer,
  sourceIds: readonly number[],
  targetIds: readonly number[],
): AttentionMaps {
  checkLength(sourceIds, model.maxPositions, 'attention.source');
  const target = targetIds.at(-1) === model.eosTokenId ? targetIds.slice(0, -1) : [...targetIds];
  const decoderIds = [model.decoderStartTokenId, ...target];
  checkLength(decoderIds, model.maxPositions, 'attention.target');
  const sets = scope(() =>
    noGrad(() => {
      const ids = Tensor.fromArray(Int32Array.from(decoderIds), [1, decoderIds.length]); // (1, T)
      const source = Tensor.fromArray(Int32Array.from(sourceIds), [1, sourceIds.length]); // (1, S)
      const out = model.forward(
        { ids, sourceIds: source },
        { logits: 'none', attentions: true, mode: 'eval' },
      );
      return [
        setOf('encoder', out.encoderAttentions, 'attention'), // (1, nH, S, S) per layer
        setOf('decoder', out.attentions, 'attention'), // (1, nH, T, T)
        setOf('cross', out.crossAttentions, 'attention'), // (1, nH, T, S)
      ];
    }),
  );
  return {
    tokens: decoderIds,
    pieces: tokenPieces(tokenizer, decoderIds),
    source: { tokens: sourceIds, pieces: tokenPieces(tokenizer, sourceIds) },
    sets,
  };
}

/**
 * The maps of a request: `text` for decoders and encoders; `source` and `target` for an
 * encoder-decoder, the source translated first (its best hypothesis) when target is null.
 */
export async function requestedAttentionMaps(
  model: LanguageModel,
  tokenizer: Tokenizer,
  input: { readonly text?: string; readonly source?: string; readonly target?: string },
  translation?: TranslationConfig,
): Promise<AttentionMaps> {
  if (!isEncoderDecoder(model)) {
    if (input.text === undefined || input.source !== undefined || input.target !== undefined) {
      const extra = input.source !== undefined ? 'source' : 'target';
      throw new ConfigError(`a ${model.kind} model takes a text`, {
        where: input.text === undefined ? 'attention.text' : `attention.${extra}`,
        expected: '{text}',
        actual: Object.keys(input).join(', ') || 'nothing',
        hint: 'source and target are for encoder-decoder models',
      });
    }
    return attentionMaps(model, tokenizer, input.text);
  }
  if (input.source === undefined || input.text !== undefined) {
    throw new ConfigError('an encoder-decoder model takes a source and a target, not a text', {
      where: input.text === undefined ? 'attention.source' : 'attention.text',
      hint: 'send {source, target?} (without target the source is translated first)',
    });
  }
  const sourceIds = tokenizer.encode(input.source);
  checkLength(sourceIds, model.maxPositions, 'attention.source');
  let targetIds: readonly number[];
  if (input.target === undefined) {
    const config = translation ?? translationConfigFromHf(null, model);
    const [hypotheses] = await translateIds(model, [sourceIds], config, { where: () => 'attention.source' });
    targetIds = hypotheses![0]!.ids;
  } else targetIds = tokenizer.encode(input.target);
  return translationAttentionMaps(model, tokenizer, sourceIds, targetIds);
}
