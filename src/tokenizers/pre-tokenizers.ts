/**
 * Pre-tokenizers: split normalized text into words before the model sees them.
 * Types and semantics follow Hugging Face `tokenizers` (pre_tokenizers/*.rs); the GPT-2,
 * cl100k and o200k splits are `Split` steps with the patterns of split-patterns.ts.
 */
import { ConfigError } from '../util/errors.js';
import { PUNCTUATION_CLASS } from './hf-unicode.js';
import type { Pattern } from './normalizers.js';
import { compileSplitRegex, GPT2_PATTERN } from './split-patterns.js';

export type SplitBehavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
export type PrependScheme = 'first' | 'always' | 'never';

export type PreTokenizer =
  | {
      readonly type: 'ByteLevel';
      readonly addPrefixSpace: boolean;
      readonly trimOffsets: boolean;
      readonly useRegex: boolean;
    }
  | {
      readonly type: 'Split';
      readonly pattern: Pattern;
      readonly behavior: SplitBehavior;
      readonly invert: boolean;
    }
  | { readonly type: 'Whitespace' | 'WhitespaceSplit' | 'BertPreTokenizer' }
  | { readonly type: 'Punctuation'; readonly behavior: SplitBehavior }
  | { readonly type: 'Digits'; readonly individualDigits: boolean }
  | {
      readonly type: 'Metaspace';
      readonly replacement: string;
      readonly prependScheme: PrependScheme;
      readonly split: boolean;
    }
  | { readonly type: 'CharDelimiterSplit'; readonly delimiter: string }
  | { readonly type: 'Sequence'; readonly pretokenizers: readonly PreTokenizer[] };

export interface CompiledPreTokenizer {
  /** Words of one segment; `atStart` is true when the segment starts the input. */
  split(text: string, atStart: boolean): string[];
  /** Words go to the model as UTF-8 bytes (a final ByteLevel step). */
  readonly byteLevel: boolean;
  /**
   * Set when the whole pre-tokenizer is one regex split: callers may then walk matches
   * directly instead of building word arrays (encode hot path). The matches are words, and
   * so is the text between them when `gapsAreWords` (an Isolated split: tiktoken, Llama 3,
   * GPT-4o; BertPreTokenizer's gaps are whitespace, which goes).
   */
  readonly singleRegex: RegExp | undefined;
  readonly gapsAreWords: boolean;
  /**
   * The words of one segment as [start, end) spans, where the pre-tokenizer only splits (one
   * regex, or none); undefined for one that rewrites the text (ByteLevel, Metaspace) or
   * splits in several steps.
   */
  spans(text: string, atStart: boolean): Array<[number, number]> | undefined;
}

type Step = (piece: string, atStart: boolean) => string[];

/** Build the splitter for a pre-tokenizer (null: the whole segment is one word). */
export function compilePreTokenizer(preTokenizer: PreTokenizer | null): CompiledPreTokenizer {
  const flat = preTokenizer === null ? [] : flatten(preTokenizer);
  let byteLevel = false;
  const steps: Step[] = [];
  flat.forEach((step, index) => {
    if (byteLevel) {
      throw new ConfigError('ByteLevel must be the last pre-tokenizer', {
        where: `pre_tokenizer.pretokenizers[${index}]`,
        actual: step.type,
      });
    }
    if (step.type === 'ByteLevel') byteLevel = true;
    steps.push(compileStep(step));
  });
  const regexSteps = flat.filter((step) => step.type !== 'ByteLevel' || step.addPrefixSpace || step.useRegex);
  const only = regexSteps.length === 1 ? regexSteps[0] : undefined;
  const isolated =
    only !== undefined &&
    only.type === 'Split' &&
    only.pattern.kind === 'regex' &&
    only.behavior === 'Isolated' &&
    !only.invert;
  const singleRegex = isolated
    ? compileSplitRegex(only.pattern.value)
    : only?.type === 'BertPreTokenizer'
      ? BERT_WORDS
      : only?.type === 'Whitespace'
        ? WHITESPACE_WORDS
        : only?.type === 'WhitespaceSplit'
          ? NON_WHITESPACE_RUN
          : undefined;
  const splitsOnly = flat.length === 0 || (flat.length === 1 && singleRegex !== undefined);
  return {
    byteLevel,
    singleRegex,
    gapsAreWords: isolated,
    spans(text) {
      if (!splitsOnly) return undefined;
      if (singleRegex === undefined) return text.length === 0 ? [] : [[0, text.length]];
      const spans: Array<[number, number]> = [];
      let last = 0;
      for (const match of text.matchAll(singleRegex)) {
        if (isolated && match.index > last) spans.push([last, match.index]);
        if (match[0].length > 0) spans.push([match.index, match.index + match[0].length]);
        last = match.index + match[0].length;
      }
      if (isolated && last < text.length) spans.push([last, text.length]);
      return spans;
    },
    split(text, atStart) {
      let pieces = text.length === 0 ? [] : [text];
      for (const step of steps) {
        const next: string[] = [];
        for (let i = 0; i < pieces.length; i++) {
          for (const piece of step(pieces[i] as string, atStart && i === 0))
            if (piece.length > 0) next.push(piece);
        }
        pieces = next;
      }
      return pieces;
    },
  };
}

function flatten(preTokenizer: PreTokenizer): PreTokenizer[] {
  return preTokenizer.type === 'Sequence' ? preTokenizer.pretokenizers.flatMap(flatten) : [preTokenizer];
}

/** Rust's `char::is_whitespace` (Unicode White_Space), which HF splits on. */
const WHITESPACE = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';
const NON_WHITESPACE_RUN = new RegExp(`[^${WHITESPACE}]+`, 'gu');
/** HF Whitespace's `\w+|[^\w\s]+`: words, and runs of what is neither word nor space. */
const WHITESPACE_WORDS = new RegExp(
  `[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]+|[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}${WHITESPACE}]+`,
  'gu',
);
/** HF `is_bert_punc` / `is_punc`: ASCII punctuation or Unicode 8.0 P* (hf-unicode.ts). */
const PUNCTUATION = new RegExp(`[${PUNCTUATION_CLASS}]`, 'gu');
/**
 * BertPreTokenizer's words in one pass: it splits on whitespace (removed), then isolates each
 * punctuation character, so a word is a run of neither or one punctuation character (the
 * run first: 15% faster on English, and the two never match the same text).
 */
const BERT_WORDS = new RegExp(`[^${PUNCTUATION_CLASS}${WHITESPACE}]+|[${PUNCTUATION_CLASS}]`, 'gu');

function compileStep(step: PreTokenizer): Step {
  switch (step.type) {
    case 'ByteLevel': {
      const regex = step.useRegex ? compileSplitRegex(GPT2_PATTERN) : undefined;
      const prefix = step.addPrefixSpace;
      return (piece) => {
        const text = prefix && !piece.startsWith(' ') ? ' ' + piece : piece;
        return regex === undefined ? [text] : splitByRegex(text, regex, 'Isolated', false);
      };
    }
    case 'Split': {
      const { behavior, invert, pattern } = step;
      if (pattern.kind === 'string')
        return (piece) => splitAt(piece, literalMatches(piece, pattern.value), behavior, invert);
      const regex = compileSplitRegex(pattern.value);
      return (piece) => splitByRegex(piece, regex, behavior, invert);
    }
    case 'Whitespace':
      return (piece) => splitByRegex(piece, WHITESPACE_WORDS, 'Removed', true);
    case 'WhitespaceSplit':
      return (piece) => splitByRegex(piece, NON_WHITESPACE_RUN, 'Removed', true);
    case 'BertPreTokenizer':
      return (piece) => splitByRegex(piece, BERT_WORDS, 'Removed', true);
    case 'Punctuation': {
      const behavior = step.behavior;
      return (piece) => splitByRegex(piece, PUNCTUATION, behavior, false);
    }
    case 'Digits': {
      const regex = step.individualDigits ? /\p{N}/gu : /\p{N}+/gu;
      return (piece) => splitByRegex(piece, regex, 'Isolated', false);
    }
    case 'Metaspace': {
      const { replacement, prependScheme, split } = step;
      return (piece, atStart) => {
        let text = piece.split(' ').join(replacement);
        const prepend = prependScheme === 'always' || (prependScheme === 'first' && atStart);
        if (prepend && !text.startsWith(replacement)) text = replacement + text;
        return split ? splitAt(text, literalMatches(text, replacement), 'MergedWithNext', false) : [text];
      };
    }
    case 'CharDelimiterSplit': {
      const delimiter = step.delimiter;
      return (piece) => splitAt(piece, literalMatches(piece, delimiter), 'Removed', false);
    }
    case 'Sequence':
      throw new ConfigError('nested Sequence should have been flattened', { where: 'pre_tokenizer' });
    default:
      throw new ConfigError('unknown pre-tokenizer', {
        where: 'pre_tokenizer.type',
        actual: (step as { type: string }).type,
      });
  }
}

function literalMatches(text: string, needle: string): Array<[number, number]> {
  const matches: Array<[number, number]> = [];
  if (needle.length === 0) return matches;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) {
    matches.push([at, at + needle.length]);
  }
  return matches;
}

/** Split with a regex; the common Isolated/Removed-inverted cases skip the match list. */
export function splitByRegex(
  text: string,
  regex: RegExp,
  behavior: SplitBehavior,
  invert: boolean,
): string[] {
  regex.lastIndex = 0;
  // Every match is a word (one call, no match objects: the fastest way V8 has).
  if (behavior === 'Removed' && invert) return text.match(regex) ?? [];
  if (behavior === 'Isolated' && !invert) {
    // Every match is a word, and so is every gap between matches.
    const pieces: string[] = [];
    let last = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      const start = match.index;
      if (start > last) pieces.push(text.slice(last, start));
      pieces.push(match[0]);
      last = start + match[0].length;
      if (match[0].length === 0) regex.lastIndex++;
    }
    if (last < text.length) pieces.push(text.slice(last));
    return pieces;
  }
  const matches: Array<[number, number]> = [];
  for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
    if (match[0].length === 0) {
      regex.lastIndex++;
      continue;
    }
    matches.push([match.index, match.index + match[0].length]);
  }
  return splitAt(text, matches, behavior, invert);
}

/** HF `NormalizedString::split`: segments are matches and the gaps between them. */
function splitAt(
  text: string,
  matches: Array<[number, number]>,
  behavior: SplitBehavior,
  invert: boolean,
): string[] {
  const segments: Array<[string, boolean]> = [];
  let last = 0;
  for (const [start, end] of matches) {
    if (start > last) segments.push([text.slice(last, start), invert]);
    segments.push([text.slice(start, end), !invert]);
    last = end;
  }
  if (last < text.length) segments.push([text.slice(last), invert]);
  switch (behavior) {
    case 'Removed':
      return segments.filter(([, isMatch]) => !isMatch).map(([piece]) => piece);
    case 'Isolated':
      return segments.map(([piece]) => piece);
    case 'MergedWithPrevious':
      return mergeInto(segments, (isMatch, previousMatch) => isMatch && !previousMatch);
    case 'MergedWithNext': {
      const reversed = mergeInto(
        segments.slice().reverse(),
        (isMatch, previousMatch) => isMatch && !previousMatch,
        true,
      );
      return reversed.reverse();
    }
    case 'Contiguous':
      return mergeInto(segments, (isMatch, previousMatch) => isMatch === previousMatch);
    default:
      throw new ConfigError('unknown split behavior', {
        where: 'pre_tokenizer.behavior',
        actual: behavior as string,
      });
  }
}

/** The fold HF uses for the merging behaviors: join a segment onto the last output when `joins`. */
function mergeInto(
  segments: ReadonlyArray<[string, boolean]>,
  joins: (isMatch: boolean, previousMatch: boolean) => boolean,
  prepend = false,
): string[] {
  const out: string[] = [];
  let previousMatch = false;
  for (const [piece, isMatch] of segments) {
    if (joins(isMatch, previousMatch) && out.length > 0) {
      out[out.length - 1] = prepend
        ? piece + (out[out.length - 1] as string)
        : (out[out.length - 1] as string) + piece;
    } else out.push(piece);
    previousMatch = isMatch;
  }
  return out;
}
