/**
 * Prefix cache: the keys and values of prompt prefixes already computed, reused by later
 * requests that start with the same tokens (a system prompt, a few-shot preamble, the
 * conversation so far), as vLLM's automatic prefix caching and SGLang's RadixAttention do.
 *
 * Prefixes are stored in blocks of `blockTokens` ids (prefillChunk of batch-engine.ts): the
 * entry for ids[0, (i + 1) * blockTokens) holds the KV of that block only and is found by
 * the whole id prefix, so a block shared by many prompts is stored once and a lookup walks
 * the blocks from the start. Memory is bounded (maxBytes of float32 keys and values) and
 * the least recently used blocks go first; using a block touches every block before it, so
 * a prefix loses its last blocks before its first ones. Library code: no I/O, no timers.
 *
 * Legend: L layers, nKV key/value heads, n block tokens, hs head size.
 */
import { KVCache } from '../nn/index.js';
import { ConfigError } from '../util/errors.js';

/** One block's keys and values: per layer (nKV, n, hs) each, contiguous. */
interface Block {
  readonly keys: readonly Float32Array[];
  readonly values: readonly Float32Array[];
  readonly bytes: number;
}

export interface PrefixCacheOptions {
  /** Tokens per block (> 0). */
  readonly blockTokens: number;
  /** Bytes of keys and values kept at most (>= 0; 0 keeps nothing). */
  readonly maxBytes: number;
}

export interface PrefixCacheStats {
  readonly blocks: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  /** Prompt tokens served from the cache. */
  readonly reusedTokens: number;
}

export class PrefixCache {
  readonly blockTokens: number;
  readonly maxBytes: number;
  /** Insertion order is recency order: a touched block is deleted and set again. */
  readonly #blocks = new Map<string, Block>();
  #bytes = 0;
  #hits = 0;
  #misses = 0;
  #reused = 0;

  constructor(options: PrefixCacheOptions) {
    const { blockTokens, maxBytes } = options;
    if (!(Number.isInteger(blockTokens) && blockTokens > 0)) {
      throw new ConfigError('blockTokens must be an integer > 0', {
        where: 'PrefixCache',
        actual: blockTokens,
      });
    }
    if (!(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new ConfigError('maxBytes must be an integer >= 0', { where: 'PrefixCache', actual: maxBytes });
    }
    this.blockTokens = blockTokens;
    this.maxBytes = maxBytes;
  }

  get stats(): PrefixCacheStats {
    return {
      blocks: this.#blocks.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      reusedTokens: this.#reused,
    };
  }

  /**
   * Copies into row 0 of `cache` (empty, batch 1) the longest stored prefix of `ids` that
   * leaves at least one id to compute (the next-token logits need a forward), advances the
   * cache by it and returns its length (a multiple of blockTokens; 0 when nothing matched).
   */
  restore(ids: readonly number[], cache: KVCache): number {
    const n = this.blockTokens;
    const found: Block[] = [];
    const keys: string[] = [];
    for (let end = n; end < ids.length; end += n) {
      const key = ids.slice(0, end).join(',');
      const block = this.#blocks.get(key);
      if (block === undefined) break;
      found.push(block);
      keys.push(key);
    }
    if (found.length === 0) {
      this.#misses++;
      return 0;
    }
    for (const key of keys) this.#touch(key);
    found.forEach((block, i) => writeBlock(cache, block, i * n, n));
    cache.advance(found.length * n);
    this.#hits++;
    this.#reused += found.length * n;
    return found.length * n;
  }

  /** Stores every whole block of ids[0, length) from row `row` of `cache` not stored yet. */
  store(ids: readonly number[], length: number, cache: KVCache, row = 0): void {
    const n = this.blockTokens;
    for (let end = n; end <= Math.min(length, ids.length); end += n) {
      const key = ids.slice(0, end).join(',');
      if (this.#blocks.has(key)) {
        this.#touch(key);
        continue;
      }
      const block = readBlock(cache, row, end - n, n);
      if (block.bytes > this.maxBytes) return;
      this.#blocks.set(key, block);
      this.#bytes += block.bytes;
      this.#evict();
    }
  }

  clear(): void {
    this.#blocks.clear();
    this.#bytes = 0;
  }

  #touch(key: string): void {
    const block = this.#blocks.get(key)!;
    this.#blocks.delete(key);
    this.#blocks.set(key, block);
  }

  #evict(): void {
    for (const [key, block] of this.#blocks) {
      if (this.#bytes <= this.maxBytes) return;
      this.#blocks.delete(key);
      this.#bytes -= block.bytes;
    }
  }
}

/** Positions [from, from + n) of `row`, every layer, as one block. */
function readBlock(cache: KVCache, row: number, from: number, n: number): Block {
  const { nLayer, nKvHead, maxT, headSize } = cache.shape;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const buffers = cache.buffers(layer);
    for (const [source, into] of [
      [buffers.keys.floats(), keys],
      [buffers.values.floats(), values],
    ] as const) {
      const out = new Float32Array(nKvHead * n * headSize);
      for (let h = 0; h < nKvHead; h++) {
        const at = ((row * nKvHead + h) * maxT + from) * headSize;
        out.set(source.subarray(at, at + n * headSize), h * n * headSize);
      }
      into.push(out);
    }
  }
  return { keys, values, bytes: 2 * nLayer * nKvHead * n * headSize * 4 };
}

/** Writes `block` at positions [from, from + n) of row 0. */
function writeBlock(cache: KVCache, block: Block, from: number, n: number): void {
  const { nLayer, nKvHead, maxT, headSize } = cache.shape;
  for (let layer = 0; layer < nLayer; layer++) {
    const buffers = cache.buffers(layer);
    for (const [into, source] of [
      [buffers.keys.floats(), block.keys[layer]!],
      [buffers.values.floats(), block.values[layer]!],
    ] as const) {
      for (let h = 0; h < nKvHead; h++) {
        into.set(source.subarray(h * n * headSize, (h + 1) * n * headSize), (h * maxT + from) * headSize);
      }
    }
  }
}
