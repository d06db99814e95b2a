/**
 * Added tokens (special tokens such as `<|endoftext|>`, `<s>`, chat markers, and extra
 * non-special tokens) are found in the raw text before normalization, longest match at the
 * leftmost position, as Hugging Face `tokenizers` (added_vocabulary.rs) does.
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

/** A run of text to normalize and pre-tokenize, or an added token's id. */
export type Segment =
  | { readonly kind: 'text'; readonly text: string; readonly atStart: boolean }
  | { readonly kind: 'token'; readonly id: number };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function inSet(set: SpecialTokenSet, content: string): boolean {
  return set === 'all' || set.has(content);
}

export class AddedTokenMatcher {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly regex: RegExp | undefined;

  constructor(tokens: readonly AddedToken[]) {
    for (const token of tokens) this.byContent.set(token.content, token);
    const contents = [...this.byContent.keys()]
      .filter((c) => c.length > 0)
      .sort((a, b) => b.length - a.length);
    this.regex = contents.length === 0 ? undefined : new RegExp(contents.map(escapeRegex).join('|'), 'gu');
  }

  /**
   * Split `text` into text runs and token ids.
   * @throws TokenizerError when a disallowed special token occurs in the text.
   */
  split(text: string, allowed: SpecialTokenSet, disallowed: SpecialTokenSet): Segment[] {
    const regex = this.regex;
    if (regex === undefined) return text.length === 0 ? [] : [{ kind: 'text', text, atStart: true }];
    const segments: Segment[] = [];
    let last = 0;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      const token = this.byContent.get(match[0]) as AddedToken;
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
      if (token.singleWord && !isWordBoundary(text, start, end)) continue;
      if (token.lstrip) while (start > last && /\s/u.test(text[start - 1] as string)) start--;
      if (token.rstrip) while (end < text.length && /\s/u.test(text[end] as string)) end++;
      if (start > last) segments.push({ kind: 'text', text: text.slice(last, start), atStart: last === 0 });
      segments.push({ kind: 'token', id: token.id });
      last = end;
      regex.lastIndex = end;
    }
    if (last < text.length) segments.push({ kind: 'text', text: text.slice(last), atStart: last === 0 });
    return segments;
  }
}

function isWordBoundary(text: string, start: number, end: number): boolean {
  const word = /[\p{L}\p{N}_]/u;
  return (
    (start === 0 || !word.test(text[start - 1] as string)) &&
    (end === text.length || !word.test(text[end] as string))
  );
}
