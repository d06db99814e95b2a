/**
 * The split patterns of the tiktoken encodings, and a translator from the regex dialects
 * of tiktoken (fancy-regex) and Hugging Face (Oniguruma) to JavaScript.
 *
 * Two dialect differences matter for exact ids:
 * - `\s` there is Unicode White_Space (includes U+0085, excludes U+FEFF); in JS it is the
 *   reverse. We expand `\s` to the White_Space set, so lmforge follows tiktoken/HF (and
 *   differs from js-tiktoken, which uses JS `\s`, on U+0085 and U+FEFF; tested).
 * - `(?i:...)` is not supported by Node 20; letters inside it become classes with their
 *   Unicode simple case folds (s also matches U+017F LONG S, as in Rust and Oniguruma).
 * V8's backtracking engine runs these patterns in linear time on long runs (tested on 1 MB
 * runs of spaces, letters, digits, punctuation and newlines); a user pattern that could
 * backtrack catastrophically is refused before it is compiled (regex-safety.ts).
 */
import { FormatError } from '../util/errors.js';
import { checkBacktracking } from './regex-safety.js';

export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export const CL100K_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const O200K_PATTERN = [
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
  '\\p{N}{1,3}',
  ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*',
  '\\s*[\\r\\n]+',
  '\\s+(?!\\S)',
  '\\s+',
].join('|');

/** Unicode White_Space, as Rust regex and Oniguruma define `\s`. */
const WHITE_SPACE = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Extra simple case folds beyond ASCII for letters that appear in case-insensitive groups. */
const EXTRA_FOLDS: Readonly<Record<string, string>> = { s: '\u017f', k: '\u212a' };

const compiled = new Map<string, RegExp>();

/**
 * Translate a tiktoken/HF regex to a global, unicode JS RegExp (cached), after checking that
 * it cannot backtrack catastrophically (regex-safety.ts). `where` names the field in errors.
 * @throws FormatError when the pattern is not a regex lmforge can run, or is unsafe to run.
 */
export function compileSplitRegex(pattern: string, where = 'pre_tokenizer.pattern.Regex'): RegExp {
  const hit = compiled.get(pattern);
  if (hit !== undefined) return new RegExp(hit.source, hit.flags);
  let regex: RegExp;
  try {
    regex = new RegExp(translate(pattern), 'gu');
  } catch (error) {
    throw new FormatError('not a regex lmforge can run', {
      where,
      actual: JSON.stringify(pattern),
      hint: 'only the Oniguruma features used by common tokenizers are translated',
      cause: error,
    });
  }
  checkBacktracking(pattern, where, positionMatcher);
  compiled.set(pattern, regex);
  return new RegExp(regex.source, regex.flags);
}

/** One character position of a pattern (`\s`, `[^\p{L}]`, `a`...) as an anchored JS RegExp. */
function positionMatcher(source: string, caseless: boolean): RegExp {
  return new RegExp(`^(?:${translate(source)})$`, caseless ? 'iu' : 'u');
}

function translate(pattern: string): string {
  let out = '';
  let inClass = false;
  let caseless = 0; // depth of (?i: groups we are inside
  const groups: boolean[] = []; // for each open group: is it a (?i: group
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '\\') {
      const escaped = pattern[i + 1] ?? '';
      i++;
      if (escaped === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (escaped === 'S') {
        if (inClass) throw new Error('\\S inside a character class is not supported');
        out += `[^${WHITE_SPACE}]`;
      } else if (escaped === 'p' || escaped === 'P') {
        const close = pattern.indexOf('}', i);
        out += '\\' + pattern.slice(i, close + 1);
        i = close;
      } else out += '\\' + escaped;
      continue;
    }
    if (inClass) {
      if (char === ']') inClass = false;
      out += char;
      continue;
    }
    if (char === '[') {
      inClass = true;
      out += char;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (char === '(') {
      if (pattern.startsWith('(?i:', i)) {
        groups.push(true);
        caseless++;
        out += '(?:';
        i += 3;
      } else {
        groups.push(false);
        out += char;
      }
      continue;
    }
    if (char === ')') {
      if (groups.pop() === true) caseless--;
      out += char;
      continue;
    }
    // Possessive quantifiers (`?+`, `++`, `*+`) do not exist in JS; in the patterns used by
    // tokenizers they never change the match, so they become greedy ones.
    if (char === '+' && (pattern[i - 1] === '?' || pattern[i - 1] === '+' || pattern[i - 1] === '*')) {
      if (pattern[i - 2] !== '\\') continue;
    }
    if (caseless > 0 && /[a-z]/i.test(char)) {
      const lower = char.toLowerCase();
      out += `[${lower}${lower.toUpperCase()}${EXTRA_FOLDS[lower] ?? ''}]`;
      continue;
    }
    out += char;
  }
  return out;
}
