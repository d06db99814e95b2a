/**
 * Unicode as Hugging Face `tokenizers` sees it, independent of the Unicode version of Node's
 * ICU. The Rust library classifies characters with the `unicode_categories` 0.1.1 tables
 * (Unicode 8.0) and normalizes with `unicode-normalization-alignments` 0.1.12 (Unicode 9.0
 * data), while `\p{...}` and `String.normalize` follow whatever Node ships (Unicode 15 to
 * 17 across Node 20 to 24). The tables of hf-char-classes.gen.ts come from the Rust library
 * (tools/make-hf-char-classes.ts); test/tokenizers/bert-char-classes.test.ts checks every
 * code point against it.
 */
import {
  CLEAN_TEXT_DROPPED,
  CLEAN_TEXT_SPACE,
  COMBINING_MARK,
  NONSPACING_MARK,
  NORMALIZATION_HELD,
  PUNCTUATION,
} from './hf-char-classes.gen.js';

/** `0-8,e-1f` as a regex class body, `\u{0}-\u{8}\u{e}-\u{1f}` (for the `u` flag). */
function classBody(table: string): string {
  return table
    .split(',')
    .map((range) =>
      range
        .split('-')
        .map((hex) => `\\u{${hex}}`)
        .join('-'),
    )
    .join('');
}

/** The class body of HF's punctuation (`is_bert_punc`, `is_punc`): ASCII and Unicode 8.0 P*. */
export const PUNCTUATION_CLASS = classBody(PUNCTUATION);

const CLEAN_DROPPED = new RegExp(`[${classBody(CLEAN_TEXT_DROPPED)}]+`, 'gu');
// A space is its own replacement: leaving U+0020 out of the class makes clean_text 6x faster.
const CLEAN_SPACE = new RegExp(
  `[${classBody(
    CLEAN_TEXT_SPACE.split(',')
      .filter((range) => range !== '20')
      .join(','),
  )}]`,
  'gu',
);
const NONSPACING = new RegExp(`[${classBody(NONSPACING_MARK)}]+`, 'gu');
const COMBINING = new RegExp(`[${classBody(COMBINING_MARK)}]+`, 'gu');
const HELD = new RegExp(`[${classBody(NORMALIZATION_HELD)}]`, 'u');
const HELD_ALL = new RegExp(HELD.source, 'gu');
/** HF's `is_chinese_char`: the CJK Unified Ideographs blocks, as BERT's original code lists them. */
const CHINESE =
  /[\u{4e00}-\u{9fff}\u{3400}-\u{4dbf}\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b920}-\u{2ceaf}\u{f900}-\u{faff}\u{2f800}-\u{2fa1f}]/gu;

/**
 * BertNormalizer's clean_text: U+0000, U+FFFD and the controls (Unicode 8.0 Cc, Cf, Co but
 * tab, LF and CR) go; whitespace becomes a space. Unassigned code points stay, as in HF.
 */
export function cleanText(text: string): string {
  return text.replace(CLEAN_DROPPED, '').replace(CLEAN_SPACE, ' ');
}

/** BertNormalizer's handle_chinese_chars: a space either side of each CJK ideograph. */
export function spaceChineseChars(text: string): string {
  return text.replace(CHINESE, ' $& ');
}

/** Remove the nonspacing marks (Unicode 8.0 Mn): BertNormalizer's strip_accents, after NFD. */
export function stripNonspacingMarks(text: string): string {
  return text.replace(NONSPACING, '');
}

/** Remove the combining marks (Unicode 9.0 M): HF's StripAccents normalizer. */
export function stripCombiningMarks(text: string): string {
  return text.replace(COMBINING, '');
}

export type NormalizationForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/**
 * `text.normalize(form)` with Unicode 9.0 data, as HF normalizes. A code point that Unicode
 * 9.0 did not have is, for HF, a starter without decomposition that composes with nothing:
 * it splits the text, each side is normalized alone (the data of older code points never
 * changes, by Unicode's stability policy), and it stays as it is.
 */
export function normalizeLikeHf(text: string, form: NormalizationForm): string {
  if (!HELD.test(text)) return text.normalize(form);
  let out = '';
  let last = 0;
  for (const match of text.matchAll(HELD_ALL)) {
    out += text.slice(last, match.index).normalize(form) + match[0];
    last = match.index + match[0].length;
  }
  return out + text.slice(last).normalize(form);
}

/**
 * Lowercase one character at a time, as Rust's `char::to_lowercase` (HF's Lowercase and
 * BertNormalizer): `String.toLowerCase` alone would write a word-final capital sigma as ς
 * (Unicode's Final_Sigma context), where HF always writes σ.
 */
export function lowercaseCharwise(text: string): string {
  return (text.includes('\u03a3') ? text.replaceAll('\u03a3', '\u03c3') : text).toLowerCase();
}
