/**
 * The attention view's data: the model's own attention probabilities for a text, every
 * layer and head, as `forward(..., { attentions: true })` returns them (the composed
 * attention path), and their JSON form.
 *
 * JSON: 6 layers x 6 heads x 256 x 256 is 2.4M numbers; the shortest round-trip text of
 * each float would take ~0.3 s to write. Probabilities are written rounded to 5 decimals,
 * copied as bytes from a table of the 100,001 texts into one buffer (5e-6 absolute error
 * at most, far below what a heat map shows); `precision: 'full'` writes every float32 value
 * exactly. NaN (a broken model) is written as null.
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

interface RoundedTable {
  /** The JSON texts of i / 100000 for i in [0, 100000], one after another (ASCII). */
  readonly bytes: Uint8Array;
  /** Where text i starts in `bytes`; text i ends where i + 1 starts. */
  readonly starts: Uint32Array;
}

let roundedTable: RoundedTable | null = null;

function rounded(): RoundedTable {
  if (roundedTable === null) {
    const texts = Array.from({ length: 100_001 }, (_, i) => String(i / 100_000));
    const starts = new Uint32Array(texts.length + 1);
    texts.forEach((t, i) => (starts[i + 1] = starts[i]! + t.length));
    const bytes = Buffer.from(texts.join(''), 'latin1');
    roundedTable = { bytes, starts };
  }
  return roundedTable;
}

const [OPEN, CLOSE, COMMA] = [0x5b, 0x5d, 0x2c];

/**
 * `[[[[...]]]]` of every layer's (nH, T, T) probabilities as UTF-8 bytes, written into one
 * buffer (no string per number: this is most of the answer's time).
 */
function layersJson(maps: AttentionMaps, precision: 'rounded' | 'full'): Buffer {
  const T = maps.tokens.length;
  const { bytes, starts } = rounded();
  // At most 7 bytes a number (rounded) or 24 (full), plus one separator; brackets per row/head/layer.
  const count = maps.layers * maps.heads * T * T;
  const out = Buffer.allocUnsafe(
    count * (precision === 'full' ? 25 : 8) + (maps.layers * maps.heads * (T + 2) + maps.layers + 2) * 2,
  );
  let at = 0;
  const put = (text: string): void => {
    at += out.write(text, at, 'latin1');
  };
  out[at++] = OPEN;
  maps.probabilities.forEach((heads, l) => {
    if (l > 0) out[at++] = COMMA;
    out[at++] = OPEN;
    heads.forEach((matrix, h) => {
      if (h > 0) out[at++] = COMMA;
      out[at++] = OPEN;
      for (let i = 0; i < T; i++) {
        if (i > 0) out[at++] = COMMA;
        out[at++] = OPEN;
        for (let j = 0; j < T; j++) {
          if (j > 0) out[at++] = COMMA;
          const p = matrix[i * T + j]!;
          // Probabilities lie in [0, 1]; anything else (NaN from a broken model) is written as is.
          if (precision === 'rounded' && p >= 0 && p <= 1) {
            // A byte loop: a typed-array set() per 1-7 bytes costs more than the copy.
            const k = Math.round(p * 100_000);
            for (let b = starts[k]!, end = starts[k + 1]!; b < end; b++) out[at++] = bytes[b]!;
          } else put(Number.isFinite(p) ? String(p) : 'null');
        }
        out[at++] = CLOSE;
      }
      out[at++] = CLOSE;
    });
    out[at++] = CLOSE;
  });
  out[at++] = CLOSE;
  return out.subarray(0, at);
}

/** The body of `POST /api/attention`: `{model, tokens, pieces, layers}` (api-types.ts AttentionResponse) as UTF-8. */
export function attentionJson(modelId: string, maps: AttentionMaps, precision: 'rounded' | 'full'): Buffer {
  const head = Buffer.from(
    `{"model":${JSON.stringify(modelId)},"tokens":${JSON.stringify(maps.tokens)},` +
      `"pieces":${JSON.stringify(maps.pieces)},"layers":`,
  );
  return Buffer.concat([head, layersJson(maps, precision), Buffer.from('}')]);
}
