/**
 * sacreBLEU's tokenizers for BLEU (sacrebleu/tokenizers/, version 2.x), applied to one line:
 * - '13a': mteval-v13a.pl, WMT's standard and sacreBLEU's default: unescape the four XML
 *   entities, then split off punctuation and symbols (the regexes of tokenizer_re.py);
 * - 'intl': mteval-v14.pl's international tokenization on Unicode classes: punctuation
 *   unless between digits, and every symbol;
 * - 'char': every character (code point) is a token (joined by single spaces, sacreBLEU's
 *   " ".join(line), so a space in the line becomes three: BLEU splits on whitespace anyway);
 * - 'none': the line as it is.
 * '13a' and 'intl' end with Python's ' '.join(line.split()): one space between tokens.
 */
import { pythonSplit } from './text.js';

export type BleuTokenizer = '13a' | 'intl' | 'char' | 'none';

export const bleuTokenizers: readonly BleuTokenizer[] = ['13a', 'intl', 'char', 'none'];

/** [pattern, replacement] pairs, applied in order, each to every non-overlapping match. */
type Rules = ReadonlyArray<readonly [RegExp, string]>;

const rules13a: Rules = [
  // Symbols and punctuation: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
  [/([{-~[-`\x20-&(-+:-@/])/gu, ' $1 '],
  // Period and comma unless preceded by a digit.
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // Period and comma unless followed by a digit.
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // Dash when preceded by a digit.
  [/([0-9])(-)/gu, '$1 $2 '],
];

const rulesIntl: Rules = [
  // Punctuation preceded by a non-digit, then punctuation followed by a non-digit.
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  // Every symbol.
  [/(\p{S})/gu, ' $1 '],
];

function applyRules(line: string, rules: Rules): string {
  let out = line;
  for (const [pattern, replacement] of rules) out = out.replace(pattern, replacement);
  return pythonSplit(out).join(' ');
}

/** Tokenizes one line as sacreBLEU's tokenizer `name` does. */
export function tokenizeForBleu(line: string, name: BleuTokenizer): string {
  switch (name) {
    case '13a': {
      let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
      if (text.includes('&')) {
        text = text
          .replaceAll('&quot;', '"')
          .replaceAll('&amp;', '&')
          .replaceAll('&lt;', '<')
          .replaceAll('&gt;', '>');
      }
      return applyRules(` ${text} `, rules13a);
    }
    case 'intl':
      return applyRules(line, rulesIntl);
    case 'char':
      return Array.from(line).join(' ');
    case 'none':
      return line;
  }
}
