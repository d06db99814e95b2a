/**
 * The byte-level BPE tokenizer of a GGUF `tokenizer.ggml.model = "gpt2"` vocabulary,
 * encoding as llama.cpp's `llama_tokenize` does (llama-vocab.cpp, llm_tokenizer_bpe_session;
 * special tokens are cut out first by ./llama-vocab.ts):
 *
 * 1. The pre-tokenizer's regexes (named by `tokenizer.ggml.pre`) split the text in turn;
 *    matches and the text between them are words.
 * 2. Each word's UTF-8 bytes become GPT-2's printable byte characters; with ignore_merges, a
 *    word that is a token is taken whole.
 * 3. Adjacent symbols are merged by the rank of their pair in `tokenizer.ggml.merges`
 *    (lowest first, the leftmost on equal ranks). Pairs are matched as strings, so a merge
 *    may join parts that are not tokens themselves (HF's BPE, which works on ids, cannot).
 * 4. A final symbol that is no token falls back to its single-byte characters, and what
 *    matches nothing is dropped (reported to `unknown`).
 */
import { BYTE_TO_CHAR, byteLevelToBinary } from './byte-level.js';
import { LlamaVocabTokenizer, type LlamaVocab } from './llama-vocab.js';
import { MergeQueue, type Candidate } from './llama-spm.js';
import { compileSplitRegex } from './split-patterns.js';
import type { UnknownCharacters } from './unknown-characters.js';
import { binaryToBytes, decodeUtf8 } from './utf8.js';

export interface BpeVocab extends LlamaVocab {
  /** Merge rules in rank order. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /** The pre-tokenizer's name (tokenizer.ggml.pre) and its split regexes, applied in turn. */
  readonly pre: string;
  readonly patterns: readonly string[];
  readonly ignoreMerges: boolean;
}

const encoder = new TextEncoder();

interface RankedCandidate extends Candidate {
  readonly rank: number;
  readonly text: string;
}

/** Above this many cached words the cache is cleared (a long text of distinct words). */
const cacheLimit = 100_000;

export class LlamaBpeTokenizer extends LlamaVocabTokenizer {
  /** `left NUL right` -> rank (NUL is 'Ā' in byte-level text, never a raw character). */
  readonly #ranks = new Map<string, number>();
  readonly #regexes: readonly RegExp[];
  readonly #cache = new Map<string, readonly number[]>();

  constructor(readonly vocab: BpeVocab) {
    super(vocab);
    vocab.merges.forEach(([left, right], rank) => {
      const key = `${left}\0${right}`;
      if (!this.#ranks.has(key)) this.#ranks.set(key, rank);
    });
    this.#regexes = vocab.patterns.map((pattern) => compileSplitRegex(pattern, 'tokenizer.ggml.pre'));
  }

  protected get stripsLeadingSpace(): boolean {
    return false;
  }

  protected normalPiece(token: string): Uint8Array {
    const binary = byteLevelToBinary(token);
    return binary === undefined ? encoder.encode(token) : binaryToBytes(binary);
  }

  /** Step 1: the words of a fragment, each regex splitting the words the previous left. */
  #words(text: string): string[] {
    let words = [text];
    for (const regex of this.#regexes) {
      const next: string[] = [];
      for (const word of words) {
        let last = 0;
        regex.lastIndex = 0;
        for (let match = regex.exec(word); match !== null; match = regex.exec(word)) {
          if (match[0].length === 0) {
            regex.lastIndex++;
            continue;
          }
          if (match.index > last) next.push(word.slice(last, match.index));
          next.push(match[0]);
          last = match.index + match[0].length;
        }
        if (last < word.length) next.push(word.slice(last));
      }
      words = next;
    }
    return words;
  }

  protected encodeFragment(
    fragment: string,
    _afterSpecial: boolean,
    out: number[],
    unknown: UnknownCharacters | undefined,
  ): void {
    for (const raw of this.#words(fragment)) {
      const cached = this.#cache.get(raw);
      if (cached !== undefined) {
        out.push(...cached);
        continue;
      }
      const { ids, dropped } = this.#encodeWord(raw, unknown);
      // A word that lost characters is not cached: each occurrence reports them.
      if (!dropped) {
        if (this.#cache.size >= cacheLimit) this.#cache.clear();
        this.#cache.set(raw, ids);
      }
      out.push(...ids);
    }
  }

  /** Steps 2-4 on one word. */
  #encodeWord(raw: string, unknown: UnknownCharacters | undefined): { ids: number[]; dropped: boolean } {
    const word = Array.from(encoder.encode(raw), (b) => BYTE_TO_CHAR[b]!).join('');
    const whole = this.ids.get(word);
    if (this.vocab.ignoreMerges && whole !== undefined) return { ids: [whole], dropped: false };
    // One symbol per byte: [start, end) runs of the word, linked.
    const starts = Array.from({ length: word.length }, (_, i) => i);
    const ends = starts.map((i) => i + 1);
    const next = starts.map((i) => (i + 1 < word.length ? i + 1 : -1));
    const prev = starts.map((i) => i - 1);
    const queue = new MergeQueue<RankedCandidate>(
      (a, b) => a.rank < b.rank || (a.rank === b.rank && a.left < b.left),
    );
    const text = (i: number): string => word.slice(starts[i]!, ends[i]!);
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const rank = this.#ranks.get(`${text(left)}\0${text(right)}`);
      if (rank === undefined) return;
      queue.push({ left, right, rank, text: text(left) + text(right), size: 0 });
    };
    for (let i = 1; i < word.length; i++) tryPair(i - 1, i);
    while (queue.size > 0) {
      const pair = queue.pop();
      const [l, r] = [pair.left, pair.right];
      if (ends[l] === starts[l] || ends[r] === starts[r] || text(l) + text(r) !== pair.text) continue;
      ends[l] = ends[r]!;
      ends[r] = starts[r]!; // emptied
      next[l] = next[r]!;
      if (next[r]! >= 0) prev[next[r]!] = l;
      tryPair(prev[l]!, l);
      tryPair(l, next[l]!);
    }
    const ids: number[] = [];
    let dropped = false;
    for (let i = word.length > 0 ? 0 : -1; i !== -1; i = next[i]!) {
      const symbol = text(i);
      const id = this.ids.get(symbol);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // llama.cpp looks each byte of the symbol's UTF-8 up as a one-byte token: only ASCII can match.
      let found = false;
      for (const char of symbol) {
        const single = char.charCodeAt(0) < 0x80 ? this.ids.get(char) : undefined;
        if (single !== undefined) {
          ids.push(single);
          found = true;
        }
      }
      if (!found) {
        dropped = true;
        unknown?.add(decodeUtf8(binaryToBytes(byteLevelToBinary(symbol) ?? '')));
      }
    }
    return { ids, dropped };
  }
}
