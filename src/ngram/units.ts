/**
 * What an n-gram model counts: the units of a line of text.
 * - word: whitespace-separated words, one sentence a line (the ARPA convention, and the
 *   default). `<s>` and `</s>` written in the text are errors (as KenLM's lmplz says);
 *   `<unk>` in the text is the unknown word.
 * - char: every Unicode code point of the line (spaces included; the line break is </s>).
 * - tokenizer: the tokens of a tokenizer (BPE, WordPiece, ...) for the line, special tokens
 *   not added.
 * Char and tokenizer units may hold whitespace, which an ARPA file cannot: they are kept
 * escaped, `\\` for a backslash, `\s` a space, `\t` `\n` `\r`, `\u{hex}` other whitespace,
 * and a leading `\` before a unit spelled like a reserved symbol (`\<s>`). The escaped
 * string is the unit everywhere (vocabulary, ARPA), so `unescapeUnit` is needed only to
 * turn units back into text.
 */
import { createHash } from 'node:crypto';
import type { Tokenizer } from '../tokenizers/index.js';
import { FormatError } from '../util/errors.js';
import { bosWord, eosWord, unkWord } from './vocabulary.js';
import { jsonText } from '../util/preview.js';

/** How the units were made, as an ARPA header records it. */
export type NgramUnitsSpec =
  | { readonly kind: 'word' }
  | { readonly kind: 'char' }
  /** `path` where the tokenizer was read, `sha256` of its tokenizer.json (to check it is the same one). */
  | { readonly kind: 'tokenizer'; readonly path: string; readonly sha256: string };

export interface NgramUnits {
  readonly spec: NgramUnitsSpec;
  /** The units of one line (no line break in it). */
  split(line: string): string[];
  /** Units back to text (for generation), units of one line. */
  join(units: readonly string[]): string;
}

const named: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  ' ': '\\s',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};
const reserved = new Set([bosWord, eosWord, unkWord]);

/** A unit as the vocabulary and ARPA files hold it (see the file header). */
export function escapeUnit(unit: string): string {
  let out = reserved.has(unit) ? '\\' : '';
  for (const char of unit) {
    const short = named[char];
    if (short !== undefined) out += short;
    else if (/\s/u.test(char)) out += `\\u{${char.codePointAt(0)!.toString(16)}}`;
    else out += char;
  }
  return out;
}

/** The text of an escaped unit; a backslash sequence that escapeUnit never writes is a FormatError. */
export function unescapeUnit(unit: string, where = 'unescapeUnit'): string {
  if (!unit.includes('\\')) return unit;
  return unit.replace(/\\(u\{([0-9a-f]{1,6})\}|.)/gu, (all, code: string, hex: string | undefined) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    switch (code) {
      case '\\':
        return '\\';
      case 's':
        return ' ';
      case 't':
        return '\t';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case '<':
        return '<';
    }
    throw new FormatError('unknown escape in an n-gram unit', {
      where,
      expected: '\\\\ \\s \\t \\n \\r \\u{hex} or \\< (see lmforge n-gram units)',
      actual: jsonText(all),
    });
  });
}

export const wordUnits: NgramUnits = {
  spec: { kind: 'word' },
  split: (line) => line.split(/\s+/u).filter((word) => word !== ''),
  join: (units) => units.join(' '),
};

/** escapeUnit of single characters, remembered (a pure function of the character). */
const escapedChars = new Map<string, string>();

export const charUnits: NgramUnits = {
  spec: { kind: 'char' },
  split: (line) => {
    const out: string[] = [];
    for (const char of line) {
      let unit = escapedChars.get(char);
      if (unit === undefined) {
        unit = escapeUnit(char);
        escapedChars.set(char, unit);
      }
      out.push(unit);
    }
    return out;
  },
  join: (units) => units.map((unit) => unescapeUnit(unit)).join(''),
};

/** SHA-256 of a tokenizer's tokenizer.json object (its identity in an ARPA header). */
export function tokenizerHash(tokenizer: Tokenizer): string {
  return createHash('sha256').update(JSON.stringify(tokenizer.toJSON())).digest('hex');
}

/**
 * Units of a tokenizer's tokens; `path` is recorded in the ARPA header.
 * @example
 * const units = tokenizerUnits(await loadTokenizer('gpt2'), 'gpt2');
 * units.split('Hello world'); // ['Hello', 'Ġworld']
 */
export function tokenizerUnits(tokenizer: Tokenizer, path: string): NgramUnits {
  return {
    spec: { kind: 'tokenizer', path, sha256: tokenizerHash(tokenizer) },
    split: (line) =>
      tokenizer
        .encode(line, { addSpecialTokens: false, disallowedSpecial: new Set() })
        .map((id) => escapeUnit(tokenizer.idToToken(id) ?? '')),
    join: (units) =>
      tokenizer.decode(
        units.flatMap((unit) => {
          const id = tokenizer.tokenToId(unescapeUnit(unit));
          return id === undefined ? [] : [id];
        }),
      ),
  };
}

/**
 * The lines of a text as n-gram sentences: split at \n, a \r before it dropped (CRLF
 * files), and no empty last line after a final line break. Empty lines are sentences too
 * (their only event is </s>).
 */
export function textLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}
