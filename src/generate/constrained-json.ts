/**
 * Constrained JSON decoding: a token mask over the vocabulary that lets a model write only
 * text that is a prefix of a JSON document matching a schema (OpenAI's response_format
 * json_object / json_schema, and forced tool calls), in the spirit of Outlines (Willard &
 * Louf 2023) and llama.cpp's grammars, but checked directly against the schema.
 *
 * The language is compact JSON (no whitespace), objects with the schema's properties in
 * the schema's order (every declared property written, so required ones always are),
 * strings without escapes and bounded in length (maxLength, default 32), numbers of at most
 * 12 digits, arrays of at most maxItems (default 8) items, free objects (json_object, or a
 * schema without properties) of at most 8 members and 4 levels: bounded, so a constrained
 * sequence always ends with a complete document within a few hundred characters.
 *
 * Supported schema keywords: type (one or a list), properties, items, enum, const, anyOf /
 * oneOf, maxLength, maxItems; `required`, `description`, `title`, `additionalProperties`,
 * `minimum`... are accepted and do not constrain further. Other keywords ($ref, pattern,
 * patternProperties, allOf, not, if) are a ConfigError naming the path.
 *
 * A prefix is checked by a recursive-descent parser that reports ok (a complete value and
 * where it ends), incomplete (the text ran out while still viable) or fail. The mask tries
 * each distinct first character once, then whole tokens only where their first character
 * passed.
 */
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import type { TokenConstraint } from './batch-engine.js';
import { jsonText } from '../util/preview.js';

/** A schema node, resolved. */
export type JsonNode =
  | { readonly kind: 'any'; readonly depth: number }
  | { readonly kind: 'object'; readonly properties: readonly (readonly [string, JsonNode])[] }
  | { readonly kind: 'freeObject'; readonly depth: number }
  | { readonly kind: 'array'; readonly items: JsonNode; readonly maxItems: number }
  | { readonly kind: 'string'; readonly maxLength: number }
  | { readonly kind: 'number'; readonly integer: boolean }
  | { readonly kind: 'literal'; readonly texts: readonly string[] }
  | { readonly kind: 'anyOf'; readonly options: readonly JsonNode[] };

const inert = new Set([
  'required',
  'description',
  'title',
  'additionalProperties',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'minItems',
  'default',
  'examples',
  'format',
  '$schema',
  'strict',
]);
const handled = new Set([
  'type',
  'properties',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'maxLength',
  'maxItems',
]);
const maxFreeDepth = 4;

/**
 * The node of a JSON schema (null or {} for any value; `json_object` is { type: 'object' }).
 * Unsupported keywords are a ConfigError whose `where` is `where` plus the JSON path.
 *
 * @example
 * const node = compileJsonSchema({ type: 'object', properties: { city: { type: 'string' } } });
 */
export function compileJsonSchema(schema: unknown, where = 'schema'): JsonNode {
  return compile(schema, where, 0);
}

function compile(schema: unknown, where: string, depth: number): JsonNode {
  if (schema === true || schema === undefined || schema === null) return { kind: 'any', depth };
  if (typeof schema !== 'object' || Array.isArray(schema)) {
    throw new ConfigError('a JSON schema must be an object', { where, actual: jsonText(schema) });
  }
  const s = schema as Record<string, unknown>;
  for (const key of Object.keys(s)) {
    if (!handled.has(key) && !inert.has(key)) {
      throw new ConfigError('unsupported JSON schema keyword', {
        where: `${where}.${key}`,
        expected: [...handled].join(', '),
      });
    }
  }
  if (s['const'] !== undefined) return { kind: 'literal', texts: [JSON.stringify(s['const'])] };
  if (s['enum'] !== undefined) {
    if (!Array.isArray(s['enum']) || s['enum'].length === 0) {
      throw new ConfigError('enum must be a non-empty array', { where: `${where}.enum` });
    }
    return { kind: 'literal', texts: s['enum'].map((v) => JSON.stringify(v)) };
  }
  const union = s['anyOf'] ?? s['oneOf'];
  if (union !== undefined) {
    const key = s['anyOf'] === undefined ? 'oneOf' : 'anyOf';
    if (!Array.isArray(union) || union.length === 0) {
      throw new ConfigError(`${key} must be a non-empty array`, { where: `${where}.${key}` });
    }
    return { kind: 'anyOf', options: union.map((o, i) => compile(o, `${where}.${key}[${i}]`, depth)) };
  }
  const type = s['type'];
  if (type === undefined) return { kind: 'any', depth };
  if (Array.isArray(type)) {
    return { kind: 'anyOf', options: type.map((t) => compile({ ...s, type: t }, where, depth)) };
  }
  const bound = (key: string, fallback: number): number => {
    const value = s[key];
    if (value === undefined) return fallback;
    if (!(Number.isInteger(value) && (value as number) >= 0)) {
      throw new ConfigError(`${key} must be an integer >= 0`, {
        where: `${where}.${key}`,
        actual: String(value),
      });
    }
    return Math.min(value as number, 256);
  };
  switch (type) {
    case 'object': {
      const properties = s['properties'];
      if (properties === undefined) return { kind: 'freeObject', depth };
      if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
        throw new ConfigError('properties must be an object', { where: `${where}.properties` });
      }
      return {
        kind: 'object',
        properties: Object.entries(properties).map(
          ([name, p]) => [name, compile(p, `${where}.properties.${name}`, depth + 1)] as const,
        ),
      };
    }
    case 'array':
      return {
        kind: 'array',
        items: compile(s['items'], `${where}.items`, depth + 1),
        maxItems: bound('maxItems', 8),
      };
    case 'string':
      return { kind: 'string', maxLength: bound('maxLength', 32) };
    case 'number':
      return { kind: 'number', integer: false };
    case 'integer':
      return { kind: 'number', integer: true };
    case 'boolean':
      return { kind: 'literal', texts: ['true', 'false'] };
    case 'null':
      return { kind: 'literal', texts: ['null'] };
    default:
      throw new ConfigError('unsupported JSON schema type', {
        where: `${where}.type`,
        expected: 'object, array, string, number, integer, boolean or null',
        actual: jsonText(type),
      });
  }
}

const INCOMPLETE = -1;
const FAIL = -2;

/** Parses a `node` value at s[at]: the end index, INCOMPLETE or FAIL. */
function parse(node: JsonNode, s: string, at: number): number {
  if (at >= s.length) return INCOMPLETE;
  switch (node.kind) {
    case 'literal':
      return literal(node.texts, s, at);
    case 'string':
      return string(node.maxLength, s, at);
    case 'number':
      return number(node.integer, s, at);
    case 'anyOf': {
      let incomplete = false;
      for (const option of node.options) {
        const end = parse(option, s, at);
        if (end >= 0) return end;
        if (end === INCOMPLETE) incomplete = true;
      }
      return incomplete ? INCOMPLETE : FAIL;
    }
    case 'array': {
      if (s[at] !== '[') return FAIL;
      let i = at + 1;
      if (i >= s.length) return INCOMPLETE;
      if (s[i] === ']') return i + 1;
      for (let item = 0; ; item++) {
        const end = parse(node.items, s, i);
        if (end < 0) return end;
        if (end >= s.length) return INCOMPLETE;
        if (s[end] === ']') return end + 1;
        if (s[end] !== ',' || item + 1 >= node.maxItems) return FAIL;
        i = end + 1;
      }
    }
    case 'object': {
      if (s[at] !== '{') return FAIL;
      let i = at + 1;
      for (const [index, [name, value]] of node.properties.entries()) {
        const key = `${index === 0 ? '' : ','}${JSON.stringify(name)}:`;
        const end = literal([key], s, i);
        if (end < 0) return end;
        i = parse(value, s, end);
        if (i < 0) return i;
      }
      if (i >= s.length) return INCOMPLETE;
      return s[i] === '}' ? i + 1 : FAIL;
    }
    case 'freeObject':
    case 'any':
      return free(node.kind === 'freeObject', node.depth, s, at);
  }
}

function literal(texts: readonly string[], s: string, at: number): number {
  let incomplete = false;
  for (const text of texts) {
    const n = Math.min(text.length, s.length - at);
    if (s.startsWith(text.slice(0, n), at)) {
      if (n === text.length) return at + n;
      incomplete = true;
    }
  }
  return incomplete ? INCOMPLETE : FAIL;
}

function string(maxLength: number, s: string, at: number): number {
  if (s[at] !== '"') return FAIL;
  for (let i = at + 1, length = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c || c < 0x20 || length >= maxLength) return FAIL;
    length++;
  }
  return INCOMPLETE;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function number(integer: boolean, s: string, at: number): number {
  let i = at;
  let digits = 0;
  const run = (): boolean => {
    const start = i;
    while (isDigit(s[i]) && digits < 12) {
      i++;
      digits++;
    }
    return i > start;
  };
  if (s[i] === '-') i++;
  if (i >= s.length) return INCOMPLETE;
  if (s[i] === '0') {
    i++;
    digits++;
  } else if (!run()) return FAIL;
  if (!integer && s[i] === '.') {
    i++;
    if (i >= s.length) return INCOMPLETE;
    if (!run()) return FAIL;
  }
  // A number only ends where something else begins: at the end of the text it may go on.
  if (i >= s.length) return INCOMPLETE;
  if (isDigit(s[i])) return FAIL; // past 12 digits
  return i;
}

/** Any JSON value (or, with `object`, an object) with free keys, at most maxFreeDepth deep. */
function free(object: boolean, depth: number, s: string, at: number): number {
  const c = s[at]!;
  if (c === '{') {
    let i = at + 1;
    if (i >= s.length) return INCOMPLETE;
    if (s[i] === '}') return i + 1;
    if (depth >= maxFreeDepth) return FAIL;
    for (let member = 0; ; member++) {
      const key = string(32, s, i);
      if (key < 0) return key;
      const colon = literal([':'], s, key);
      if (colon < 0) return colon;
      const end = free(false, depth + 1, s, colon);
      if (end < 0) return end;
      if (end >= s.length) return INCOMPLETE;
      if (s[end] === '}') return end + 1;
      if (s[end] !== ',' || member + 1 >= 8) return FAIL;
      i = end + 1;
    }
  }
  if (object) return FAIL;
  if (at >= s.length) return INCOMPLETE;
  if (c === '[') {
    if (depth >= maxFreeDepth) return literal(['[]'], s, at);
    return parse({ kind: 'array', items: { kind: 'any', depth: depth + 1 }, maxItems: 8 }, s, at);
  }
  if (c === '"') return string(32, s, at);
  if (c === '-' || isDigit(c)) return number(false, s, at);
  return literal(['true', 'false', 'null'], s, at);
}

/** Whether `text` is a prefix of a document of `node`: 'complete', 'viable' or 'invalid'. */
export function checkJsonPrefix(node: JsonNode, text: string): 'complete' | 'viable' | 'invalid' {
  if (text.length === 0) return 'viable';
  const end = parse(node, text, 0);
  if (end === INCOMPLETE) return 'viable';
  return end === text.length ? 'complete' : 'invalid';
}

const tokenTexts = new WeakMap<Tokenizer, readonly string[]>();

/** The text of every id alone (cached per tokenizer). */
function textsOf(tokenizer: Tokenizer, V: number): readonly string[] {
  let texts = tokenTexts.get(tokenizer);
  if (texts === undefined || texts.length < V) {
    texts = Array.from({ length: V }, (_, id) => (id < tokenizer.vocabSize ? tokenizer.decode([id]) : ''));
    tokenTexts.set(tokenizer, texts);
  }
  return texts;
}

/**
 * A TokenConstraint for BatchEngine: only ids whose text keeps the output a viable prefix of
 * a `node` document; complete once the document is. Ids with no text of their own (special
 * tokens, partial UTF-8 bytes) are never allowed.
 *
 * @example
 * const constraint = jsonConstraint(compileJsonSchema({ type: 'object' }), tokenizer, model.vocabSize);
 * engine.submit({ promptIds, maxNewTokens: 200, constraint });
 */
export function jsonConstraint(node: JsonNode, tokenizer: Tokenizer, V: number): TokenConstraint {
  const texts = textsOf(tokenizer, V);
  let output = '';
  let complete = false;
  return {
    get complete() {
      return complete;
    },
    mask(logits: Float64Array): void {
      const firsts = new Map<string, boolean>();
      for (let id = 0; id < logits.length; id++) {
        const text = texts[id] ?? '';
        if (text === '' || text.includes('\uFFFD')) {
          logits[id] = -Infinity;
          continue;
        }
        const first = text[0]!;
        let ok = firsts.get(first);
        if (ok === undefined) {
          ok = checkJsonPrefix(node, output + first) !== 'invalid';
          firsts.set(first, ok);
        }
        if (!ok || (text.length > 1 && checkJsonPrefix(node, output + text) === 'invalid'))
          logits[id] = -Infinity;
      }
    },
    advance(id: number): void {
      output += texts[id] ?? '';
      complete = checkJsonPrefix(node, output) === 'complete';
    },
  };
}
