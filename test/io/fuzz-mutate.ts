/**
 * The mutations every reader's fuzzer shares (./fuzz-readers.ts): byte mutations of a valid
 * file (truncation, byte and bit flips, inserted tokens that matter to text formats, deleted
 * and repeated ranges, a splice of two seeds, invalid UTF-8), and two structure-aware kinds
 * built with fast-check: JSON documents whose leaves, keys and nesting are rewritten from
 * the seed's own structure, and line formats whose lines and fields are dropped, repeated
 * and replaced. fast-check's arbitraries are sampled in pools (`ArbitraryPool`), seeded from
 * the run's seed, so that a run is reproducible and a case costs no more than a sample.
 */
import fc from 'fast-check';
import type { Rng } from '../../src/tensor/index.js';

export interface Mutated {
  readonly bytes: Uint8Array;
  readonly mutation: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);
export const text = (bytes: Uint8Array): string => decoder.decode(bytes);

export const pick = <T>(rng: Rng, list: readonly T[]): T => list[rng.randint(0, list.length)]!;

/** Bytes that mean something to JSON, TSV, CoNLL, ARPA, Jinja or UTF-8 decoding. */
const tokens: readonly Uint8Array[] = [
  ...[
    '\n',
    '\r\n',
    '\t',
    ' ',
    '"',
    '\\',
    '{',
    '}',
    '[',
    ']',
    ':',
    ',',
    '=',
    'null',
    '-1',
    '0',
    '1e309',
    '-1e309',
    'NaN',
    '99999999999999999999',
    '4294967296',
    '\\u0000',
    '\\ud800',
    '\u2028',
    '\ufeff',
    '{{',
    '}}',
    '{%',
    '%}',
    '\\data\\',
    '\\end\\',
    'ngram 1=',
    '-DOCSTART-',
    '<s>',
    '</s>',
  ].map(utf8),
  Uint8Array.of(0),
  Uint8Array.of(0xff),
  Uint8Array.of(0xc0, 0x80), // overlong NUL
  Uint8Array.of(0xed, 0xa0, 0x80), // a UTF-16 surrogate
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
  Uint8Array.of(0xe2, 0x82), // a truncated sequence
];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** One byte-level mutation of `bytes` (`other`: another seed, for splices). */
export function mutateBytes(bytes: Uint8Array, rng: Rng, other: Uint8Array = bytes): Mutated {
  const n = bytes.length;
  const at = rng.randint(0, n + 1);
  switch (rng.randint(0, 8)) {
    case 0: {
      return { bytes: bytes.slice(0, at), mutation: `truncate to ${at}` };
    }
    case 1: {
      const out = Uint8Array.from(bytes);
      const flips: string[] = [];
      for (let i = 0, k = rng.randint(1, 9); i < k && n > 0; i++) {
        const where = rng.randint(0, n);
        out[where] = rng.randint(0, 256);
        flips.push(`${where}=${out[where]}`);
      }
      return { bytes: out, mutation: `bytes ${flips.join(',')}` };
    }
    case 2: {
      const out = Uint8Array.from(bytes);
      if (n > 0) out[Math.min(at, n - 1)]! ^= 1 << rng.randint(0, 8);
      return { bytes: out, mutation: `bit flip at ${at}` };
    }
    case 3: {
      const token = pick(rng, tokens);
      return {
        bytes: concat(bytes.subarray(0, at), token, bytes.subarray(at)),
        mutation: `insert token at ${at}`,
      };
    }
    case 4: {
      const end = Math.min(n, at + rng.randint(1, 64));
      return { bytes: concat(bytes.subarray(0, at), bytes.subarray(end)), mutation: `delete ${at}..${end}` };
    }
    case 5: {
      const end = Math.min(n, at + rng.randint(1, 256));
      const times = pick(rng, [2, 3, 50]);
      const copies = Array.from({ length: times }, () => bytes.subarray(at, end));
      return {
        bytes: concat(bytes.subarray(0, at), ...copies, bytes.subarray(end)),
        mutation: `repeat ${at}..${end} x${times}`,
      };
    }
    case 6: {
      const from = rng.randint(0, other.length + 1);
      return {
        bytes: concat(bytes.subarray(0, at), other.subarray(from)),
        mutation: `splice ${at} with another seed from ${from}`,
      };
    }
    default: {
      const token = pick(rng, tokens);
      const out = Uint8Array.from(bytes);
      out.set(token.subarray(0, Math.max(0, n - at)), Math.min(at, n));
      return { bytes: out, mutation: `overwrite token at ${at}` };
    }
  }
}

/** Samples of an arbitrary, drawn a pool at a time from seeds of the run's rng. */
export class ArbitraryPool<T> {
  readonly #arbitrary: fc.Arbitrary<T>;
  readonly #size: number;
  #pool: T[] = [];

  constructor(arbitrary: fc.Arbitrary<T>, size = 256) {
    this.#arbitrary = arbitrary;
    this.#size = size;
  }

  next(rng: Rng): T {
    if (this.#pool.length === 0) {
      this.#pool = fc.sample(this.#arbitrary, { seed: rng.randint(0, 2 ** 31), numRuns: this.#size });
    }
    return this.#pool.pop()!;
  }
}

const interestingNumbers = [
  0,
  -1,
  1,
  2,
  3,
  7,
  0.5,
  -0.5,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  2 ** 63,
  1e308,
  -1e308,
  1e-320,
];

/** Stands for a list nested 100,000 deep among the replacements. */
const deepMarker = '\u0000lmforge-fuzz-deep';
const deepText = '['.repeat(100_000) + ']'.repeat(100_000);

/** A JSON value to put where `original` was: its kind's edge values, another kind, or fast-check's JSON. */
export const jsonReplacement: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...interestingNumbers),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    '',
    'x',
    'NaN',
    '<unk>',
    'F16',
    'BPE',
    '..',
    '../../etc/passwd',
    '/abs',
    'a'.repeat(10_000),
  ),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(null, true, false, [], {}, [1, 2], { a: 1 }),
  fc.jsonValue({ maxDepth: 3 }),
  // A value nested far deeper than any real file, where an error message might print it
  // (written into the text by mutateJson: JSON.stringify itself cannot write it).
  fc.constant(deepMarker),
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a node of `value` (object keys and array indices). */
function paths(
  value: Json,
  prefix: (string | number)[] = [],
  out: (string | number)[][] = [],
): (string | number)[][] {
  out.push(prefix);
  if (out.length > 4096) return out;
  if (Array.isArray(value)) value.forEach((item, i) => paths(item, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) paths(item, [...prefix, key], out);
  }
  return out;
}

/**
 * A structure-aware mutation of a JSON document: a node replaced by an edge value or a
 * fast-check JSON value, a key deleted or renamed, a node duplicated into its parent, a
 * key written twice, or the document nested deeply.
 */
export function mutateJson(seed: Json, rng: Rng, replacements: ArbitraryPool<unknown>): Mutated {
  const root = structuredClone(seed);
  const all = paths(root);
  const path = pick(rng, all);
  const parentOf = (p: (string | number)[]): Json =>
    p.slice(0, -1).reduce<Json>((node, key) => (node as Record<string, Json>)[key]!, root);
  const kind = rng.randint(0, 6);
  const name = path.join('.');
  if (path.length === 0 || kind === 5) {
    // Deep nesting around the whole document or a replacement of it.
    const depth = pick(rng, [10, 1000, 100_000]);
    return {
      bytes: utf8('['.repeat(depth) + JSON.stringify(root) + ']'.repeat(depth)),
      mutation: `nested ${depth} deep`,
    };
  }
  const parent = parentOf(path) as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  switch (kind) {
    case 0:
    case 1: {
      const value = replacements.next(rng) as Json;
      parent[key] = value;
      const json = JSON.stringify(root);
      return value === deepMarker
        ? {
            bytes: utf8(json.replace(JSON.stringify(deepMarker), deepText)),
            mutation: `${name} nested 100000 deep`,
          }
        : { bytes: utf8(json), mutation: `${name} replaced` };
    }
    case 2:
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
      return { bytes: utf8(JSON.stringify(root)), mutation: `${name} deleted` };
    case 3:
      if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)]!));
      else parent[`${key}_`] = parent[key]!;
      return { bytes: utf8(JSON.stringify(root)), mutation: `${name} repeated` };
    default: {
      // The same key twice: JSON.parse keeps the last; a reader must see both or refuse.
      if (Array.isArray(parent) || typeof key !== 'string') {
        return { bytes: utf8(JSON.stringify(root)), mutation: 'unchanged' };
      }
      const inner = JSON.stringify(parent[key]);
      const json = JSON.stringify(root);
      const needle = `${JSON.stringify(key)}:${inner}`;
      const at = json.indexOf(needle);
      const twice =
        at < 0 ? json : `${json.slice(0, at)}${needle},${JSON.stringify(key)}:0,${json.slice(at)}`;
      return { bytes: utf8(twice), mutation: `${name} written twice` };
    }
  }
}

/** A field to put in a line format: a number, a word, an edge value. */
export const fieldReplacement: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '-1',
    '-99',
    '1e309',
    'NaN',
    '-inf',
    '4294967296',
    '99999999999',
    '<s>',
    '</s>',
    '<unk>',
    'O',
    'B-X',
    'I-',
    '"',
    '\\',
    '=',
  ),
  fc.double().map(String),
  fc.integer().map(String),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);

/**
 * A structure-aware mutation of a line format (TSV, CoNLL, ARPA, tiktoken ranks): lines
 * dropped, repeated, swapped or emptied; one field replaced, deleted or repeated (fields
 * split at `separator`).
 */
export function mutateLines(
  seed: string,
  rng: Rng,
  separator: RegExp,
  fields: ArbitraryPool<string>,
): Mutated {
  const lines = seed.split('\n');
  const at = rng.randint(0, lines.length);
  const line = lines[at]!;
  const join = line.includes('\t') ? '\t' : line.includes(',') && !line.includes(' ') ? ',' : ' ';
  const parts = line.split(separator);
  const field = rng.randint(0, parts.length);
  let mutation: string;
  switch (rng.randint(0, 7)) {
    case 0:
      lines.splice(at, 1);
      mutation = `line ${at + 1} dropped`;
      break;
    case 1:
      lines.splice(at, 0, line);
      mutation = `line ${at + 1} repeated`;
      break;
    case 2: {
      const other = rng.randint(0, lines.length);
      [lines[at], lines[other]] = [lines[other]!, line];
      mutation = `lines ${at + 1} and ${other + 1} swapped`;
      break;
    }
    case 3:
      lines[at] = '';
      mutation = `line ${at + 1} emptied`;
      break;
    case 4:
      parts.splice(field, 1);
      lines[at] = parts.join(join);
      mutation = `line ${at + 1} field ${field} deleted`;
      break;
    case 5:
      parts.splice(field, 0, parts[field] ?? '');
      lines[at] = parts.join(join);
      mutation = `line ${at + 1} field ${field} repeated`;
      break;
    default:
      parts[field] = fields.next(rng);
      lines[at] = parts.join(join);
      mutation = `line ${at + 1} field ${field} replaced`;
  }
  return { bytes: utf8(lines.join('\n')), mutation };
}
