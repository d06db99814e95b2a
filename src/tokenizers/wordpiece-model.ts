/**
 * WordPiece (Schuster & Nakajima 2012, as used by BERT): greedy longest-match-first over
 * each word, continuation pieces carrying a prefix ("##"). Follows Hugging Face
 * `tokenizers` models/wordpiece: a word with no full cover, or longer than
 * max_input_chars_per_word characters, becomes the unknown token.
 */
import { ConfigError } from '../util/errors.js';

export interface WordPieceOptions {
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkToken: string;
  readonly continuingSubwordPrefix: string;
  readonly maxInputCharsPerWord: number;
}

/** A word's pieces: their ids, and where each ends in the word (UTF-16 units). */
interface Pieces {
  readonly ids: readonly number[];
  readonly ends: readonly number[];
}

/** Words longer than this are not cached (a long run would just pin memory). */
const CACHE_MAX_WORD = 256;
const CACHE_MAX_ENTRIES = 200_000;
const SURROGATE = /[\uD800-\uDFFF]/;

export class WordPieceModel {
  readonly options: WordPieceOptions;
  private readonly unkId: number;
  private readonly tokens: string[] = [];
  /** The continuation tokens by their text after the prefix: `ing` for `##ing`. */
  private readonly continuations: ReadonlyMap<string, number>;
  /** No piece is longer than this many UTF-16 units (the longest token, prefix included). */
  private readonly maxPieceUnits: number;
  /** Each word's pieces, as BPE caches them: words repeat (Zipf), the search does not need to. */
  private readonly cache = new Map<string, Pieces>();

  constructor(options: WordPieceOptions) {
    this.options = options;
    const unk = options.vocab.get(options.unkToken);
    if (unk === undefined) {
      throw new ConfigError('unk_token is not in the vocabulary', {
        where: 'model.unk_token',
        actual: options.unkToken,
      });
    }
    this.unkId = unk;
    const prefix = options.continuingSubwordPrefix;
    const continuations = new Map<string, number>();
    let longest = 1;
    for (const [token, id] of options.vocab) {
      this.tokens[id] = token;
      longest = Math.max(longest, token.length);
      if (token.startsWith(prefix)) continuations.set(token.slice(prefix.length), id);
    }
    // With no prefix a continuation is any token (the map above is then the vocabulary).
    this.continuations = prefix === '' ? options.vocab : continuations;
    this.maxPieceUnits = longest;
  }

  get size(): number {
    return this.tokens.length;
  }

  idToToken(id: number): string | undefined {
    return this.tokens[id];
  }

  /**
   * Appends the ids of one word; with `spans`, also each piece's [start, end) in `word`
   * (UTF-16 units; the whole word for [UNK]), as HF's WordPiece gives its tokens' offsets.
   */
  encodeWord(word: string, out: number[], _unknown?: unknown, spans?: Array<[number, number]>): void {
    let pieces = this.cache.get(word);
    if (pieces === undefined) {
      pieces = this.split(word);
      if (word.length <= CACHE_MAX_WORD) {
        if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
        this.cache.set(word, pieces);
      }
    }
    const { ids, ends } = pieces;
    for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
    if (spans === undefined) return;
    let start = 0;
    for (const end of ends) {
      spans.push([start, end]);
      start = end;
    }
  }

  /** HF's greedy search: at each position the longest piece in the vocabulary. */
  private split(word: string): Pieces {
    // Character boundaries in UTF-16 units; for the usual word without surrogates, i itself.
    const bounds = SURROGATE.test(word) ? boundaries(word) : undefined;
    const chars = bounds === undefined ? word.length : bounds.length - 1;
    const unknown: Pieces = { ids: [this.unkId], ends: [word.length] };
    if (chars > this.options.maxInputCharsPerWord) return unknown;
    const at = (char: number): number => (bounds === undefined ? char : (bounds[char] as number));
    const ids: number[] = [];
    const ends: number[] = [];
    let start = 0;
    while (start < chars) {
      const table = start === 0 ? this.options.vocab : this.continuations;
      let found: number | undefined;
      let end = Math.min(chars, start + this.maxPieceUnits);
      for (; end > start; end--) {
        found = table.get(word.slice(at(start), at(end)));
        if (found !== undefined) break;
      }
      if (found === undefined) return unknown;
      ids.push(found);
      ends.push(at(end));
      start = end;
    }
    return { ids, ends };
  }
}

/** The UTF-16 index where each character of `word` starts, then `word.length`. */
function boundaries(word: string): number[] {
  const out: number[] = [];
  for (let at = 0; at < word.length; at += (word.codePointAt(at) as number) > 0xffff ? 2 : 1) out.push(at);
  out.push(word.length);
  return out;
}
