/**
 * The attention view's data: the model's own attention probabilities for a text, every
 * layer and head, as `forward(..., { attentions: true })` returns them (the composed
 * attention path), and their JSON form.
 *
 * JSON: 6 layers x 6 heads x 256 x 256 is 2.4M numbers; the shortest round-trip text of
 * each float would take ~0.3 s to write. Probabilities are written rounded to 5 decimals
 * from a table of the 100,001 strings (5e-6 absolute error at most, far below what a heat
 * map shows); `precision: 'full'` writes every float32 value exactly.
 *
 * Legend: L layers, nH heads, T tokens.
 */
import type { LanguageModel } from '../models/index.js';
import { Tensor, contiguous, noGrad, scope } from '../tensor/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { tokenPieces } from './pieces.js';

export interface AttentionMaps {
  /** The ids of the text, as `lmforge tokenize` gives them. */
  readonly tokens: readonly number[];
  readonly pieces: readonly string[];
  readonly layers: number;
  readonly heads: number;
  /** probabilities[l][h]: (T, T) row-major, row i the attention of query i. */
  readonly probabilities: readonly (readonly Float32Array[])[];
}

/**
 * @example
 * const maps = attentionMaps(model, tokenizer, 'the cat sat');
 * maps.probabilities[0][1][2 * T + 1]; // layer 0, head 1: query 2 attending key 1
 */
export function attentionMaps(model: LanguageModel, tokenizer: Tokenizer, text: string): AttentionMaps {
  if (model.kind === 'encoder-decoder') {
    throw new ConfigError('attention maps of encoder-decoder models are not supported yet', {
      where: 'attention',
      actual: model.family,
      hint: 'the model contract returns no cross-attention probabilities yet',
    });
  }
  const tokens = tokenizer.encode(text);
  if (tokens.length === 0) throw new ConfigError('the text has no tokens', { where: 'attention.text' });
  if (tokens.length > model.maxPositions) {
    throw new ConfigError('the text is longer than the model context', {
      where: 'attention.text',
      expected: `at most ${model.maxPositions} tokens`,
      actual: `${tokens.length} tokens`,
    });
  }
  const T = tokens.length;
  const probabilities = scope(() =>
    noGrad(() => {
      const ids = Tensor.fromArray(Int32Array.from(tokens), [1, T]); // (1, T)
      const { attentions } = model.forward({ ids }, { logits: 'none', attentions: true, mode: 'eval' });
      return (attentions ?? []).map((layer) => {
        const values = contiguous(layer).floats(); // (1, nH, T, T)
        const heads = layer.shape[1]!;
        return Array.from({ length: heads }, (_, h) =>
          Float32Array.from(values.subarray(h * T * T, (h + 1) * T * T)),
        );
      });
    }),
  );
  return {
    tokens,
    pieces: tokenPieces(tokenizer, tokens),
    layers: probabilities.length,
    heads: probabilities[0]?.length ?? 0,
    probabilities,
  };
}

let roundedTable: string[] | null = null;

/** i / 100000 as JSON text, for i in [0, 100000]. */
function rounded(): string[] {
  roundedTable ??= Array.from({ length: 100_001 }, (_, i) => String(i / 100_000));
  return roundedTable;
}

/** `[[...],...]` of a (T, S) row-major matrix. */
function matrixJson(values: Float32Array, T: number, S: number, precision: 'rounded' | 'full'): string {
  const table = rounded();
  const rows = new Array<string>(T);
  const row = new Array<string>(S);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < S; j++) {
      const p = values[i * S + j]!;
      // Probabilities lie in [0, 1]; anything else (NaN from a broken model) is written as is.
      row[j] = precision === 'full' || !(p >= 0 && p <= 1) ? String(p) : table[Math.round(p * 100_000)]!;
    }
    rows[i] = '[' + row.join(',') + ']';
  }
  return '[' + rows.join(',') + ']';
}

/** The body of `POST /api/attention`: `{model, tokens, pieces, layers}` (api-types.ts AttentionResponse). */
export function attentionJson(modelId: string, maps: AttentionMaps, precision: 'rounded' | 'full'): string {
  const T = maps.tokens.length;
  const layers = maps.probabilities
    .map((heads) => '[' + heads.map((m) => matrixJson(m, T, T, precision)).join(',') + ']')
    .join(',');
  return (
    `{"model":${JSON.stringify(modelId)},"tokens":${JSON.stringify(maps.tokens)},` +
    `"pieces":${JSON.stringify(maps.pieces)},"layers":[${layers}]}`
  );
}
