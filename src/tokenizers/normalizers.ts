/**
 * Normalizers: text -> text steps run before pre-tokenization, composable as a Sequence.
 * Types and semantics follow Hugging Face `tokenizers` (normalizers/*.rs), so a
 * tokenizer.json `normalizer` object parses straight into a `Normalizer`.
 */
import { ConfigError } from '../util/errors.js';
import {
  cleanText,
  lowercaseCharwise,
  normalizeLikeHf,
  spaceChineseChars,
  stripCombiningMarks,
  stripNonspacingMarks,
} from './hf-unicode.js';
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
      return (text) => normalizeLikeHf(text, form);
    }
    case 'Lowercase':
      return lowercaseCharwise;
    case 'StripAccents':
      return stripCombiningMarks;
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

/** HF BertNormalizer (normalizers/bert.rs), with HF's character classes (hf-unicode.ts). */
function bertNormalizer(options: Extract<Normalizer, { type: 'BertNormalizer' }>): NormalizeFn {
  const { cleanText: clean, handleChineseChars: chinese, lowercase } = options;
  const strip = options.stripAccents ?? lowercase;
  return (text) => {
    let out = clean ? cleanText(text) : text;
    if (chinese) out = spaceChineseChars(out);
    if (strip) out = stripNonspacingMarks(normalizeLikeHf(out, 'NFD'));
    return lowercase ? lowercaseCharwise(out) : out;
  };
}
