/**
 * What llama.cpp's two GGUF vocabulary types share (llama-vocab.cpp), and the base of
 * ./llama-spm.ts and ./llama-bpe.ts: token types, the cutting of special tokens out of the
 * text before anything else (tokenizer_st_partition: CONTROL and UNKNOWN tokens when
 * allowed, USER_DEFINED always, longest token first, each at every occurrence), BOS/EOS
 * per the vocabulary's flags, and token pieces as token_to_piece gives them.
 */
import { TokenizerError } from '../util/errors.js';
import type { TypedIds } from './post-processors.js';
import { byteStreamDecoder } from './stream-decoder.js';
import type {
  DecodeOptions,
  EncodeOptions,
  Encoding,
  SpecialTokenSet,
  StreamDecoder,
  Tokenizer,
} from './tokenizer.js';
import type { UnknownCharacters } from './unknown-characters.js';
import { decodeUtf8, wellFormed } from './utf8.js';
import { overBudget, tokenBudget } from './token-budget.js';

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

/** A llama.cpp vocabulary, resolved: the ids llama.cpp settles on and its flags. */
export interface LlamaVocab {
  readonly tokens: readonly string[];
  /** Token types (tokenTypes); all normal when the file has none. */
  readonly types: Int32Array;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly unkId: number | undefined;
  readonly padId: number | undefined;
  readonly addBos: boolean;
  readonly addEos: boolean;
}

/** A fragment of the text: plain text, or a special token cut out of it. */
export type Fragment =
  { readonly kind: 'text'; readonly text: string } | { readonly kind: 'token'; readonly id: number };

const encoder = new TextEncoder();
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

function allows(set: SpecialTokenSet, content: string): boolean {
  return set === 'all' || set.has(content);
}

export abstract class LlamaVocabTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  readonly specialTokens: ReadonlyMap<string, number>;
  /** Token text -> id; a text that appears twice maps to its last id, as in llama.cpp. */
  protected readonly ids = new Map<string, number>();
  /** Tokens cut out of the text first, longest first (CONTROL/UNKNOWN and USER_DEFINED). */
  readonly #cutTokens: readonly number[];

  constructor(readonly base: LlamaVocab) {
    this.vocabSize = base.tokens.length;
    this.bosId = base.bosId;
    this.eosId = base.eosId;
    this.padId = base.padId;
    this.unkId = base.unkId;
    base.tokens.forEach((token, id) => this.ids.set(token, id));
    const specials = new Map<string, number>();
    const cut: number[] = [];
    base.tokens.forEach((token, id) => {
      const type = base.types[id];
      if (type === tokenTypes.control || type === tokenTypes.unknown) specials.set(token, id);
      const cuts =
        type === tokenTypes.control || type === tokenTypes.unknown || type === tokenTypes.userDefined;
      if (cuts && token.length > 0) cut.push(id);
    });
    const bytes = (id: number): number => encoder.encode(base.tokens[id]!).length;
    this.#cutTokens = cut.sort((a, b) => bytes(b) - bytes(a) || a - b);
    this.specialTokens = specials;
  }

  /** Appends the ids of one text fragment; `afterSpecial` when it starts the text or follows a special token. */
  protected abstract encodeFragment(
    text: string,
    afterSpecial: boolean,
    out: number[],
    unknown: UnknownCharacters | undefined,
  ): void;

  /**
   * Text to ids as llama_tokenize(text, add_special, parse_special) does, with add_special =
   * `addSpecialTokens` (default true) and parse_special for the allowed special tokens.
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    const budget = tokenBudget(options);
    const addSpecial = options.addSpecialTokens !== false;
    if (addSpecial && this.base.addBos && this.bosId !== undefined) ids.push(this.bosId);
    let afterSpecial = true;
    for (const fragment of this.#partition(wellFormed(text), options)) {
      if (fragment.kind === 'token') {
        ids.push(fragment.id);
        afterSpecial = true;
        continue;
      }
      this.encodeFragment(fragment.text, afterSpecial, ids, options.unknown);
      if (ids.length > budget) throw overBudget(budget);
      afterSpecial = false;
    }
    if (addSpecial && this.base.addEos && this.eosId !== undefined) ids.push(this.eosId);
    if (ids.length > budget) throw overBudget(budget);
    return ids;
  }

  /** The special tokens cut out of the text, each token in turn, longest first. */
  #partition(text: string, options: EncodeOptions): Fragment[] {
    let fragments: Fragment[] = text.length === 0 ? [] : [{ kind: 'text', text }];
    const allowed = options.allowedSpecial ?? new Set<string>();
    const disallowed = options.disallowedSpecial ?? 'all';
    for (const id of this.#cutTokens) {
      const content = this.base.tokens[id]!;
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
        fragment.text.split(content).forEach((piece, i) => {
          if (i > 0) next.push({ kind: 'token', id });
          if (piece.length > 0) next.push({ kind: 'text', text: piece });
        });
      }
      fragments = next;
    }
    return fragments;
  }

  encodePair(first: string, second: string, options: EncodeOptions = {}): TypedIds {
    const a = this.encode(first, options);
    const b = this.encode(second, { ...options, addSpecialTokens: false });
    return { ids: [...a, ...b], typeIds: [...a.map(() => 0), ...b.map(() => 1)] };
  }

  /**
   * The ids and type ids of `encode`/`encodePair`, with the BOS/EOS this adds marked in the
   * special-tokens mask; no offsets or word ids (llama.cpp's pipeline does not track spans).
   */
  encodeDetailed(text: string, pair?: string, options: EncodeOptions = {}): Encoding {
    const inner = { ...options, addSpecialTokens: false };
    const addSpecial = options.addSpecialTokens !== false;
    const out: Encoding = {
      ids: [],
      typeIds: [],
      attentionMask: [],
      specialTokensMask: [],
      sequenceIds: [],
      offsets: undefined,
      wordIds: undefined,
    };
    const push = (id: number, sequence: number, special: boolean): void => {
      out.ids.push(id);
      out.typeIds.push(sequence);
      out.attentionMask.push(1);
      out.specialTokensMask.push(special ? 1 : 0);
      out.sequenceIds.push(special ? null : sequence);
    };
    if (addSpecial && this.base.addBos && this.bosId !== undefined) push(this.bosId, 0, true);
    for (const id of this.encode(text, inner)) push(id, 0, false);
    if (pair === undefined && addSpecial && this.base.addEos && this.eosId !== undefined)
      push(this.eosId, 0, true);
    if (pair !== undefined) for (const id of this.encode(pair, inner)) push(id, 1, false);
    return out;
  }

  /** The bytes of a NORMAL token (SentencePiece: ▁ as space; BPE: byte-level characters as bytes). */
  protected abstract normalPiece(token: string): Uint8Array;

  /** The bytes llama.cpp's token_to_piece gives `id`, with special tokens as text when `special`. */
  protected piece(id: number, special: boolean): Uint8Array {
    const token = this.base.tokens[id]!;
    switch (this.base.types[id]) {
      case tokenTypes.control:
      case tokenTypes.unknown:
        return special ? encoder.encode(token) : new Uint8Array(0);
      case tokenTypes.userDefined:
        return encoder.encode(token);
      case tokenTypes.normal:
        return this.normalPiece(token);
      case tokenTypes.byte: {
        const match = BYTE_TOKEN.exec(token);
        return match === null ? new Uint8Array(0) : Uint8Array.of(parseInt(match[1]!, 16));
      }
      default:
        return new Uint8Array(0);
    }
  }

  protected checkId(id: number, index: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) {
      throw new TokenizerError('id is outside the vocabulary', {
        where: `decode: ids[${index}]`,
        expected: `an integer in [0, ${this.vocabSize})`,
        actual: id,
      });
    }
  }

  /** Whether decode drops one leading space of the first piece (SentencePiece's space prefix). */
  protected abstract get stripsLeadingSpace(): boolean;

  /**
   * Ids to text as llama_detokenize: with skipSpecialTokens (remove_special) a leading BOS
   * and trailing EOS are dropped and control tokens give nothing, otherwise they show as
   * text; with a space prefix, the first piece loses one leading space.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens === true;
    ids.forEach((id, i) => this.checkId(id, i));
    let list = ids;
    let removeSpace = this.stripsLeadingSpace;
    if (skip && this.base.addBos && list.length > 0 && list[0] === this.bosId) {
      removeSpace = false;
      list = list.slice(1);
    }
    if (skip && this.base.addEos && list.length > 0 && list[list.length - 1] === this.eosId) {
      list = list.slice(0, -1);
    }
    const parts: Uint8Array[] = [];
    for (const id of list) {
      let piece = this.piece(id, !skip);
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
      this.checkId(id, 0);
      return this.piece(id, special);
    });
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.base.tokens[id];
  }

  /**
   * A llama.cpp vocabulary has no exact tokenizer.json form: llama.cpp merges SentencePiece
   * pieces by score and BPE pairs by their strings, HF's BPE by merge ranks over vocabulary ids.
   */
  toJSON(): object {
    throw new TokenizerError('a GGUF vocabulary has no exact tokenizer.json form', {
      where: `${this.constructor.name}.toJSON`,
      hint: 'llama.cpp merges differently from Hugging Face tokenizers; keep the model as GGUF',
    });
  }
}
