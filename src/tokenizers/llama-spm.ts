/**
 * The SentencePiece-style tokenizer of a GGUF `tokenizer.ggml.model = "llama"` vocabulary,
 * encoding as llama.cpp's `llama_tokenize` does (llama-vocab.cpp: tokenizer_st_partition,
 * llm_tokenizer_spm_session) and decoding as its `llama_detokenize` / `token_to_piece`:
 *
 * 1. Special tokens (CONTROL and UNKNOWN when allowed, USER_DEFINED always) are cut out of
 *    the text first, longest token first, each at every occurrence left to right.
 * 2. Each remaining fragment gets a leading space when `add_space_prefix` is set and it
 *    starts the text or follows a special token; spaces become U+2581 (▁).
 * 3. The fragment starts as one symbol per character; the adjacent pair whose concatenation
 *    is a token with the highest score is merged (the leftmost on equal scores), again and
 *    again. This is the score-driven merging of SentencePiece BPE, not HF's merge ranks.
 * 4. A symbol that is no token is written as its UTF-8 bytes (`<0xXX>` byte tokens).
 *
 * With special tokens added (the default), BOS comes first when `add_bos_token` says so and
 * EOS last when `add_eos_token` does.
 */
import { TokenizerError } from '../util/errors.js';
import type { TypedIds } from './post-processors.js';
import { byteStreamDecoder } from './stream-decoder.js';
import type { DecodeOptions, EncodeOptions, SpecialTokenSet, StreamDecoder, Tokenizer } from './tokenizer.js';
import type { UnknownCharacters } from './unknown-characters.js';
import { decodeUtf8, wellFormed } from './utf8.js';

/** GGUF token types (tokenizer.ggml.token_type; llama.h's llama_token_type). */
export const tokenTypes = {
  undefined: 0,
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface SpmVocab {
  readonly tokens: readonly string[];
  /** Scores (higher merges first); all 0 when the file has none. */
  readonly scores: Float32Array;
  /** Token types (tokenTypes); all normal when the file has none. */
  readonly types: Int32Array;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly padId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
}

const SPACE = '\u2581';
const encoder = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** One symbol of the merge list: a run of characters [start, start + length) of the fragment. */
interface SpmSymbol {
  start: number;
  length: number;
  prev: number;
  next: number;
}

/** A candidate merge, ordered by score (highest first), then by left symbol (leftmost first). */
interface Bigram {
  readonly left: number;
  readonly right: number;
  readonly score: number;
  readonly size: number;
}

/** A binary max-heap of bigrams in llama.cpp's order. */
class BigramQueue {
  readonly #items: Bigram[] = [];

  static #before(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: Bigram): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!BigramQueue.#before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): Bigram {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && BigramQueue.#before(items[l]!, items[best]!)) best = l;
        if (r < items.length && BigramQueue.#before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

/** A fragment of the text: plain text, or a special token cut out of it. */
type Fragment =
  { readonly kind: 'text'; readonly text: string } | { readonly kind: 'token'; readonly id: number };

function allows(set: SpecialTokenSet, content: string): boolean {
  return set === 'all' || set.has(content);
}

export class LlamaSpmTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly vocab: SpmVocab;
  /** Token text -> id; a text that appears twice maps to its last id, as in llama.cpp. */
  readonly #ids = new Map<string, number>();
  /** Tokens cut out of the text before merging, longest first (CONTROL/UNKNOWN and USER_DEFINED). */
  readonly #cutTokens: readonly number[];
  /** Byte b's token (`<0xXX>`, else the one-character token), or -1. */
  readonly #byteIds = new Int32Array(256).fill(-1);

  constructor(vocab: SpmVocab) {
    this.vocab = vocab;
    this.vocabSize = vocab.tokens.length;
    this.bosId = vocab.bosId;
    this.eosId = vocab.eosId;
    this.padId = vocab.padId;
    this.unkId = vocab.unkId;
    vocab.tokens.forEach((token, id) => this.#ids.set(token, id));
    const specials = new Map<string, number>();
    const cut: number[] = [];
    vocab.tokens.forEach((token, id) => {
      const type = vocab.types[id];
      if (type === tokenTypes.control || type === tokenTypes.unknown) specials.set(token, id);
      if (type === tokenTypes.control || type === tokenTypes.unknown || type === tokenTypes.userDefined) {
        if (token.length > 0) cut.push(id);
      }
    });
    const bytes = (id: number): number => encoder.encode(vocab.tokens[id]!).length;
    this.#cutTokens = cut.sort((a, b) => bytes(b) - bytes(a) || a - b);
    this.specialTokens = specials;
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      const id =
        this.#ids.get(`<0x${hex}>`) ?? (b < 0x80 ? this.#ids.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.#byteIds[b] = id;
    }
  }

  /**
   * Text to ids as llama_tokenize(text, add_special, parse_special) does, with add_special =
   * `addSpecialTokens` (default true) and parse_special for the allowed special tokens.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    const addSpecial = options.addSpecialTokens !== false;
    if (addSpecial && this.vocab.addBos && this.bosId !== undefined) ids.push(this.bosId);
    let previousSpecial = true;
    for (const fragment of this.#partition(wellFormed(text), options)) {
      if (fragment.kind === 'token') {
        ids.push(fragment.id);
        previousSpecial = true;
        continue;
      }
      const prefixed = this.vocab.addSpacePrefix && previousSpecial ? ` ${fragment.text}` : fragment.text;
      this.#encodeFragment(prefixed.replaceAll(' ', SPACE), ids, options.unknown);
      previousSpecial = false;
    }
    if (addSpecial && this.vocab.addEos && this.eosId !== undefined) ids.push(this.eosId);
    return ids;
  }

  /** Step 1: the special tokens cut out of the text, each token in turn, longest first. */
  #partition(text: string, options: EncodeOptions): Fragment[] {
    let fragments: Fragment[] = text.length === 0 ? [] : [{ kind: 'text', text }];
    const allowed = options.allowedSpecial ?? new Set<string>();
    const disallowed = options.disallowedSpecial ?? 'all';
    for (const id of this.#cutTokens) {
      const content = this.vocab.tokens[id]!;
      if (this.specialTokens.has(content) && !allows(allowed, content)) {
        if (
          allows(disallowed, content) &&
          fragments.some((f) => f.kind === 'text' && f.text.includes(content))
        ) {
          throw new TokenizerError('text contains a special token that is not allowed', {
            where: 'encode',
            actual: content,
            hint: `pass allowedSpecial to encode it as a special token (${id}), or disallowedSpecial: new Set() to encode it as text`,
          });
        }
        continue;
      }
      const next: Fragment[] = [];
      for (const fragment of fragments) {
        if (fragment.kind === 'token') {
          next.push(fragment);
          continue;
        }
        const pieces = fragment.text.split(content);
        pieces.forEach((piece, i) => {
          if (i > 0) next.push({ kind: 'token', id });
          if (piece.length > 0) next.push({ kind: 'text', text: piece });
        });
      }
      fragments = next;
    }
    return fragments;
  }

  /** Steps 3 and 4 on one escaped fragment. */
  #encodeFragment(text: string, out: number[], unknown: UnknownCharacters | undefined): void {
    const chars = Array.from(text);
    const symbols: SpmSymbol[] = [];
    let start = 0;
    chars.forEach((char, i) => {
      symbols.push({ start, length: char.length, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 });
      start += char.length;
    });
    const queue = new BigramQueue();
    const tryBigram = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const a = symbols[left]!;
      const b = symbols[right]!;
      const id = this.#ids.get(text.slice(a.start, b.start + b.length));
      if (id === undefined) return;
      queue.push({ left, right, score: this.vocab.scores[id]!, size: a.length + b.length });
    };
    for (let i = 1; i < symbols.length; i++) tryBigram(i - 1, i);
    while (queue.size > 0) {
      const bigram = queue.pop();
      const left = symbols[bigram.left]!;
      const right = symbols[bigram.right]!;
      // Stale: one side was merged away or grew since this pair was queued.
      if (left.length === 0 || right.length === 0 || left.length + right.length !== bigram.size) continue;
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next]!.prev = bigram.left;
      tryBigram(left.prev, bigram.left);
      tryBigram(bigram.left, left.next);
    }
    for (let i = symbols.length > 0 ? 0 : -1; i !== -1; i = symbols[i]!.next) {
      const symbol = symbols[i]!;
      const piece = text.slice(symbol.start, symbol.start + symbol.length);
      const id = this.#ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // Only single characters can be missing (merges make tokens): their bytes, or drop.
      const bytes = encoder.encode(piece);
      const byteIds = Array.from(bytes, (b) => this.#byteIds[b]!);
      if (byteIds.every((b) => b >= 0)) out.push(...byteIds);
      else if (unknown !== undefined) unknown.add(piece === SPACE ? ' ' : piece);
      else {
        throw new TokenizerError('character is not in the vocabulary and it has no byte tokens', {
          where: `encode: ${JSON.stringify(piece)}`,
          hint: 'llama.cpp fails on it too; the vocabulary needs <0xXX> byte tokens for such text',
        });
      }
    }
  }

  encodePair(first: string, second: string, options: EncodeOptions = {}): TypedIds {
    const a = this.encode(first, options);
    const b = this.encode(second, { ...options, addSpecialTokens: false });
    return { ids: [...a, ...b], typeIds: [...a.map(() => 0), ...b.map(() => 1)] };
  }

  /** The bytes llama.cpp's token_to_piece gives `id`, with special tokens as text when `special`. */
  #piece(id: number, special: boolean): Uint8Array {
    const token = this.vocab.tokens[id]!;
    switch (this.vocab.types[id]) {
      case tokenTypes.control:
      case tokenTypes.unknown:
        return special ? encoder.encode(token) : new Uint8Array(0);
      case tokenTypes.userDefined:
        return encoder.encode(token);
      case tokenTypes.normal:
        return encoder.encode(token.replaceAll(SPACE, ' '));
      case tokenTypes.byte: {
        const match = BYTE_TOKEN.exec(token);
        return match === null ? new Uint8Array(0) : Uint8Array.of(parseInt(match[1]!, 16));
      }
      default:
        return new Uint8Array(0);
    }
  }

  #checkId(id: number, index: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) {
      throw new TokenizerError('id is outside the vocabulary', {
        where: `decode: ids[${index}]`,
        expected: `an integer in [0, ${this.vocabSize})`,
        actual: id,
      });
    }
  }

  /**
   * Ids to text as llama_detokenize: with skipSpecialTokens (remove_special) a leading BOS
   * and trailing EOS are dropped and control tokens give nothing, otherwise they show as
   * text; the first piece loses one leading space when the vocabulary adds a space prefix.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens === true;
    ids.forEach((id, i) => this.#checkId(id, i));
    let list = ids;
    let removeSpace = this.vocab.addSpacePrefix;
    if (skip && this.vocab.addBos && list.length > 0 && list[0] === this.bosId) {
      removeSpace = false;
      list = list.slice(1);
    }
    if (skip && this.vocab.addEos && list.length > 0 && list[list.length - 1] === this.eosId) {
      list = list.slice(0, -1);
    }
    const parts: Uint8Array[] = [];
    for (const id of list) {
      let piece = this.#piece(id, !skip);
      if (removeSpace && piece[0] === 0x20) piece = piece.subarray(1);
      removeSpace = false;
      parts.push(piece);
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return decodeUtf8(all);
  }

  /** Streams token pieces as llama.cpp's generation loop prints them (no space stripped). */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const special = options.skipSpecialTokens !== true;
    return byteStreamDecoder((id) => {
      this.#checkId(id, 0);
      return this.#piece(id, special);
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.vocab.tokens[id];
  }

  /**
   * A llama.cpp SentencePiece vocabulary has no exact tokenizer.json form: HF's Llama
   * tokenizer.json merges by rank, llama.cpp by score.
   */
  toJSON(): object {
    throw new TokenizerError('a GGUF SentencePiece vocabulary has no exact tokenizer.json form', {
      where: 'LlamaSpmTokenizer.toJSON',
      hint: "llama.cpp merges by token score, Hugging Face's BPE by merge rank; keep the model as GGUF",
    });
  }
}
