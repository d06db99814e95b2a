/**
 * Byte-pair encoding model (Sennrich et al. 2016; GPT-2's byte-level variant).
 * Encoding follows Hugging Face `tokenizers` (models/bpe/word.rs): repeatedly merge the
 * adjacent pair with the lowest rank, leftmost first on ties. Short words use a plain
 * scan (fast for the usual 1-10 symbols); long words use a heap over a linked list so a
 * 1 MB run of one character stays O(n log n) instead of tiktoken's O(n^2).
 */
import { binaryToByteLevel, byteLevelToBinary } from './byte-level.js';
import { ByteLevelVocab } from './byte-level-vocab.js';
import { PairTable } from './pair-table.js';
import type { UnknownCharacters } from './unknown-characters.js';
import { toBinary, isAscii } from './utf8.js';

export interface BpeModelOptions {
  /** token (as written in tokenizer.json) -> id. */
  readonly vocab: ReadonlyMap<string, number>;
  /** Merge rules in rank order (rank = index), as in tokenizer.json. */
  readonly merges: ReadonlyArray<readonly [string, string]>;
  /**
   * Symbols start as UTF-8 bytes (GPT-2 byte-level, vocab written with the byte-to-unicode
   * table) or as Unicode characters (SentencePiece-style BPE).
   */
  readonly symbols: 'bytes' | 'chars';
  readonly unkToken?: string | undefined;
  readonly fuseUnk?: boolean;
  readonly byteFallback?: boolean;
  readonly continuingSubwordPrefix?: string | undefined;
  readonly endOfWordSuffix?: string | undefined;
  /** Return a word found whole in the vocabulary without merging (tiktoken, Llama 3). */
  readonly ignoreMerges?: boolean;
  /**
   * tiktoken semantics: rank of a merge is the id of its result, and every split of a
   * token into two tokens is a merge (set by the rank-file loaders; merges then unused).
   */
  readonly ranksAreIds?: boolean;
}

/** The token a merge of `left` and `right` makes (a continuing-subword prefix on the right is dropped). */
export function mergedToken(left: string, right: string, prefix: string | undefined): string {
  return prefix !== undefined && prefix.length > 0 && right.startsWith(prefix)
    ? left + right.slice(prefix.length)
    : left + right;
}

/** Above this many symbols a word is merged with a heap instead of repeated scans. */
const HEAP_THRESHOLD = 48;
/** Pieces longer than this are not cached (a 1 MB run would just pin memory). */
const CACHE_MAX_PIECE = 256;
const CACHE_MAX_ENTRIES = 200_000;
const LAZY_MERGES_MAX = 8_000_000;

export class BpeModel {
  readonly options: BpeModelOptions;
  /** Lookup key -> id; for byte-level models the key is the token's binary string. */
  private readonly index: ReadonlyMap<string, number>;
  /** Token of each id, as in the vocab; left empty when tokensFromKeys. */
  private readonly tokens: string[] = [];
  /** The vocab is a ByteLevelVocab: a token is its key's printable form, made on demand. */
  private readonly tokensFromKeys: boolean;
  /** (left id, right id) -> (merge rank, merged id). */
  private mergeTable: PairTable = new PairTable();
  /**
   * tiktoken models (ranksAreIds) fill mergeTable lazily: a pair is looked up (is the
   * concatenation of the two tokens a token?) the first time encoding meets it, and the
   * answer, yes or no (rank -1), is kept. Building all ~450k merges of o200k up front took
   * 0.5-1.5 s of every load; encoding meets a small fraction of them.
   */
  private readonly lazyMerges: boolean;
  /** Lookup key of each id (binary string for byte-level models), for lazy merges. */
  private readonly keys: string[] = [];
  /** For list merges: 1 where the rule at that rank is in the table. */
  private keptMerges: Uint8Array | undefined;
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly byteFallbackIds = new Int32Array(256).fill(-1);
  private readonly unkId: number | undefined;
  private readonly cache = new Map<string, number[]>();

  constructor(options: BpeModelOptions) {
    this.options = options;
    this.tokensFromKeys = options.symbols === 'bytes' && options.vocab instanceof ByteLevelVocab;
    if (this.tokensFromKeys) {
      // Already keyed by binary strings (tiktoken encodings): index it as is.
      this.index = (options.vocab as ByteLevelVocab).binary;
      for (const [key, id] of this.index) this.keys[id] = key;
    } else {
      const index = new Map<string, number>();
      for (const [token, id] of options.vocab) {
        const key = options.symbols === 'bytes' ? (byteLevelToBinary(token) ?? '\u0100' + token) : token;
        index.set(key, id);
        this.tokens[id] = token;
        this.keys[id] = key;
      }
      this.index = index;
    }
    if (options.symbols === 'bytes') {
      for (let b = 0; b < 256; b++) this.byteIds[b] = this.index.get(String.fromCharCode(b)) ?? -1;
    }
    if (options.byteFallback === true) {
      for (let b = 0; b < 256; b++) {
        const hex = b.toString(16).toUpperCase().padStart(2, '0');
        this.byteFallbackIds[b] = options.vocab.get(`<0x${hex}>`) ?? -1;
      }
    }
    this.unkId = options.unkToken === undefined ? undefined : options.vocab.get(options.unkToken);
    this.lazyMerges = options.ranksAreIds === true;
    if (!this.lazyMerges) this.buildListMerges();
  }

  get size(): number {
    return this.keys.length;
  }

  tokenToId(token: string): number | undefined {
    return this.options.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    if (!this.tokensFromKeys) return this.tokens[id];
    const key = this.keys[id];
    return key === undefined ? undefined : binaryToByteLevel(key);
  }

  /** The raw bytes of a byte-level token as a binary string. */
  tokenBinary(id: number): string | undefined {
    if (this.tokensFromKeys) return this.keys[id];
    const token = this.tokens[id];
    return token === undefined ? undefined : byteLevelToBinary(token);
  }

  private buildListMerges(): void {
    const merges = this.options.merges;
    const vocab = this.options.vocab;
    const prefix = this.options.continuingSubwordPrefix;
    const table = new PairTable(merges.length);
    const kept = new Uint8Array(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const [a, b] = merges[rank] as readonly [string, string];
      const left = vocab.get(a);
      const right = vocab.get(b);
      const result = vocab.get(mergedToken(a, b, prefix));
      // HF rejects such files; the loader validates, so here it only guards the table.
      if (left === undefined || right === undefined || result === undefined) continue;
      if (table.add(left, right, rank, result)) kept[rank] = 1;
    }
    this.mergeTable = table;
    this.keptMerges = kept;
  }

  /**
   * The table slot of pair (left, right), or -1. Its rank is -1 when the pair does not merge
   * (a remembered lazy miss). tiktoken semantics: a pair merges when the concatenation of the
   * two tokens is a token, with that token's id as rank.
   */
  private pairSlot(left: number, right: number): number {
    const table = this.mergeTable;
    const slot = table.find(left, right);
    if (slot >= 0 || !this.lazyMerges) return slot;
    // Bounded memory in a long-running process: start over past ~8M remembered pairs.
    if (table.size >= LAZY_MERGES_MAX) this.mergeTable = new PairTable();
    const merged = this.index.get((this.keys[left] as string) + (this.keys[right] as string));
    this.mergeTable.add(left, right, merged ?? -1, merged ?? -1);
    return this.mergeTable.find(left, right);
  }

  /** Every tiktoken merge, for export: each split of a token into two tokens. */
  private allRankMerges(): PairTable {
    const table = new PairTable(this.index.size * 2);
    for (const [key, id] of this.index) {
      for (let cut = 1; cut < key.length; cut++) {
        const left = this.index.get(key.slice(0, cut));
        if (left === undefined) continue;
        const right = this.index.get(key.slice(cut));
        if (right !== undefined) table.add(left, right, id, id);
      }
    }
    return table;
  }

  /** Merge rules in rank order as [left, right] tokens (for tokenizer.json export). */
  mergeList(): Array<[string, string]> {
    const kept = this.keptMerges;
    if (kept !== undefined) {
      // List merges: the file's order, less the rules that never apply (duplicates).
      const out: Array<[string, string]> = [];
      const merges = this.options.merges;
      for (let rank = 0; rank < merges.length; rank++) {
        const merge = merges[rank] as readonly [string, string];
        if (kept[rank] === 1) out.push([merge[0], merge[1]]);
      }
      return out;
    }
    const entries: Array<[number, string, string]> = [];
    const table = this.lazyMerges ? this.allRankMerges() : this.mergeTable;
    for (const [left, right, rank] of table.entries())
      entries.push([rank, this.idToToken(left) as string, this.idToToken(right) as string]);
    // Ties (tiktoken: several splits of one token share its rank) go shortest left part first.
    entries.sort((x, y) => x[0] - y[0] || x[1].length - y[1].length);
    return entries.map(([, left, right]) => [left, right]);
  }

  /**
   * Encode one pre-tokenized word, appending ids to `out`. Symbols the vocabulary lacks (with
   * no unk token or byte fallback) are dropped, as HF drops them, and counted in `unknown`.
   */
  encodeWord(word: string, out: number[], unknown?: UnknownCharacters): void {
    const cached = this.cache.get(word);
    if (cached !== undefined) {
      for (let i = 0; i < cached.length; i++) out.push(cached[i] as number);
      return;
    }
    const dropped: string[] = [];
    const ids = this.encodeUncached(word, dropped);
    if (dropped.length > 0) {
      // Not cached: every occurrence of the word must be counted again.
      if (unknown !== undefined) for (const char of dropped) unknown.add(char);
    } else if (word.length <= CACHE_MAX_PIECE) {
      if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
  }

  private encodeUncached(word: string, dropped: string[]): number[] {
    const bytes = this.options.symbols === 'bytes';
    const key = bytes ? (isAscii(word) ? word : toBinary(word)) : word;
    if (this.options.ignoreMerges === true) {
      const whole = this.index.get(key);
      if (whole !== undefined) return [whole];
    }
    const symbols = bytes ? this.byteSymbols(key, dropped) : this.charSymbols(word, dropped);
    return symbols.length > HEAP_THRESHOLD ? this.mergeWithHeap(symbols) : this.mergeByScan(symbols);
  }

  private byteSymbols(binary: string, dropped: string[]): number[] {
    const symbols: number[] = [];
    for (let i = 0; i < binary.length; i++) {
      const byte = binary.charCodeAt(i);
      const id = this.byteIds[byte] as number;
      // A byte missing from a (trained, partial) vocabulary is dropped, as HF does with no unk.
      if (id >= 0) symbols.push(id);
      else if (this.unkId !== undefined) symbols.push(this.unkId);
      else dropped.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
    }
    return symbols;
  }

  private charSymbols(word: string, dropped: string[]): number[] {
    const symbols: number[] = [];
    const prefix = this.options.continuingSubwordPrefix;
    const suffix = this.options.endOfWordSuffix;
    const chars = Array.from(word);
    let lastWasUnk = false;
    for (let i = 0; i < chars.length; i++) {
      let symbol = chars[i] as string;
      if (i > 0 && prefix !== undefined) symbol = prefix + symbol;
      if (i === chars.length - 1 && suffix !== undefined) symbol += suffix;
      const id = this.options.vocab.get(symbol);
      if (id !== undefined) {
        symbols.push(id);
        lastWasUnk = false;
        continue;
      }
      if (this.options.byteFallback === true) {
        const fallback = Array.from(
          new TextEncoder().encode(chars[i] as string),
          (b) => this.byteFallbackIds[b] as number,
        );
        if (fallback.every((id) => id >= 0)) {
          symbols.push(...fallback);
          lastWasUnk = false;
          continue;
        }
      }
      if (this.unkId === undefined) {
        dropped.push(chars[i] as string);
        continue;
      }
      if (!(lastWasUnk && this.options.fuseUnk === true)) symbols.push(this.unkId);
      lastWasUnk = true;
    }
    return symbols;
  }

  private mergeByScan(symbols: number[]): number[] {
    while (symbols.length > 1) {
      let bestRank = Infinity;
      let bestAt = -1;
      let bestResult = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const slot = this.pairSlot(symbols[i] as number, symbols[i + 1] as number);
        if (slot < 0) continue;
        const rank = this.mergeTable.rankAt(slot);
        if (rank >= 0 && rank < bestRank) {
          bestRank = rank;
          bestAt = i;
          bestResult = this.mergeTable.resultAt(slot);
        }
      }
      if (bestAt < 0) break;
      symbols.splice(bestAt, 2, bestResult);
    }
    return symbols;
  }

  private mergeWithHeap(symbols: number[]): number[] {
    const n = symbols.length;
    const ids = Int32Array.from(symbols);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    // A binary min-heap of priorities rank * 2^32 + position (lowest rank first, leftmost on
    // ties; exact in a double), in a growable Float64Array: no closures or boxed numbers.
    let heap = new Float64Array(n + 16);
    let size = 0;
    const rankAt = (at: number): number => {
      const after = next[at] as number;
      if (after < 0) return -1;
      const slot = this.pairSlot(ids[at] as number, ids[after] as number);
      return slot < 0 ? -1 : this.mergeTable.rankAt(slot);
    };
    const push = (at: number): void => {
      const rank = rankAt(at);
      if (rank < 0) return;
      const value = rank * 4294967296 + at;
      if (size === heap.length) {
        const grown = new Float64Array(heap.length * 2);
        grown.set(heap);
        heap = grown;
      }
      let i = size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if ((heap[parent] as number) <= value) break;
        heap[i] = heap[parent] as number;
        i = parent;
      }
      heap[i] = value;
    };
    // The initial pairs come in position order; build the heap bottom-up in O(n).
    for (let i = 0; i + 1 < n; i++) {
      const rank = rankAt(i);
      if (rank >= 0) heap[size++] = rank * 4294967296 + i;
    }
    for (let start = (size >> 1) - 1; start >= 0; start--) siftDown(heap, size, start);
    while (size > 0) {
      const top = heap[0] as number;
      heap[0] = heap[--size] as number;
      siftDown(heap, size, 0);
      const rank = Math.floor(top / 4294967296);
      const at = top - rank * 4294967296;
      if (alive[at] === 0 || rankAt(at) !== rank) continue;
      const right = next[at] as number;
      ids[at] = this.mergeTable.resultAt(this.pairSlot(ids[at] as number, ids[right] as number));
      alive[right] = 0;
      const after = next[right] as number;
      next[at] = after;
      if (after >= 0) prev[after] = at;
      push(at);
      const before = prev[at] as number;
      if (before >= 0) push(before);
    }
    const out: number[] = [];
    for (let at = 0; at >= 0; at = next[at] as number) out.push(ids[at] as number);
    return out;
  }

  /** The tokens in HF printable form (byte-level models keep GPT-2's table in JSON). */
  static printableFromBinary(binary: string): string {
    return binaryToByteLevel(binary);
  }
}

/** Restore the heap property below `i` (min-heap of `size` doubles). */
function siftDown(heap: Float64Array, size: number, i: number): void {
  const value = heap[i] as number;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && (heap[child + 1] as number) < (heap[child] as number)) child++;
    if ((heap[child] as number) >= value) break;
    heap[i] = heap[child] as number;
    i = child;
  }
  heap[i] = value;
}
