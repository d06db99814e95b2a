/**
 * Parse a Hugging Face `tokenizer.json` (raw, snake_case) into a resolved TokenizerSpec.
 * Every malformed field is reported by its JSON path; nothing is silently defaulted
 * except where the HF format itself defines a default.
 */
import { FormatError } from '../util/errors.js';
import type { AddedToken } from './added-tokens.js';
import { mergedToken } from './bpe-model.js';
import type { Decoder } from './decoders.js';
import type { Normalizer, Pattern } from './normalizers.js';
import { parsePrecompiledCharsmap } from './precompiled-charsmap.js';
import type { ModelSpec, TokenizerSpec } from './pipeline-tokenizer.js';
import type { TemplatePiece, PostProcessor } from './post-processors.js';
import type { PreTokenizer, PrependScheme, SplitBehavior } from './pre-tokenizers.js';
import { compileSplitRegex } from './split-patterns.js';
import { checkTokenIds } from './token-ids.js';
import { previewJson } from '../util/preview.js';

type Raw = Record<string, unknown>;

function bad(where: string, expected: string, actual: unknown): FormatError {
  return new FormatError('malformed tokenizer.json', { where, expected, actual: preview(actual) });
}

const preview = (value: unknown): string => previewJson(value);

/**
 * Deeper JSON than this is refused before it is read: the readers recurse per Sequence level
 * (real files nest about 7 levels deep). The vocabulary and merges are flat lists whose
 * entries the readers check one by one, so the walk skips them (300k+ entries).
 */
const MAX_DEPTH = 64;

function checkDepth(root: Raw, source: string): void {
  interface Entry {
    readonly value: unknown;
    readonly depth: number;
    readonly parent: Entry | undefined;
    readonly key: string;
  }
  const stack: Entry[] = [];
  const push = (value: unknown, depth: number, parent: Entry | undefined, key: string): void => {
    if (typeof value === 'object' && value !== null) stack.push({ value, depth, parent, key });
  };
  for (const [key, value] of Object.entries(root)) {
    if (key !== 'model') push(value, 1, undefined, key);
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [field, inner] of Object.entries(value))
        if (field !== 'vocab' && field !== 'merges')
          push(inner, 2, { value, depth: 1, parent: undefined, key }, `.${field}`);
    }
  }
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    if (entry.depth > MAX_DEPTH) {
      let path = '';
      for (let at: Entry | undefined = entry; at !== undefined; at = at.parent) path = at.key + path;
      const shown = path.length > 160 ? `${path.slice(0, 100)}…${path.slice(-50)}` : path;
      throw new FormatError(`nested more than ${MAX_DEPTH} levels deep`, {
        where: `${source}: ${shown}`,
        hint: 'real tokenizer.json files nest a few levels; this one is corrupt',
      });
    }
    const { value, depth } = entry;
    if (Array.isArray(value)) value.forEach((item, i) => push(item, depth + 1, entry, `[${i}]`));
    else for (const [key, item] of Object.entries(value as Raw)) push(item, depth + 1, entry, `.${key}`);
  }
}

function object(value: unknown, where: string): Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(where, 'an object', value);
  return value as Raw;
}
function array(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw bad(where, 'an array', value);
  return value;
}
function string(value: unknown, where: string): string {
  if (typeof value !== 'string') throw bad(where, 'a string', value);
  return value;
}
function bool(value: unknown, where: string, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'boolean') throw bad(where, 'true or false', value);
  return value;
}
function integer(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw bad(where, 'a non-negative integer', value);
  return value;
}
function optionalString(value: unknown, where: string): string | undefined {
  return value === undefined || value === null ? undefined : string(value, where);
}

function pattern(value: unknown, where: string): Pattern {
  const raw = object(value, where);
  if (typeof raw.String === 'string') return { kind: 'string', value: raw.String };
  if (typeof raw.Regex === 'string') {
    // Compiled (and checked for catastrophic backtracking) now, so errors name this field.
    compileSplitRegex(raw.Regex, `${where}.Regex`);
    return { kind: 'regex', value: raw.Regex };
  }
  throw bad(where, '{"String": ...} or {"Regex": ...}', value);
}

/** Parse tokenizer.json text. `source` names the file in errors. */
export function parseTokenizerJson(text: string, source = 'tokenizer.json'): TokenizerSpec {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // V8 parses any depth today; a RangeError (stack or memory) would mean absurd nesting.
    const tooDeep = error instanceof RangeError;
    throw new FormatError(tooDeep ? 'nested too deeply to parse' : 'not valid JSON (truncated?)', {
      where: source,
      actual: (error as Error).message,
      cause: error,
    });
  }
  return readTokenizerJson(json, source);
}

export function readTokenizerJson(json: unknown, source = 'tokenizer.json'): TokenizerSpec {
  const root = object(json, source);
  checkDepth(root, source);
  const at = (path: string): string => `${source}: ${path}`;
  const preTokenizer =
    root.pre_tokenizer == null ? null : readPreTokenizer(root.pre_tokenizer, at('pre_tokenizer'));
  const byteLevel = preTokenizer !== null && hasByteLevel(preTokenizer);
  const model = readModel(root.model, at('model'), byteLevel);
  const addedTokens = array(root.added_tokens ?? [], at('added_tokens')).map((token, i) =>
    readAddedToken(token, at(`added_tokens[${i}]`)),
  );
  checkTokenIds(model, addedTokens, source);
  return {
    normalizer: root.normalizer == null ? null : readNormalizer(root.normalizer, at('normalizer')),
    preTokenizer,
    model,
    postProcessor:
      root.post_processor == null ? null : readPostProcessor(root.post_processor, at('post_processor')),
    decoder: root.decoder == null ? null : readDecoder(root.decoder, at('decoder')),
    addedTokens,
  };
}

function hasByteLevel(preTokenizer: PreTokenizer): boolean {
  return (
    preTokenizer.type === 'ByteLevel' ||
    (preTokenizer.type === 'Sequence' && preTokenizer.pretokenizers.some(hasByteLevel))
  );
}

function readAddedToken(value: unknown, where: string): AddedToken {
  const raw = object(value, where);
  return {
    id: integer(raw.id, `${where}.id`),
    content: string(raw.content, `${where}.content`),
    singleWord: bool(raw.single_word, `${where}.single_word`, false),
    lstrip: bool(raw.lstrip, `${where}.lstrip`, false),
    rstrip: bool(raw.rstrip, `${where}.rstrip`, false),
    normalized: bool(raw.normalized, `${where}.normalized`, false),
    special: bool(raw.special, `${where}.special`, false),
  };
}

function readNormalizer(value: unknown, where: string): Normalizer {
  const raw = object(value, where);
  const type = string(raw.type, `${where}.type`);
  switch (type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD':
    case 'Lowercase':
    case 'StripAccents':
      return { type };
    case 'Strip':
      return {
        type,
        left: bool(raw.strip_left, `${where}.strip_left`),
        right: bool(raw.strip_right, `${where}.strip_right`),
      };
    case 'Replace':
      return {
        type,
        pattern: pattern(raw.pattern, `${where}.pattern`),
        content: string(raw.content, `${where}.content`),
      };
    case 'Prepend':
      return { type, prepend: string(raw.prepend, `${where}.prepend`) };
    case 'BertNormalizer':
      return {
        type,
        cleanText: bool(raw.clean_text, `${where}.clean_text`, true),
        handleChineseChars: bool(raw.handle_chinese_chars, `${where}.handle_chinese_chars`, true),
        stripAccents:
          raw.strip_accents == null ? undefined : bool(raw.strip_accents, `${where}.strip_accents`),
        lowercase: bool(raw.lowercase, `${where}.lowercase`, true),
      };
    case 'Sequence':
      return {
        type,
        normalizers: array(raw.normalizers, `${where}.normalizers`).map((n, i) =>
          readNormalizer(n, `${where}.normalizers[${i}]`),
        ),
      };
    case 'Precompiled':
      return {
        type,
        charsmap: parsePrecompiledCharsmap(
          string(raw.precompiled_charsmap, `${where}.precompiled_charsmap`),
          `${where}.precompiled_charsmap`,
        ),
      };
    default:
      throw bad(`${where}.type`, 'a known normalizer type', type);
  }
}

const BEHAVIORS: readonly SplitBehavior[] = [
  'Removed',
  'Isolated',
  'MergedWithPrevious',
  'MergedWithNext',
  'Contiguous',
];

function behavior(value: unknown, where: string): SplitBehavior {
  const text = string(value, where);
  if (!(BEHAVIORS as readonly string[]).includes(text)) throw bad(where, BEHAVIORS.join('|'), value);
  return text as SplitBehavior;
}

function prependScheme(raw: Raw, where: string): PrependScheme {
  if (raw.prepend_scheme === undefined)
    return bool(raw.add_prefix_space, `${where}.add_prefix_space`, true) ? 'always' : 'never';
  const scheme = string(raw.prepend_scheme, `${where}.prepend_scheme`);
  if (scheme !== 'first' && scheme !== 'always' && scheme !== 'never')
    throw bad(`${where}.prepend_scheme`, 'first|always|never', scheme);
  return scheme;
}

function readPreTokenizer(value: unknown, where: string): PreTokenizer {
  const raw = object(value, where);
  const type = string(raw.type, `${where}.type`);
  switch (type) {
    case 'ByteLevel':
      return {
        type,
        addPrefixSpace: bool(raw.add_prefix_space, `${where}.add_prefix_space`, true),
        trimOffsets: bool(raw.trim_offsets, `${where}.trim_offsets`, true),
        useRegex: bool(raw.use_regex, `${where}.use_regex`, true),
      };
    case 'Split':
      return {
        type,
        pattern: pattern(raw.pattern, `${where}.pattern`),
        behavior: behavior(raw.behavior, `${where}.behavior`),
        invert: bool(raw.invert, `${where}.invert`, false),
      };
    case 'Whitespace':
    case 'WhitespaceSplit':
    case 'BertPreTokenizer':
      return { type };
    case 'Punctuation':
      return {
        type,
        behavior: raw.behavior === undefined ? 'Isolated' : behavior(raw.behavior, `${where}.behavior`),
      };
    case 'Digits':
      return { type, individualDigits: bool(raw.individual_digits, `${where}.individual_digits`, false) };
    case 'Metaspace':
      return {
        type,
        replacement: string(raw.replacement, `${where}.replacement`),
        prependScheme: prependScheme(raw, where),
        split: bool(raw.split, `${where}.split`, true),
      };
    case 'CharDelimiterSplit':
      return { type, delimiter: string(raw.delimiter, `${where}.delimiter`) };
    case 'Sequence':
      return {
        type,
        pretokenizers: array(raw.pretokenizers, `${where}.pretokenizers`).map((p, i) =>
          readPreTokenizer(p, `${where}.pretokenizers[${i}]`),
        ),
      };
    default:
      throw bad(`${where}.type`, 'a known pre-tokenizer type', type);
  }
}

function readVocabObject(value: unknown, where: string): Map<string, number> {
  const raw = object(value, where);
  const vocab = new Map<string, number>();
  // The error path is built only on error: a vocabulary has up to ~260k entries.
  for (const token in raw) {
    const id = raw[token];
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0) vocab.set(token, id);
    else integer(id, `${where}[${JSON.stringify(token)}]`);
  }
  return vocab;
}

/** One merge rule, "a b" or ["a", "b"]: both tokens and the token they make in the vocabulary. */
function readMerge(
  merge: unknown,
  vocab: ReadonlyMap<string, number>,
  prefix: string | undefined,
  where: string,
  i: number,
): [string, string] {
  let left: unknown;
  let right: unknown;
  if (typeof merge === 'string') {
    const cut = merge.indexOf(' ', 1);
    if (cut >= 0) {
      left = merge.slice(0, cut);
      right = merge.slice(cut + 1);
    }
  } else if (Array.isArray(merge) && merge.length === 2) [left, right] = merge as unknown[];
  if (
    typeof left === 'string' &&
    typeof right === 'string' &&
    vocab.has(left) &&
    vocab.has(right) &&
    vocab.has(mergedToken(left, right, prefix))
  )
    return [left, right];
  // The error path is built only on error: a model has up to ~500k merges.
  return readMergeSlowly(merge, vocab, prefix, `${where}.merges[${i}]`);
}

/** The checks of readMerge again, step by step, to throw the precise error. */
function readMergeSlowly(
  merge: unknown,
  vocab: ReadonlyMap<string, number>,
  prefix: string | undefined,
  path: string,
): never {
  let pair: unknown[];
  if (typeof merge === 'string') {
    const cut = merge.indexOf(' ', 1);
    pair = cut < 0 ? [merge] : [merge.slice(0, cut), merge.slice(cut + 1)];
  } else pair = array(merge, path);
  if (pair.length !== 2) throw bad(path, 'two tokens ("a b" or ["a", "b"])', merge);
  const [left, right] = [string(pair[0], `${path}[0]`), string(pair[1], `${path}[1]`)];
  // As HF (models/bpe/model.rs) refuses the file: MergeTokenOutOfVocabulary.
  for (const token of [left, right, mergedToken(left, right, prefix)]) {
    if (!vocab.has(token))
      throw new FormatError(`the merge makes or uses ${JSON.stringify(token)}, which is not in model.vocab`, {
        where: path,
        expected: 'a merge of two tokens of model.vocab into a token of model.vocab',
        actual: preview(merge),
      });
  }
  throw bad(path, 'two tokens ("a b" or ["a", "b"])', merge);
}

function readModel(value: unknown, where: string, byteLevel: boolean): ModelSpec {
  const raw = object(value, where);
  const type =
    raw.type === undefined
      ? raw.merges !== undefined
        ? 'BPE'
        : Array.isArray(raw.vocab)
          ? 'Unigram'
          : 'WordPiece'
      : string(raw.type, `${where}.type`);
  switch (type) {
    case 'BPE': {
      if (raw.dropout != null && raw.dropout !== 0)
        throw bad(`${where}.dropout`, 'null (dropout is for training only)', raw.dropout);
      const vocab = readVocabObject(raw.vocab, `${where}.vocab`);
      const continuingSubwordPrefix =
        optionalString(raw.continuing_subword_prefix, `${where}.continuing_subword_prefix`) || undefined;
      const merges = array(raw.merges, `${where}.merges`).map((merge, i) =>
        readMerge(merge, vocab, continuingSubwordPrefix, where, i),
      );
      return {
        type,
        options: {
          vocab,
          merges,
          symbols: byteLevel ? 'bytes' : 'chars',
          unkToken: optionalString(raw.unk_token, `${where}.unk_token`),
          fuseUnk: bool(raw.fuse_unk, `${where}.fuse_unk`, false),
          byteFallback: bool(raw.byte_fallback, `${where}.byte_fallback`, false),
          continuingSubwordPrefix,
          endOfWordSuffix: optionalString(raw.end_of_word_suffix, `${where}.end_of_word_suffix`) || undefined,
          ignoreMerges: bool(raw.ignore_merges, `${where}.ignore_merges`, false),
        },
      };
    }
    case 'WordPiece':
      return {
        type,
        options: {
          vocab: readVocabObject(raw.vocab, `${where}.vocab`),
          unkToken: string(raw.unk_token ?? '[UNK]', `${where}.unk_token`),
          continuingSubwordPrefix: string(
            raw.continuing_subword_prefix ?? '##',
            `${where}.continuing_subword_prefix`,
          ),
          maxInputCharsPerWord: integer(
            raw.max_input_chars_per_word ?? 100,
            `${where}.max_input_chars_per_word`,
          ),
        },
      };
    case 'Unigram': {
      const vocab = array(raw.vocab, `${where}.vocab`).map((entry, i): [string, number] => {
        const pair = array(entry, `${where}.vocab[${i}]`);
        const score = pair[1];
        if (typeof score !== 'number')
          throw bad(`${where}.vocab[${i}][1]`, 'a number (log probability)', score);
        return [string(pair[0], `${where}.vocab[${i}][0]`), score];
      });
      return {
        type,
        options: {
          vocab,
          unkId: raw.unk_id == null ? undefined : integer(raw.unk_id, `${where}.unk_id`),
          byteFallback: bool(raw.byte_fallback, `${where}.byte_fallback`, false),
        },
      };
    }
    default:
      throw bad(`${where}.type`, 'BPE|WordPiece|Unigram', type);
  }
}

function readDecoder(value: unknown, where: string): Decoder {
  const raw = object(value, where);
  const type = string(raw.type, `${where}.type`);
  switch (type) {
    case 'ByteLevel':
    case 'ByteFallback':
    case 'Fuse':
      return { type };
    case 'Metaspace':
      return {
        type,
        replacement: string(raw.replacement, `${where}.replacement`),
        prependScheme: prependScheme(raw, where),
      };
    case 'WordPiece':
      return {
        type,
        prefix: string(raw.prefix ?? '##', `${where}.prefix`),
        cleanup: bool(raw.cleanup, `${where}.cleanup`, true),
      };
    case 'BPEDecoder':
      return { type, suffix: string(raw.suffix ?? '</w>', `${where}.suffix`) };
    case 'Strip':
      return {
        type,
        content: string(raw.content, `${where}.content`),
        start: integer(raw.start, `${where}.start`),
        stop: integer(raw.stop, `${where}.stop`),
      };
    case 'Replace':
      return {
        type,
        pattern: pattern(raw.pattern, `${where}.pattern`),
        content: string(raw.content, `${where}.content`),
      };
    case 'Sequence':
      return {
        type,
        decoders: array(raw.decoders, `${where}.decoders`).map((d, i) =>
          readDecoder(d, `${where}.decoders[${i}]`),
        ),
      };
    default:
      throw bad(`${where}.type`, 'a known decoder type', type);
  }
}

function tokenAndId(value: unknown, where: string): readonly [string, number] {
  const pair = array(value, where);
  return [string(pair[0], `${where}[0]`), integer(pair[1], `${where}[1]`)];
}

function readTemplate(value: unknown, where: string): TemplatePiece[] {
  return array(value, where).map((piece, i): TemplatePiece => {
    const path = `${where}[${i}]`;
    const entry = object(piece, path);
    const typeId = (inner: Raw, at: string): number =>
      inner.type_id === undefined ? 0 : integer(inner.type_id, `${at}.type_id`);
    if (entry.SpecialToken !== undefined) {
      const inner = object(entry.SpecialToken, `${path}.SpecialToken`);
      return {
        kind: 'special',
        name: string(inner.id, `${path}.SpecialToken.id`),
        typeId: typeId(inner, `${path}.SpecialToken`),
      };
    }
    if (entry.Sequence !== undefined) {
      const inner = object(entry.Sequence, `${path}.Sequence`);
      const id = string(inner.id, `${path}.Sequence.id`);
      if (id !== 'A' && id !== 'B') throw bad(`${path}.Sequence.id`, 'A or B', id);
      return { kind: 'sequence', name: id, typeId: typeId(inner, `${path}.Sequence`) };
    }
    throw bad(path, '{"SpecialToken": ...} or {"Sequence": ...}', piece);
  });
}

function readPostProcessor(value: unknown, where: string): PostProcessor {
  const raw = object(value, where);
  const type = string(raw.type, `${where}.type`);
  switch (type) {
    case 'ByteLevel':
      return { type };
    case 'TemplateProcessing': {
      const single = readTemplate(raw.single, `${where}.single`);
      const pair = raw.pair == null ? undefined : readTemplate(raw.pair, `${where}.pair`);
      const specials = new Map<string, number[]>();
      for (const [name, entry] of Object.entries(
        object(raw.special_tokens ?? {}, `${where}.special_tokens`),
      )) {
        const path = `${where}.special_tokens[${JSON.stringify(name)}]`;
        specials.set(
          name,
          array(object(entry, path).ids, `${path}.ids`).map((id, i) => integer(id, `${path}.ids[${i}]`)),
        );
      }
      return {
        type,
        single,
        pair,
        specialTokens: specials,
        specialTokensRaw: raw.special_tokens ?? {},
      };
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      return {
        type,
        cls: tokenAndId(raw.cls, `${where}.cls`),
        sep: tokenAndId(raw.sep, `${where}.sep`),
        raw,
      };
    case 'Sequence':
      return {
        type,
        processors: array(raw.processors, `${where}.processors`).map((p, i) =>
          readPostProcessor(p, `${where}.processors[${i}]`),
        ),
      };
    default:
      throw bad(`${where}.type`, 'a known post-processor type', type);
  }
}
