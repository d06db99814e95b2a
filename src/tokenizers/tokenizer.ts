/**
 * The one interface every tokenizer in lmforge implements (BPE, WordPiece, Unigram, char).
 * Models, training and the CLI code against this, never against a concrete class.
 */
import type { TokenDetails, TypedIds } from './post-processors.js';

import type { UnknownCharacters } from './unknown-characters.js';

/** Which special tokens written literally in the text may become their special id. */
export type SpecialTokenSet = 'all' | ReadonlySet<string>;

export interface EncodeOptions {
  /**
   * Add what the post-processor adds (BOS, CLS/SEP, ...), as Hugging Face's
   * `add_special_tokens=True` does. Default true.
   */
  readonly addSpecialTokens?: boolean;
  /**
   * Special tokens that, written in the text, encode to their special id. Default: 'all'
   * for a tokenizer.json (Hugging Face), none for the built-in tiktoken encodings, and
   * none whenever disallowedSpecial is given.
   */
  readonly allowedSpecial?: SpecialTokenSet;
  /**
   * Special tokens that, written in the text and not allowed, raise a TokenizerError
   * (tiktoken semantics). Default 'all'; pass an empty set to encode them as plain text.
   */
  readonly disallowedSpecial?: SpecialTokenSet;
  /**
   * Collects the characters the vocabulary cannot represent, which are dropped (as Hugging
   * Face drops them). CharTokenizer, which otherwise throws on them, drops and counts them too.
   */
  readonly unknown?: UnknownCharacters | undefined;
  /**
   * A token budget for untrusted input: more ids than this is a TokenizerError, raised while
   * encoding (checked after each word, before the rest of the text is encoded), the
   * post-processor's BOS/EOS included. Default: no limit.
   */
  readonly maxTokens?: number;
}

/**
 * A text or a pair encoded with what HF's `Encoding` holds: ids, type ids, masks, and, where
 * the tokenizer tracks them, offsets and word ids (see `Tokenizer.encodeDetailed`).
 */
export interface Encoding extends TypedIds, TokenDetails {
  /** 1 for every token: lmforge's encode does not pad. */
  readonly attentionMask: number[];
}

export interface DecodeOptions {
  /** Leave special tokens (BOS, EOS, PAD, ...) out of the text. Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Decodes one id at a time and never emits half of a UTF-8 character. */
export interface StreamDecoder {
  /** Text that became complete with this id ('' while a character is still partial). */
  push(id: number): string;
  /** Whatever is left (a truncated character decodes to U+FFFD, as full decode does). */
  flush(): string;
}

export interface Tokenizer {
  /** Number of ids (the largest id + 1, added tokens included). */
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  /** The content of every special token, e.g. `<|endoftext|>`. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /**
   * Text to ids. Lone surrogates encode as U+FFFD does (the text any UTF-8 consumer sees).
   * @example
   * const tok = await loadTokenizer('cl100k_base');
   * tok.encode('hello world'); // [15339, 1917]
   */
  encode(text: string, options?: EncodeOptions): number[];
  /**
   * A pair of texts (question/answer, premise/hypothesis) as one sequence, as HF's
   * `encode(first, second)`: the post-processor's pair template joins them and sets type
   * ids (0 for the first, 1 for the second where the template says so).
   * @example
   * const { ids, typeIds } = bert.encodePair('Who wrote it?', 'Shakespeare wrote it.');
   */
  encodePair(first: string, second: string, options?: EncodeOptions): TypedIds;
  /**
   * A text, or a pair, with every per-token detail HF's `encode` gives: the ids and type ids
   * of `encode`/`encodePair`, the attention and special-tokens masks, sequence ids, and
   * each token's offsets ([start, end) in UTF-16 units of its own input, as `String.slice`
   * takes them) and word ids. Offsets and word ids are undefined for a tokenizer whose
   * pipeline rewrites text in ways whose spans are not tracked (byte-level BPE, SentencePiece);
   * WordPiece tokenizers (BERT) and CharTokenizer have them.
   * @example
   * const text = 'Who wrote Hamlet?';
   * const { ids, offsets } = bert.encodeDetailed(text);
   * offsets!.map(([start, end]) => text.slice(start, end)); // ['', 'Who', 'wrote', 'Hamlet', '?', ''] ([CLS], [SEP]: '')
   */
  encodeDetailed(text: string, pair?: string, options?: EncodeOptions): Encoding;
  /** Ids to text. Throws TokenizerError for an id outside the vocabulary, never otherwise. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** The Hugging Face `tokenizer.json` object for this tokenizer. */
  toJSON(): object;
}
