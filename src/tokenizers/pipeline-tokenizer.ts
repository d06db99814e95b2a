/**
 * The Hugging Face pipeline: added tokens -> normalizer -> pre-tokenizer -> model ->
 * post-processor, and decoder for the way back. Every tokenizer loaded from tokenizer.json,
 * a tiktoken rank file or GPT-2's encoder.json, and every trained one, is one of these.
 *
 * A special token written in the text (a rendered chat template holds `<|im_start|>` as
 * text) becomes its id by default, as Hugging Face encodes it; the built-in tiktoken
 * encodings keep tiktoken's refusal instead (`specialsInText: 'refuse'`). Either default
 * gives way to explicit allowedSpecial / disallowedSpecial options.
 */
import { TokenizerError } from '../util/errors.js';
import { AddedTokenMatcher, type AddedToken, type Segment } from './added-tokens.js';
import { BpeModel, type BpeModelOptions } from './bpe-model.js';
import { compileDecoder, type Decoder } from './decoders.js';
import { compileNormalizer, type NormalizeFn, type Normalizer } from './normalizers.js';
import { OffsetEncoder } from './offset-encoder.js';
import {
  addedPrefixAndSuffix,
  postProcess,
  postProcessPair,
  postProcessParts,
  type Part,
  type PostProcessor,
  type TypedIds,
} from './post-processors.js';
import { compilePreTokenizer, type CompiledPreTokenizer, type PreTokenizer } from './pre-tokenizers.js';
import { writeTokenizerJson } from './tokenizer-json-write.js';
import { byteStreamDecoder, windowStreamDecoder } from './stream-decoder.js';
import type { DecodeOptions, EncodeOptions, Encoding, StreamDecoder, Tokenizer } from './tokenizer.js';
import { UnigramModel, type UnigramOptions } from './unigram-model.js';
import type { UnknownCharacters } from './unknown-characters.js';
import { overBudget, tokenBudget } from './token-budget.js';
import { binaryToBytes, decodeUtf8, wellFormed } from './utf8.js';
import { WordPieceModel, type WordPieceOptions } from './wordpiece-model.js';

export type ModelSpec =
  | { readonly type: 'BPE'; readonly options: BpeModelOptions }
  | { readonly type: 'WordPiece'; readonly options: WordPieceOptions }
  | { readonly type: 'Unigram'; readonly options: UnigramOptions };

/** A fully resolved tokenizer: what tokenizer.json describes, parsed and checked. */
export interface TokenizerSpec {
  readonly normalizer: Normalizer | null;
  readonly preTokenizer: PreTokenizer | null;
  readonly model: ModelSpec;
  readonly postProcessor: PostProcessor | null;
  readonly decoder: Decoder | null;
  readonly addedTokens: readonly AddedToken[];
}

interface WordModel {
  readonly size: number;
  /** Appends the ids of one word; what the model cannot represent and drops goes to `unknown`. */
  encodeWord(word: string, out: number[], unknown?: UnknownCharacters): void;
  idToToken(id: number): string | undefined;
}

const utf8Encoder = new TextEncoder();

const BOS_NAMES = [
  '<s>',
  '<bos>',
  '<|begin_of_text|>',
  '<｜begin▁of▁sentence｜>',
  '[CLS]',
  '<|startoftext|>',
];
const EOS_NAMES = ['</s>', '<eos>', '<|endoftext|>', '<|end_of_text|>', '<｜end▁of▁sentence｜>', '[SEP]'];
const PAD_NAMES = ['<pad>', '[PAD]', '<|pad|>', '<｜▁pad▁｜>', '<|finetune_right_pad_id|>'];

/**
 * What a special token written in the text becomes when encode() is given neither
 * allowedSpecial nor disallowedSpecial: its id ('encode', Hugging Face's
 * split_special_tokens=False) or a TokenizerError ('refuse', tiktoken's default).
 */
export type SpecialsInText = 'encode' | 'refuse';

export interface PipelineTokenizerOptions {
  /** Default 'encode' (Hugging Face); the tiktoken encodings pass 'refuse'. */
  readonly specialsInText?: SpecialsInText;
}

export class PipelineTokenizer implements Tokenizer {
  readonly spec: TokenizerSpec;
  readonly specialsInText: SpecialsInText;
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly model: WordModel;
  private readonly normalize: NormalizeFn;
  private readonly preTokenizer: CompiledPreTokenizer;
  private readonly matcher: AddedTokenMatcher;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly addedByContent = new Map<string, AddedToken>();
  private readonly decodeTokens: (tokens: string[]) => string;
  /**
   * Per-id raw bytes, when decoding is pure byte-level (fast path and streaming), each made
   * on first use (see bytesOf): building all 200k of o200k took a fifth of its load.
   */
  private readonly idBytes: Array<Uint8Array | undefined> | undefined;
  /** Made at the first encodeDetailed; null where the pipeline's spans are not tracked. */
  private offsetEncoder: OffsetEncoder | null | undefined;

  constructor(spec: TokenizerSpec, options: PipelineTokenizerOptions = {}) {
    this.spec = spec;
    this.specialsInText = options.specialsInText ?? 'encode';
    this.model = buildModel(spec.model);
    this.normalize = compileNormalizer(spec.normalizer);
    this.preTokenizer = compilePreTokenizer(spec.preTokenizer);
    // HF (added_vocabulary.rs add_tokens): an added token whose content the model already
    // has takes the model's id, whatever id tokenizer.json gives it.
    const addedTokens = spec.addedTokens.map((token) => {
      const modelId = modelTokenToId(spec.model, this.model, token.content);
      return modelId === undefined || modelId === token.id ? token : { ...token, id: modelId };
    });
    this.matcher = new AddedTokenMatcher(addedTokens, this.normalize);
    this.decodeTokens = compileDecoder(spec.decoder);
    const specials = new Map<string, number>();
    let size = this.model.size;
    for (const token of addedTokens) {
      // HF keeps a `normalized: true` token as its normalized text: that is what it decodes to.
      this.addedById.set(
        token.id,
        token.normalized ? { ...token, content: this.normalize(token.content) } : token,
      );
      this.addedByContent.set(token.content, token);
      if (token.special) specials.set(token.content, token.id);
      size = Math.max(size, token.id + 1);
    }
    this.vocabSize = size;
    this.specialTokens = specials;
    const { prefix, suffix } = addedPrefixAndSuffix(spec.postProcessor);
    const named = (names: readonly string[]): number | undefined => {
      for (const name of names) {
        const id = specials.get(name) ?? this.tokenToId(name);
        if (id !== undefined) return id;
      }
      return undefined;
    };
    this.bosId = prefix[0] ?? named(BOS_NAMES);
    this.eosId = suffix[suffix.length - 1] ?? named(EOS_NAMES);
    this.padId = named(PAD_NAMES);
    this.idBytes =
      this.model instanceof BpeModel &&
      spec.model.type === 'BPE' &&
      spec.model.options.symbols === 'bytes' &&
      isByteLevelDecoder(spec.decoder)
        ? new Array<Uint8Array | undefined>(this.vocabSize)
        : undefined;
  }

  /** The raw bytes of `id` for byte-level decoding (idBytes set), or undefined for an unknown id. */
  private bytesOf(table: Array<Uint8Array | undefined>, id: number): Uint8Array | undefined {
    const cached = table[id];
    if (cached !== undefined || !Number.isInteger(id) || id < 0 || id >= table.length) return cached;
    const model = this.model as BpeModel;
    const added = this.addedById.get(id);
    let bytes: Uint8Array | undefined;
    if (added !== undefined) bytes = utf8Encoder.encode(added.content);
    else {
      const binary = model.tokenBinary(id);
      if (binary !== undefined) bytes = binaryToBytes(binary);
      else {
        const token = model.idToToken(id);
        if (token !== undefined) bytes = utf8Encoder.encode(token);
      }
    }
    table[id] = bytes;
    return bytes;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    // Either option given: tiktoken's rules (allowed -> id, disallowed -> error, else text).
    const byDefault = options.allowedSpecial === undefined && options.disallowedSpecial === undefined;
    const allowed =
      options.allowedSpecial ?? (byDefault && this.specialsInText === 'encode' ? 'all' : new Set<string>());
    const disallowed = options.disallowedSpecial ?? 'all';
    const budget = tokenBudget(options);
    const ids: number[] = [];
    for (const segment of this.matcher.split(wellFormed(text), allowed, disallowed)) {
      if (segment.kind === 'token') {
        ids.push(segment.id);
        if (ids.length > budget) throw overBudget(budget);
        continue;
      }
      const normalized = this.normalize(segment.text);
      if (!this.matcher.hasNormalized) {
        this.encodeNormalized(normalized, segment.atStart, ids, options.unknown, budget);
        continue;
      }
      const pieces: Segment[] = [];
      this.matcher.splitNormalized(normalized, segment.atStart, allowed, disallowed, pieces);
      for (const piece of pieces) {
        if (piece.kind === 'token') ids.push(piece.id);
        else this.encodeNormalized(piece.text, piece.atStart, ids, options.unknown, budget);
        if (ids.length > budget) throw overBudget(budget);
      }
    }
    const all = options.addSpecialTokens === false ? ids : postProcess(this.spec.postProcessor, ids);
    if (all.length > budget) throw overBudget(budget);
    return all;
  }

  /** Pre-tokenize normalized text and run the model on each word, appending ids (at most `budget` in all). */
  private encodeNormalized(
    normalized: string,
    atStart: boolean,
    ids: number[],
    unknown: UnknownCharacters | undefined,
    budget = Infinity,
  ): void {
    const regex = this.preTokenizer.singleRegex;
    if (regex !== undefined) {
      // Hot path: the matches (and for an Isolated split the gaps between them) are the words.
      const model = this.model;
      if (!this.preTokenizer.gapsAreWords) {
        const words = normalized.match(regex) ?? [];
        for (let i = 0; i < words.length; i++) {
          model.encodeWord(words[i] as string, ids, unknown);
          if (ids.length > budget) throw overBudget(budget);
        }
        return;
      }
      let last = 0;
      regex.lastIndex = 0;
      for (let match = regex.exec(normalized); match !== null; match = regex.exec(normalized)) {
        const word = match[0];
        if (match.index > last) model.encodeWord(normalized.slice(last, match.index), ids, unknown);
        if (word.length === 0) {
          regex.lastIndex++;
          continue;
        }
        model.encodeWord(word, ids, unknown);
        if (ids.length > budget) throw overBudget(budget);
        last = match.index + word.length;
      }
      if (last < normalized.length) model.encodeWord(normalized.slice(last), ids, unknown);
      return;
    }
    const words = this.preTokenizer.split(normalized, atStart);
    for (let i = 0; i < words.length; i++) {
      this.model.encodeWord(words[i] as string, ids, unknown);
      if (ids.length > budget) throw overBudget(budget);
    }
  }

  /**
   * Encode a pair of sequences (question/answer, premise/hypothesis), as HF's
   * `encode(first, second)`: each is encoded alone, then the post-processor's pair template
   * joins them (BERT: `[CLS] A [SEP] B [SEP]`) and sets the type ids (0 for A, 1 for B where
   * the template says so).
   * @example
   * const { ids, typeIds } = bert.encodePair('Who wrote it?', 'Shakespeare wrote it.');
   */
  encodePair(first: string, second: string, options: EncodeOptions = {}): TypedIds {
    const plain = { ...options, addSpecialTokens: false };
    return postProcessPair(
      this.spec.postProcessor,
      this.encode(first, plain),
      this.encode(second, plain),
      options.addSpecialTokens !== false,
    );
  }

  /**
   * A text, or a pair, with every per-token detail HF's `encode` gives (see
   * `Tokenizer.encodeDetailed`); offsets and word ids for WordPiece tokenizers.
   * @example
   * const { ids, typeIds, offsets } = bert.encodeDetailed('Who wrote it?', 'Shakespeare.');
   */
  encodeDetailed(text: string, pair?: string, options: EncodeOptions = {}): Encoding {
    if (this.offsetEncoder === undefined) {
      const model = this.model instanceof WordPieceModel ? this.model : undefined;
      const encoder = OffsetEncoder.create(this.matcher, this.spec.normalizer, this.preTokenizer, model);
      this.offsetEncoder = encoder ?? null;
    }
    const encoder = this.offsetEncoder;
    const plain = { ...options, addSpecialTokens: false };
    const part = (input: string, sequence: number): Part => {
      if (encoder !== null) return encoder.encode(input, options, sequence);
      const ids = this.encode(input, plain);
      const zeros = new Array<number>(ids.length).fill(0);
      const details = {
        specialTokensMask: zeros,
        sequenceIds: new Array<number>(ids.length).fill(sequence),
        offsets: undefined,
        wordIds: undefined,
      };
      return { ids, typeIds: zeros, details };
    };
    const parts = pair === undefined ? [part(text, 0)] : [part(text, 0), part(pair, 1)];
    const { ids, typeIds, details } = postProcessParts(
      this.spec.postProcessor,
      parts,
      options.addSpecialTokens !== false,
    );
    return { ids, typeIds, attentionMask: new Array<number>(ids.length).fill(1), ...details! };
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens === true;
    const table = this.idBytes;
    if (table !== undefined) {
      const parts: Uint8Array[] = [];
      let length = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as number;
        if (skip && this.addedById.get(id)?.special === true) continue;
        const bytes = this.bytesOf(table, id);
        if (bytes === undefined) throw this.unknownId(id, i);
        parts.push(bytes);
        length += bytes.length;
      }
      const all = new Uint8Array(length);
      let at = 0;
      for (const part of parts) {
        all.set(part, at);
        at += part.length;
      }
      return decodeUtf8(all);
    }
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      const added = this.addedById.get(id);
      if (added !== undefined) {
        if (!(skip && added.special)) tokens.push(added.content);
        continue;
      }
      const token = Number.isInteger(id) ? this.model.idToToken(id) : undefined;
      if (token === undefined) throw this.unknownId(id, i);
      tokens.push(token);
    }
    return this.decodeTokens(tokens);
  }

  private unknownId(id: number, index: number): TokenizerError {
    return new TokenizerError('id is outside the vocabulary', {
      where: `decode: ids[${index}]`,
      expected: `an integer in [0, ${this.vocabSize})`,
      actual: id,
    });
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const table = this.idBytes;
    if (table !== undefined) {
      const skip = options.skipSpecialTokens === true;
      const empty = new Uint8Array(0);
      return byteStreamDecoder((id) => {
        if (skip && this.addedById.get(id)?.special === true) return empty;
        const bytes = this.bytesOf(table, id);
        if (bytes === undefined) throw this.unknownId(id, 0);
        return bytes;
      });
    }
    return windowStreamDecoder((ids) => this.decode(ids, options));
  }

  tokenToId(token: string): number | undefined {
    const added = this.addedByContent.get(token);
    if (added !== undefined) return added.id;
    return modelTokenToId(this.spec.model, this.model, token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.idToToken(id);
  }

  /** The BPE merges in rank order (trained and tiktoken models included). */
  bpeMerges(): Array<[string, string]> {
    return this.model instanceof BpeModel ? this.model.mergeList() : [];
  }

  toJSON(): object {
    return writeTokenizerJson(this.spec, this.bpeMerges());
  }
}

function buildModel(spec: ModelSpec): WordModel {
  switch (spec.type) {
    case 'BPE':
      return new BpeModel(spec.options);
    case 'WordPiece':
      return new WordPieceModel(spec.options);
    case 'Unigram':
      return new UnigramModel(spec.options);
  }
}

function modelTokenToId(spec: ModelSpec, model: WordModel, token: string): number | undefined {
  switch (spec.type) {
    case 'BPE':
    case 'WordPiece':
      return spec.options.vocab.get(token);
    case 'Unigram':
      return (model as UnigramModel).tokenToId(token);
  }
}

function isByteLevelDecoder(decoder: Decoder | null): boolean {
  if (decoder === null) return false;
  if (decoder.type === 'ByteLevel') return true;
  return (
    decoder.type === 'Sequence' &&
    decoder.decoders.length === 1 &&
    isByteLevelDecoder(decoder.decoders[0] ?? null)
  );
}
