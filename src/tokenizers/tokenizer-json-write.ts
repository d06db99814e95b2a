/**
 * Write a TokenizerSpec as a Hugging Face `tokenizer.json` object (the inverse of
 * tokenizer-json-read.ts); the result loads in the `tokenizers` library.
 */
import type { AddedToken } from './added-tokens.js';
import type { Decoder } from './decoders.js';
import type { Normalizer, Pattern } from './normalizers.js';
import type { ModelSpec, TokenizerSpec } from './pipeline-tokenizer.js';
import type { PostProcessor, TemplatePiece } from './post-processors.js';
import type { PreTokenizer } from './pre-tokenizers.js';
import { huggingFaceRenumbers } from './token-ids.js';

function pattern(value: Pattern): object {
  return value.kind === 'string' ? { String: value.value } : { Regex: value.value };
}

export function writeTokenizerJson(
  spec: TokenizerSpec,
  merges: ReadonlyArray<readonly [string, string]>,
): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: spec.addedTokens.map((token) => ({
      id: token.id,
      content: token.content,
      single_word: token.singleWord,
      lstrip: token.lstrip,
      rstrip: token.rstrip,
      normalized: token.normalized,
      special: token.special,
    })),
    normalizer: spec.normalizer === null ? null : normalizer(spec.normalizer),
    pre_tokenizer: spec.preTokenizer === null ? null : preTokenizer(spec.preTokenizer),
    post_processor: spec.postProcessor === null ? null : postProcessor(spec.postProcessor),
    decoder: spec.decoder === null ? null : decoder(spec.decoder),
    model: model(spec.model, merges, spec.addedTokens),
  };
}

function normalizer(value: Normalizer): object {
  switch (value.type) {
    case 'Strip':
      return { type: value.type, strip_left: value.left, strip_right: value.right };
    case 'Replace':
      return { type: value.type, pattern: pattern(value.pattern), content: value.content };
    case 'BertNormalizer':
      return {
        type: value.type,
        clean_text: value.cleanText,
        handle_chinese_chars: value.handleChineseChars,
        strip_accents: value.stripAccents ?? null,
        lowercase: value.lowercase,
      };
    case 'Precompiled':
      // The blob as it was read, byte for byte.
      return { type: value.type, precompiled_charsmap: value.charsmap.base64 };
    case 'Whitespace':
      // Not an HF type: the same effect written with HF steps.
      return {
        type: 'Sequence',
        normalizers: [
          { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
          { type: 'Strip', strip_left: true, strip_right: true },
        ],
      };
    case 'Sequence':
      return { type: value.type, normalizers: value.normalizers.map(normalizer) };
    default:
      return { ...value };
  }
}

function preTokenizer(value: PreTokenizer): object {
  switch (value.type) {
    case 'ByteLevel':
      return {
        type: value.type,
        add_prefix_space: value.addPrefixSpace,
        trim_offsets: value.trimOffsets,
        use_regex: value.useRegex,
      };
    case 'Split':
      return {
        type: value.type,
        pattern: pattern(value.pattern),
        behavior: value.behavior,
        invert: value.invert,
      };
    case 'Digits':
      return { type: value.type, individual_digits: value.individualDigits };
    case 'Metaspace':
      return {
        type: value.type,
        replacement: value.replacement,
        prepend_scheme: value.prependScheme,
        split: value.split,
      };
    case 'Sequence':
      return { type: value.type, pretokenizers: value.pretokenizers.map(preTokenizer) };
    default:
      return { ...value };
  }
}

function decoder(value: Decoder): object {
  switch (value.type) {
    case 'ByteLevel':
      return { type: value.type, add_prefix_space: true, trim_offsets: true, use_regex: true };
    case 'Metaspace':
      return {
        type: value.type,
        replacement: value.replacement,
        prepend_scheme: value.prependScheme,
        split: true,
      };
    case 'Replace':
      return { type: value.type, pattern: pattern(value.pattern), content: value.content };
    case 'Sequence':
      return { type: value.type, decoders: value.decoders.map(decoder) };
    default:
      return { ...value };
  }
}

function templatePiece(piece: TemplatePiece): object {
  return piece.kind === 'special'
    ? { SpecialToken: { id: piece.name, type_id: piece.typeId } }
    : { Sequence: { id: piece.name, type_id: piece.typeId } };
}

function postProcessor(value: PostProcessor): object {
  switch (value.type) {
    case 'ByteLevel':
      return { type: value.type, add_prefix_space: true, trim_offsets: false, use_regex: true };
    case 'TemplateProcessing':
      return {
        type: value.type,
        single: value.single.map(templatePiece),
        ...(value.pair === undefined ? {} : { pair: value.pair.map(templatePiece) }),
        special_tokens: value.specialTokensRaw,
      };
    case 'BertProcessing':
    case 'RobertaProcessing':
      return value.raw as object;
    case 'Sequence':
      return { type: value.type, processors: value.processors.map(postProcessor) };
  }
}

/** The vocabulary by id, with the added tokens HF would renumber (token-ids.ts). */
function writtenVocab(vocab: ReadonlyMap<string, number>, addedTokens: readonly AddedToken[]): object {
  const entries = [...vocab];
  if (huggingFaceRenumbers(vocab, addedTokens)) {
    const extra = new Map<string, number>();
    for (const token of addedTokens)
      if (!vocab.has(token.content) && !extra.has(token.content)) extra.set(token.content, token.id);
    entries.push(...extra);
  }
  return Object.fromEntries(entries.sort((a, b) => a[1] - b[1]));
}

function model(
  value: ModelSpec,
  merges: ReadonlyArray<readonly [string, string]>,
  addedTokens: readonly AddedToken[],
): object {
  switch (value.type) {
    case 'BPE': {
      const options = value.options;
      return {
        type: 'BPE',
        dropout: null,
        unk_token: options.unkToken ?? null,
        continuing_subword_prefix: options.continuingSubwordPrefix ?? null,
        end_of_word_suffix: options.endOfWordSuffix ?? null,
        fuse_unk: options.fuseUnk ?? false,
        byte_fallback: options.byteFallback ?? false,
        ignore_merges: options.ignoreMerges ?? false,
        vocab: writtenVocab(options.vocab, addedTokens),
        merges: merges.map(([left, right]) => [left, right]),
      };
    }
    case 'WordPiece':
      return {
        type: 'WordPiece',
        unk_token: value.options.unkToken,
        continuing_subword_prefix: value.options.continuingSubwordPrefix,
        max_input_chars_per_word: value.options.maxInputCharsPerWord,
        vocab: writtenVocab(value.options.vocab, addedTokens),
      };
    case 'Unigram':
      return {
        type: 'Unigram',
        unk_id: value.options.unkId ?? null,
        vocab: value.options.vocab.map(([piece, score]) => [piece, score]),
        byte_fallback: value.options.byteFallback,
      };
  }
}
