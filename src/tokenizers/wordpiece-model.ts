/**
 * WordPiece (Schuster & Nakajima 2012, as used by BERT): greedy longest-match-first over
 * each word, continuation pieces carrying a prefix ("##"). Follows Hugging Face
 * `tokenizers` models/wordpiece: a word with no full cover becomes the unknown token.
 */
import { ConfigError } from '../util/errors.js';

export interface WordPieceOptions {
  readonly vocab: ReadonlyMap<string, number>;
  readonly unkToken: string;
  readonly continuingSubwordPrefix: string;
  readonly maxInputCharsPerWord: number;
}

export class WordPieceModel {
  readonly options: WordPieceOptions;
  private readonly unkId: number;
  private readonly tokens: string[] = [];
  private readonly maxPieceChars: number;

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
    let longest = 1;
    for (const [token, id] of options.vocab) {
      this.tokens[id] = token;
      longest = Math.max(longest, token.length);
    }
    this.maxPieceChars = longest;
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
    const chars = Array.from(word);
    if (chars.length > this.options.maxInputCharsPerWord) {
      out.push(this.unkId);
      spans?.push([0, word.length]);
      return;
    }
    const pieces: number[] = [];
    const ends: number[] = [];
    const prefix = this.options.continuingSubwordPrefix;
    let start = 0;
    while (start < chars.length) {
      let found: number | undefined;
      let end = Math.min(chars.length, start + this.maxPieceChars);
      for (; end > start; end--) {
        const piece = (start > 0 ? prefix : '') + chars.slice(start, end).join('');
        found = this.options.vocab.get(piece);
        if (found !== undefined) break;
      }
      if (found === undefined) {
        out.push(this.unkId);
        spans?.push([0, word.length]);
        return;
      }
      pieces.push(found);
      ends.push(end);
      start = end;
    }
    for (const id of pieces) out.push(id);
    if (spans === undefined) return;
    // Piece ends in characters to UTF-16 units.
    let unit = 0;
    let char = 0;
    for (const end of ends) {
      const from = unit;
      for (; char < end; char++) unit += (chars[char] as string).length;
      spans.push([from, unit]);
    }
  }
}
