/**
 * The two answers of `POST /api/attention` (docs/studio.md): JSON (`layers[l][h][i][j]`) and
 * the compact binary layout the web app reads, each over only the attention sets, layers and
 * heads asked for.
 *
 * JSON: 6 layers x 6 heads x 256 x 256 is 2.4M numbers; the shortest round-trip text of each
 * float would take ~0.3 s to write. Probabilities are written rounded to 5 decimals, copied as
 * bytes from a table of the 100,001 texts into one buffer (5e-6 absolute error at most);
 * `precision: 'full'` writes every float32 value exactly. NaN (a broken model) is null.
 *
 * Binary (`application/octet-stream`): "LMFA", a uint32 LE header length H (a multiple of 8),
 * H bytes of JSON header (space padded), then the maps one after another, each rows x cols
 * little-endian float16 (`precision: 'rounded'`, IEEE binary16, round to nearest even: a
 * relative error of 2^-11 at most) or float32 (`'full'`, exact). The header
 * (AttentionBinaryHeader) names each map's set, layer, head, shape and byte offset from the
 * first map. For 256 tokens on 6 x 6 heads that is 4.7 MB instead of 11.7 MB of JSON, and
 * writing it is one pass over the floats.
 *
 * Legend: L layers, nH heads.
 */
import type {
  AttentionBinaryHeader,
  AttentionKind,
  AttentionMapInfo,
  AttentionSetInfo,
} from './api-types.js';
import { attentionHead, type AttentionMaps, type AttentionSet } from './attention.js';
import { ConfigError } from '../util/errors.js';

export const attentionMagic = 'LMFA';

export interface AttentionSelection {
  /** Absent: every set of the model. */
  readonly attention?: readonly AttentionKind[] | undefined;
  /** Absent: every layer. */
  readonly layers?: readonly number[] | undefined;
  /** Absent: every head. */
  readonly heads?: readonly number[] | undefined;
}

export type AttentionPrecision = 'rounded' | 'full';

interface Selected {
  readonly set: AttentionSet;
  readonly layers: readonly number[];
  readonly heads: readonly number[];
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function checkIndices(indices: readonly number[], count: number, field: string): void {
  const bad = indices.find((i) => i >= count);
  if (bad !== undefined) {
    throw new ConfigError(`no such ${field.slice(0, -1)}`, {
      where: `attention.${field}`,
      expected: `indices below ${count}`,
      actual: bad,
    });
  }
}

/** The sets, layers and heads of `selection`, each index checked against the model's. */
function select(maps: AttentionMaps, selection: AttentionSelection): Selected[] {
  const kinds = selection.attention ?? maps.sets.map((s) => s.kind);
  return kinds.map((kind) => {
    const set = maps.sets.find((s) => s.kind === kind);
    if (set === undefined) {
      throw new ConfigError('the model has no such attention', {
        where: 'attention.attention',
        expected: maps.sets.map((s) => s.kind).join(', '),
        actual: kind,
      });
    }
    const layers = selection.layers ?? range(set.layers.length);
    const heads = selection.heads ?? range(set.heads);
    checkIndices(layers, set.layers.length, 'layers');
    checkIndices(heads, set.heads, 'heads');
    return { set, layers, heads };
  });
}

function setInfo(set: AttentionSet): AttentionSetInfo {
  return { attention: set.kind, layers: set.layers.length, heads: set.heads, rows: set.rows, cols: set.cols };
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
    roundedTable = { bytes: Buffer.from(texts.join(''), 'latin1'), starts };
  }
  return roundedTable;
}

const [OPEN, CLOSE, COMMA] = [0x5b, 0x5d, 0x2c];

/** `[[[[...]]]]` of the selected (layer, head) maps of one set as UTF-8 bytes, written into one buffer. */
function layersJson(s: Selected, precision: AttentionPrecision): Buffer {
  const { rows, cols } = s.set;
  const { bytes, starts } = rounded();
  // At most 7 bytes a number (rounded) or 24 (full), plus one separator; brackets per row/head/layer.
  const count = s.layers.length * s.heads.length * rows * cols;
  const out = Buffer.allocUnsafe(
    count * (precision === 'full' ? 25 : 8) +
      (s.layers.length * s.heads.length * (rows + 2) + s.layers.length + 2) * 2,
  );
  let at = 0;
  const put = (text: string): void => {
    at += out.write(text, at, 'latin1');
  };
  out[at++] = OPEN;
  s.layers.forEach((l, li) => {
    if (li > 0) out[at++] = COMMA;
    out[at++] = OPEN;
    s.heads.forEach((h, hi) => {
      if (hi > 0) out[at++] = COMMA;
      const matrix = attentionHead(s.set, l, h);
      out[at++] = OPEN;
      for (let i = 0; i < rows; i++) {
        if (i > 0) out[at++] = COMMA;
        out[at++] = OPEN;
        for (let j = 0; j < cols; j++) {
          if (j > 0) out[at++] = COMMA;
          const p = matrix[i * cols + j]!;
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

/** The JSON keys of each set's maps (AttentionResponse). */
const jsonKey: Readonly<Record<AttentionKind, string>> = {
  self: 'layers',
  decoder: 'layers',
  encoder: 'encoderLayers',
  cross: 'crossLayers',
};

/**
 * The JSON body (api-types.ts AttentionResponse) as UTF-8.
 *
 * @example
 * const body = attentionJson('m', maps, { layers: [0] }, 'rounded'); // layers[0] is layer 0
 */
export function attentionJson(
  modelId: string,
  maps: AttentionMaps,
  selection: AttentionSelection,
  precision: AttentionPrecision,
): Buffer {
  const selected = select(maps, selection);
  const parts: Buffer[] = [
    Buffer.from(
      `{"model":${JSON.stringify(modelId)},"tokens":${JSON.stringify(maps.tokens)},` +
        `"pieces":${JSON.stringify(maps.pieces)},"source":${JSON.stringify(maps.source)},` +
        `"attentions":${JSON.stringify(maps.sets.map(setInfo))}`,
    ),
  ];
  for (const s of selected) {
    const key = jsonKey[s.set.kind];
    parts.push(
      Buffer.from(`,"${key}Selected":${JSON.stringify({ layers: s.layers, heads: s.heads })},"${key}":`),
    );
    parts.push(layersJson(s, precision));
  }
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

/**
 * float32 values to IEEE binary16 bits, round to nearest even (as numberToHalf in
 * util/half.ts, which the tests compare it with), in integer arithmetic on the bits: one
 * pass with no Math.log2 and no float temporaries (a causal map is half zeros, which take
 * the first branch). Overflow (>= 65520) is infinity, NaN the quiet NaN 0x7e00.
 * Little-endian hosts only, as the typed views that write the answer.
 */
export function halfBits(values: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let k = 0; k < values.length; k++) {
    const x = bits[k]!;
    const sign = (x >>> 16) & 0x8000;
    const a = x & 0x7fffffff;
    if (a <= 0x33000000) {
      out[k] = sign; // at most 2^-25, half the smallest subnormal: rounds (to even) to zero
    } else if (a < 0x38800000) {
      // A subnormal half: the value in units of 2^-24 is m * 2^(e - 126), m the 24-bit
      // significand; shift right by s = 126 - e (1..24) and round the dropped bits to even.
      const s = 126 - (a >>> 23);
      const m = (a & 0x7fffff) | 0x800000;
      const rest = m & ((1 << s) - 1);
      const half = 1 << (s - 1);
      const q = m >>> s;
      out[k] = sign | (rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q);
    } else if (a < 0x477ff000) {
      // Rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
      out[k] = sign | (((a + 0xc8000fff + ((a >>> 13) & 1)) >>> 13) & 0x7fff);
    } else out[k] = a > 0x7f800000 ? 0x7e00 : sign | 0x7c00; // NaN of either sign; 65520 and up: infinity
  }
}

/**
 * The binary body (see the file header): the header JSON, then each selected map's values.
 *
 * @example
 * const body = attentionBinary('m', maps, { attention: ['cross'], layers: [1], heads: [0] }, 'rounded');
 */
export function attentionBinary(
  modelId: string,
  maps: AttentionMaps,
  selection: AttentionSelection,
  precision: AttentionPrecision,
): Buffer {
  const selected = select(maps, selection);
  const width = precision === 'full' ? 4 : 2;
  const infos: AttentionMapInfo[] = [];
  let offset = 0;
  for (const s of selected) {
    for (const layer of s.layers) {
      for (const head of s.heads) {
        infos.push({ attention: s.set.kind, layer, head, rows: s.set.rows, cols: s.set.cols, offset });
        offset += s.set.rows * s.set.cols * width;
      }
    }
  }
  const header: AttentionBinaryHeader = {
    model: modelId,
    tokens: maps.tokens,
    pieces: maps.pieces,
    source: maps.source,
    attentions: maps.sets.map(setInfo),
    dtype: precision === 'full' ? 'float32' : 'float16',
    maps: infos,
  };
  const json = Buffer.from(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const start = 8 + padded;
  const out = Buffer.alloc(start + offset);
  out.write(attentionMagic, 0, 'latin1');
  out.writeUInt32LE(padded, 4);
  json.copy(out, 8);
  out.fill(0x20, 8 + json.length, start);
  // start and every offset are multiples of the value width: typed views write in place.
  let k = 0;
  for (const s of selected) {
    for (const layer of s.layers) {
      for (const head of s.heads) {
        const matrix = attentionHead(s.set, layer, head);
        const at = out.byteOffset + start + infos[k++]!.offset;
        if (width === 4) new Float32Array(out.buffer, at, matrix.length).set(matrix);
        else halfBits(matrix, new Uint16Array(out.buffer, at, matrix.length));
      }
    }
  }
  return out;
}
