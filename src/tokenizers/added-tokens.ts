/**
 * Added tokens (special tokens such as `<|endoftext|>`, `<s>`, chat markers, and extra
 * non-special tokens), found as Hugging Face `tokenizers` (added_vocabulary.rs) finds them:
 * tokens with `normalized: false` in the raw text first; then tokens with `normalized: true`,
 * written through the normalizer, in the normalized text of each piece left over. Matches
 * are leftmost-longest and do not overlap. `single_word` drops a match with a word
 * character (Rust regex `\w`) right before or after it in the piece; `lstrip`/`rstrip`
 * take the whitespace on that side (never text a previous match already took).
 *
 * Special tokens follow tiktoken's allowed/disallowed semantics: an allowed one becomes its
 * id; a disallowed one throws; one that is neither is ordinary text.
 */
import { TokenizerError } from '../util/errors.js';
import type { SpecialTokenSet } from './tokenizer.js';

export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
  readonly special: boolean;
}

/** A special token matched in the raw text as a whole, as tiktoken and HF's BpeTrainer add them. */
export function specialToken(content: string, id: number): AddedToken {
  return { id, content, singleWord: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/**
 * A run of text to normalize and pre-tokenize, or an added token's id; `start` (and a
 * token's `end`, whitespace it strips included) are positions in the text that was split.
 */
export type Segment =
  | { readonly kind: 'text'; readonly text: string; readonly atStart: boolean; readonly start: number }
  | { readonly kind: 'token'; readonly id: number; readonly start: number; readonly end: number };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function inSet(set: SpecialTokenSet, content: string): boolean {
  return set === 'all' || set.has(content);
}

/** Rust regex `\w` (Unicode): alphabetic, marks, decimal digits, connector punctuation, ZWJ/ZWNJ. */
const WORD_CHAR = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
/** Rust regex `\s` (Unicode White_Space; JS `\s` differs on U+0085 and U+FEFF). */
const SPACE_CHAR = /^\p{White_Space}$/u;

function codePointBefore(text: string, at: number): string {
  const low = text.charCodeAt(at - 1);
  if (at >= 2 && low >= 0xdc00 && low <= 0xdfff) {
    const high = text.charCodeAt(at - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(at - 2, at);
  }
  return text.slice(at - 1, at);
}

function codePointAt(text: string, at: number): string {
  return String.fromCodePoint(text.codePointAt(at) as number);
}

/** One leftmost-longest matcher over a set of patterns (raw or normalized contents). */
class PatternSet {
  private readonly regex: RegExp | undefined;
  private readonly byPattern = new Map<string, AddedToken>();

  constructor(entries: ReadonlyArray<readonly [string, AddedToken]>) {
    for (const [pattern, token] of entries) {
      // The first token wins when two normalize to the same pattern.
      if (pattern.length > 0 && !this.byPattern.has(pattern)) this.byPattern.set(pattern, token);
    }
    // Alternatives longest first: at the leftmost position the longest one matches.
    const patterns = [...this.byPattern.keys()].sort((a, b) => b.length - a.length);
    this.regex = patterns.length === 0 ? undefined : new RegExp(patterns.map(escapeRegex).join('|'), 'gu');
  }

  /** Split `text` into segments (HF find_matches); `atStart`: the text begins the input. */
  split(
    text: string,
    atStart: boolean,
    allowed: SpecialTokenSet,
    disallowed: SpecialTokenSet,
    out: Segment[],
  ): void {
    const regex = this.regex;
    if (regex === undefined) {
      if (text.length > 0) out.push({ kind: 'text', text, atStart, start: 0 });
      return;
    }
    let last = 0;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      const token = this.byPattern.get(match[0]) as AddedToken;
      let start = match.index;
      let end = start + match[0].length;
      if (token.special && !inSet(allowed, token.content)) {
        if (inSet(disallowed, token.content)) {
          throw new TokenizerError('text contains a special token that is not allowed', {
            where: 'encode',
            actual: token.content,
            hint: `pass allowedSpecial to encode it as a special token (${token.id}), or disallowedSpecial: new Set() to encode it as text`,
          });
        }
        continue;
      }
      if (token.singleWord) {
        const wordBefore = start > 0 && WORD_CHAR.test(codePointBefore(text, start));
        const wordAfter = end < text.length && WORD_CHAR.test(codePointAt(text, end));
        if (wordBefore || wordAfter) continue;
      }
      if (token.lstrip) {
        while (start > last) {
          const before = codePointBefore(text, start);
          if (!SPACE_CHAR.test(before)) break;
          start -= before.length;
        }
      }
      if (token.rstrip) {
        while (end < text.length) {
          const after = codePointAt(text, end);
          if (!SPACE_CHAR.test(after)) break;
          end += after.length;
        }
      }
      if (start > last)
        out.push({
          kind: 'text',
          text: text.slice(last, start),
          atStart: atStart && last === 0,
          start: last,
        });
      out.push({ kind: 'token', id: token.id, start, end });
      last = end;
      // The search goes on from the end of the match itself, as aho-corasick's find_iter does.
    }
    if (last < text.length)
      out.push({ kind: 'text', text: text.slice(last), atStart: atStart && last === 0, start: last });
  }
}

export class AddedTokenMatcher {
  private readonly raw: PatternSet;
  private readonly normalized: PatternSet;
  readonly hasNormalized: boolean;

  /** `normalize` writes the `normalized: true` tokens the way the text will be written. */
  constructor(tokens: readonly AddedToken[], normalize: (text: string) => string) {
    this.raw = new PatternSet(tokens.filter((t) => !t.normalized).map((t) => [t.content, t] as const));
    const normalized = tokens.filter((t) => t.normalized);
    this.hasNormalized = normalized.length > 0;
    this.normalized = new PatternSet(normalized.map((t) => [normalize(t.content), t] as const));
  }

  /**
   * Pass 1: split the raw `text` on the `normalized: false` tokens.
   * @throws TokenizerError when a disallowed special token occurs in the text.
   */
  split(text: string, allowed: SpecialTokenSet, disallowed: SpecialTokenSet): Segment[] {
    const out: Segment[] = [];
    this.raw.split(text, true, allowed, disallowed, out);
    return out;
  }

  /** Pass 2: split one normalized text piece on the `normalized: true` tokens. */
  splitNormalized(
    normalizedText: string,
    atStart: boolean,
    allowed: SpecialTokenSet,
    disallowed: SpecialTokenSet,
    out: Segment[],
  ): void {
    this.normalized.split(normalizedText, atStart, allowed, disallowed, out);
  }
}
