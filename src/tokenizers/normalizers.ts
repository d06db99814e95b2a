/**
 * Normalizers: text -> text steps run before pre-tokenization, composable as a Sequence.
 * Types and semantics follow Hugging Face `tokenizers` (normalizers/*.rs), so a
 * tokenizer.json `normalizer` object parses straight into a `Normalizer`.
 */
import { ConfigError } from '../util/errors.js';
import { precompiledNormalizer, type PrecompiledCharsmap } from './precompiled-charsmap.js';
import { compileSplitRegex } from './split-patterns.js';

export type Pattern =
  { readonly kind: 'string'; readonly value: string } | { readonly kind: 'regex'; readonly value: string };

export type Normalizer =
  | { readonly type: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | 'Lowercase' | 'StripAccents' }
  | { readonly type: 'Strip'; readonly left: boolean; readonly right: boolean }
  | { readonly type: 'Replace'; readonly pattern: Pattern; readonly content: string }
  | { readonly type: 'Prepend'; readonly prepend: string }
  | {
      readonly type: 'BertNormalizer';
      readonly cleanText: boolean;
      readonly handleChineseChars: boolean;
      /** undefined: follow `lowercase`, as BERT does. */
      readonly stripAccents: boolean | undefined;
      readonly lowercase: boolean;
    }
  /** Collapse runs of whitespace to one space and trim (a common clean-up step). */
  | { readonly type: 'Whitespace' }
  /** SentencePiece's compiled rules (T5, ALBERT, XLNet...), checked at parse time. */
  | { readonly type: 'Precompiled'; readonly charsmap: PrecompiledCharsmap }
  | { readonly type: 'Sequence'; readonly normalizers: readonly Normalizer[] };

export type NormalizeFn = (text: string) => string;

/** Build the function for a normalizer pipeline. */
export function compileNormalizer(normalizer: Normalizer | null): NormalizeFn {
  if (normalizer === null) return (text) => text;
  switch (normalizer.type) {
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = normalizer.type;
      return (text) => text.normalize(form);
    }
    case 'Lowercase':
      return (text) => text.toLowerCase();
    case 'StripAccents':
      return stripAccents;
    case 'Strip': {
      const { left, right } = normalizer;
      return (text) =>
        left && right ? text.trim() : left ? text.trimStart() : right ? text.trimEnd() : text;
    }
    case 'Replace': {
      const { pattern, content } = normalizer;
      if (pattern.kind === 'string') return (text) => text.split(pattern.value).join(content);
      const regex = compileSplitRegex(pattern.value, 'normalizer.pattern.Regex');
      return (text) => text.replace(regex, () => content);
    }
    case 'Prepend': {
      const prepend = normalizer.prepend;
      return (text) => (text.length === 0 ? text : prepend + text);
    }
    case 'BertNormalizer':
      return bertNormalizer(normalizer);
    case 'Whitespace':
      return (text) => text.replace(/\s+/gu, ' ').trim();
    case 'Precompiled':
      return precompiledNormalizer(normalizer.charsmap);
    case 'Sequence': {
      const steps = normalizer.normalizers.map(compileNormalizer);
      return (text) => steps.reduce((current, step) => step(current), text);
    }
    default:
      throw new ConfigError('unknown normalizer', {
        where: 'normalizer.type',
        actual: (normalizer as { type: string }).type,
      });
  }
}

/** Remove combining marks (category Mn), as HF StripAccents does; callers NFD first. */
function stripAccents(text: string): string {
  return text.replace(/\p{Mn}/gu, '');
}

function isChinese(code: number): boolean {
  return (
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x20000 && code <= 0x2a6df) ||
    (code >= 0x2a700 && code <= 0x2b73f) ||
    (code >= 0x2b740 && code <= 0x2b81f) ||
    (code >= 0x2b920 && code <= 0x2ceaf) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0x2f800 && code <= 0x2fa1f)
  );
}

/** Rust's `char::is_whitespace` (Unicode White_Space), which HF uses. */
const WHITE_SPACE = /^[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]$/u;
/** HF `is_control`: categories Cc, Cf, Cn, Co (tab/newline/CR were handled as whitespace). */
const CONTROL = /^[\p{Cc}\p{Cf}\p{Cn}\p{Co}]$/u;

/** HF BertNormalizer (normalizers/bert.rs). */
function bertNormalizer(options: Extract<Normalizer, { type: 'BertNormalizer' }>): NormalizeFn {
  const strip = options.stripAccents ?? options.lowercase;
  return (text) => {
    let out = '';
    for (const char of text) {
      const code = char.codePointAt(0) as number;
      if (options.cleanText) {
        // Control characters and U+FFFD are dropped; whitespace becomes a plain space.
        // HF filters controls first (tab, LF and CR are not controls there), then maps whitespace.
        if (code === 0 || code === 0xfffd) continue;
        if (char !== '\t' && char !== '\n' && char !== '\r' && CONTROL.test(char)) continue;
        if (WHITE_SPACE.test(char)) {
          out += ' ';
          continue;
        }
      }
      if (options.handleChineseChars && isChinese(code)) out += ` ${char} `;
      else out += char;
    }
    if (strip) out = stripAccents(out.normalize('NFD'));
    if (options.lowercase) out = out.toLowerCase();
    return out;
  };
}
