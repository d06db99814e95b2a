/**
 * The SentencePiece-style tokenizer of a GGUF `tokenizer.ggml.model = "llama"` vocabulary,
 * encoding as llama.cpp's `llama_tokenize` does (llama-vocab.cpp, llm_tokenizer_spm_session;
 * special tokens are cut out first by ./llama-vocab.ts):
 *
 * 1. Each text fragment gets a leading space when `add_space_prefix` is set and it starts
 *    the text or follows a special token; spaces become U+2581 (▁).
 * 2. The fragment starts as one symbol per character; the adjacent pair whose concatenation
 *    is a token with the highest score is merged (the leftmost on equal scores), again and
 *    again. This is the score-driven merging of SentencePiece BPE, not HF's merge ranks.
 * 3. A symbol that is no token is written as its UTF-8 bytes (`<0xXX>` byte tokens); a
 *    character without them is dropped (llama.cpp aborts there instead).
 */
import { LlamaVocabTokenizer, type LlamaVocab } from './llama-vocab.js';
import type { UnknownCharacters } from './unknown-characters.js';

export interface SpmVocab extends LlamaVocab {
  /** Scores (higher merges first); all 0 when the file has none. */
  readonly scores: Float32Array;
  readonly addSpacePrefix: boolean;
}

const SPACE = '\u2581';
const encoder = new TextEncoder();

/** One symbol of the merge list: a run of characters [start, start + length) of the fragment. */
interface SpmSymbol {
  start: number;
  length: number;
  prev: number;
  next: number;
}

/** A candidate merge: by `before`, the highest score first, then the leftmost. */
export interface Candidate {
  readonly left: number;
  readonly right: number;
  readonly size: number;
}

/** A binary heap of merge candidates in the order `before` gives. */
export class MergeQueue<T extends Candidate> {
  readonly #items: T[] = [];

  constructor(readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    const items = this.#items;
    items.push(item);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.before(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): T {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < items.length && this.before(items[l]!, items[best]!)) best = l;
        if (r < items.length && this.before(items[r]!, items[best]!)) best = r;
        if (best === i) break;
        [items[i], items[best]] = [items[best]!, items[i]!];
        i = best;
      }
    }
    return top;
  }
}

interface ScoredCandidate extends Candidate {
  readonly score: number;
}

export class LlamaSpmTokenizer extends LlamaVocabTokenizer {
  /** Byte b's token (`<0xXX>`, else the one-character token), or -1. */
  readonly #byteIds = new Int32Array(256).fill(-1);

  constructor(readonly vocab: SpmVocab) {
    super(vocab);
    for (let b = 0; b < 256; b++) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      const id = this.ids.get(`<0x${hex}>`) ?? (b < 0x80 ? this.ids.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.#byteIds[b] = id;
    }
  }

  protected get stripsLeadingSpace(): boolean {
    return this.vocab.addSpacePrefix;
  }

  protected normalPiece(token: string): Uint8Array {
    return encoder.encode(token.replaceAll(SPACE, ' '));
  }

  protected encodeFragment(
    fragment: string,
    afterSpecial: boolean,
    out: number[],
    unknown: UnknownCharacters | undefined,
  ): void {
    const text = (this.vocab.addSpacePrefix && afterSpecial ? ` ${fragment}` : fragment).replaceAll(
      ' ',
      SPACE,
    );
    const chars = Array.from(text);
    const symbols: SpmSymbol[] = [];
    let start = 0;
    chars.forEach((char, i) => {
      symbols.push({ start, length: char.length, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1 });
      start += char.length;
    });
    const queue = new MergeQueue<ScoredCandidate>(
      (a, b) => a.score > b.score || (a.score === b.score && a.left < b.left),
    );
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const a = symbols[left]!;
      const b = symbols[right]!;
      const id = this.ids.get(text.slice(a.start, b.start + b.length));
      if (id === undefined) return;
      queue.push({ left, right, score: this.vocab.scores[id]!, size: a.length + b.length });
    };
    for (let i = 1; i < symbols.length; i++) tryPair(i - 1, i);
    while (queue.size > 0) {
      const pair = queue.pop();
      const left = symbols[pair.left]!;
      const right = symbols[pair.right]!;
      // Stale: one side was merged away or grew since this pair was queued.
      if (left.length === 0 || right.length === 0 || left.length + right.length !== pair.size) continue;
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next]!.prev = pair.left;
      tryPair(left.prev, pair.left);
      tryPair(pair.left, left.next);
    }
    for (let i = symbols.length > 0 ? 0 : -1; i !== -1; i = symbols[i]!.next) {
      const symbol = symbols[i]!;
      const piece = text.slice(symbol.start, symbol.start + symbol.length);
      const id = this.ids.get(piece);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      // Only single characters can be missing (merges make tokens): their bytes, else the
      // character is dropped as lmforge's other tokenizers drop it (llama.cpp aborts on it).
      const byteIds = Array.from(encoder.encode(piece), (b) => this.#byteIds[b]!);
      if (byteIds.every((b) => b >= 0)) out.push(...byteIds);
      else unknown?.add(piece === SPACE ? ' ' : piece);
    }
  }
}
