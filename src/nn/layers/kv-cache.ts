/**
 * KVCache: preallocated key/value buffers, one (B, nKV, maxT, hs) pair per layer, filled
 * position by position during incremental decoding (llama2.c's run.c keeps the same
 * cache). Appending copies the new keys/values into place; reading returns views of the
 * filled prefix, so a decoding step allocates nothing here.
 *
 * Protocol for one forward pass: every layer calls append(layer, k, v) (all at the same
 * start position, `length`), then the model calls advance(T) once.
 *
 * Between passes, truncate(length) forgets the last positions (speculative decoding
 * rejecting draft tokens) and reorder(batchIndices) makes row b a copy of row
 * batchIndices[b] (beam search keeping the children of the best parents). Cross-attention
 * keys and values (from an encoder output, one (B, nKV, S, hs) pair per layer) are set
 * once with setCross() and read with cross(); reorder() moves them too.
 *
 * Legend: B batch, nKV key/value heads, T new positions, maxT capacity, hs head size,
 * S encoder (source) length.
 */
import { type Tensor, Tensor as TensorClass, backend, keep, layoutOf, numel } from '../../tensor/index.js';
import { ConfigError, ShapeError } from '../../util/errors.js';

export interface KVCacheShape {
  readonly nLayer: number;
  readonly batch: number;
  readonly nKvHead: number;
  readonly maxT: number;
  readonly headSize: number;
}

export class KVCache {
  readonly shape: KVCacheShape;
  readonly #keys: Tensor[]; // per layer (B, nKV, maxT, hs)
  readonly #values: Tensor[]; // per layer (B, nKV, maxT, hs)
  /** Per layer, the cross-attention keys and values, or null until setCross(). */
  readonly #cross: Array<{ readonly keys: Tensor; readonly values: Tensor } | null>;
  /** reorder()'s copy of one (B, nKV, maxT, hs) buffer, allocated on first use. */
  #scratch: Float32Array | null = null;
  #length = 0;

  constructor(shape: KVCacheShape) {
    this.shape = shape;
    const dims = [shape.batch, shape.nKvHead, shape.maxT, shape.headSize];
    // Fresh zeroed arrays, outside the tensor storage pool: a cache is large, lives long and
    // comes in as many sizes as there are batch shapes, so pooling would keep every size ever
    // used resident after it is disposed. A fresh large array is zero pages the OS maps on
    // first touch (no fill, and only the positions written become resident), and its memory
    // goes back to the OS once the array is collected. Positions past `length` are never read.
    const buffer = (): Tensor => keep(TensorClass.fromArray(new Float32Array(numel(dims)), dims));
    this.#keys = Array.from({ length: shape.nLayer }, buffer);
    this.#values = Array.from({ length: shape.nLayer }, buffer);
    this.#cross = Array.from({ length: shape.nLayer }, () => null);
  }

  /** Positions filled so far (the position of the next token). */
  get length(): number {
    return this.#length;
  }

  /**
   * Writes k, v (B, nKV, T, hs) at positions [length, length + T) of `layer`; read them
   * back through buffers(); advance(T) moves `length` once every layer has appended.
   */
  append(layer: number, k: Tensor, v: Tensor): void {
    const { maxT, headSize } = this.shape;
    const T = this.#checkFits(`KVCache.append layer ${layer}`, k, v);
    if (this.#length + T > maxT) {
      throw new ShapeError('KV cache is full', {
        where: 'KVCache.append',
        expected: `length + T <= ${maxT}`,
        actual: `${this.#length} + ${T}`,
        hint: 'create a larger cache (createCache(batch, maxT)) or reset() it',
      });
    }
    const keys = this.#keys[layer]!;
    const values = this.#values[layer]!;
    const at = this.#length * headSize; // element offset of position `length` within a head
    backend().copyStrided(k.data, layoutOf(k), keys.data, {
      shape: k.shape,
      strides: keys.strides,
      offset: at,
    });
    backend().copyStrided(v.data, layoutOf(v), values.data, {
      shape: v.shape,
      strides: values.strides,
      offset: at,
    });
  }

  /** Checks that k and v are (B, nKV, T, hs) for this cache's B, nKV, hs; returns T. */
  #checkFits(where: string, k: Tensor, v: Tensor): number {
    const { batch, nKvHead, headSize } = this.shape;
    const T = k.shape[2]!;
    const expected = [batch, nKvHead, T, headSize];
    for (const [name, t] of [
      ['k', k],
      ['v', v],
    ] as const) {
      if (t.ndim !== 4 || t.shape.some((d, i) => d !== expected[i])) {
        throw new ShapeError(`${name} does not fit the cache`, {
          where,
          expected: `(${expected.join(', ')})`,
          actual: `(${t.shape.join(', ')})`,
        });
      }
    }
    return T;
  }

  /**
   * The whole (B, nKV, maxT, hs) key and value buffers of `layer`, contiguous; positions
   * from length + T on hold stale values. Causal attention with causalOffset = length reads
   * only the filled prefix from them, where a view of the prefix would be strided per head
   * and copied out on every step.
   */
  buffers(layer: number): { keys: Tensor; values: Tensor } {
    return { keys: this.#keys[layer]!, values: this.#values[layer]! };
  }

  /** Marks T more positions as filled (after every layer appended them). */
  advance(T: number): void {
    this.#length += T;
  }

  /**
   * Keeps positions [0, length) and forgets the rest; the next append writes at `length`.
   * Speculative decoding calls it after the verifier rejects draft tokens.
   */
  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#length) {
      throw new ConfigError('truncate length out of range', {
        where: 'KVCache.truncate',
        expected: `an integer in [0, ${this.#length}] (the cached length)`,
        actual: length,
      });
    }
    this.#length = length;
  }

  /**
   * Row b of every layer (self- and cross-attention state) becomes what row batchIndices[b]
   * was; an index may repeat (a beam with two surviving children) or be left out. Copies
   * only the filled positions, through one scratch buffer kept for the next call.
   *
   * @example
   * cache.reorder([0, 0, 2]); // beams 0 and 1 continue beam 0, beam 2 continues itself
   */
  reorder(batchIndices: readonly number[]): void {
    const { batch, maxT } = this.shape;
    const bad = batchIndices.findIndex((i) => !Number.isInteger(i) || i < 0 || i >= batch);
    if (batchIndices.length !== batch || bad >= 0) {
      throw new ConfigError('reorder needs one batch row index per row', {
        where: 'KVCache.reorder',
        expected: `${batch} integers in [0, ${batch})`,
        actual: bad >= 0 ? `batchIndices[${bad}] = ${batchIndices[bad]}` : `${batchIndices.length} indices`,
      });
    }
    if (batchIndices.every((from, b) => from === b)) return;
    for (const keys of this.#keys) this.#reorderRows(keys, batchIndices, maxT, this.#length);
    for (const values of this.#values) this.#reorderRows(values, batchIndices, maxT, this.#length);
    for (const cross of this.#cross) {
      if (cross === null) continue;
      const S = cross.keys.shape[2]!;
      this.#reorderRows(cross.keys, batchIndices, S, S);
      this.#reorderRows(cross.values, batchIndices, S, S);
    }
  }

  /** buffer (B, nKV, P, hs): row b, positions [0, filled) of every head, <- row from[b]. */
  #reorderRows(buffer: Tensor, from: readonly number[], P: number, filled: number): void {
    const { batch, nKvHead, headSize } = this.shape;
    const data = buffer.floats();
    const row = nKvHead * P * headSize; // elements per batch row
    if (this.#scratch === null || this.#scratch.length < data.length)
      this.#scratch = new Float32Array(data.length);
    const scratch = this.#scratch;
    scratch.set(data);
    for (let b = 0; b < batch; b++) {
      if (from[b] === b) continue;
      for (let h = 0; h < nKvHead; h++) {
        const at = b * row + h * P * headSize;
        const source = from[b]! * row + h * P * headSize;
        data.set(scratch.subarray(source, source + filled * headSize), at);
      }
    }
  }

  /**
   * Stores the cross-attention keys and values of `layer`, k and v (B, nKV, S, hs) computed
   * once from the encoder output; every decoding step then reads them through cross().
   */
  setCross(layer: number, k: Tensor, v: Tensor): void {
    const { batch, nKvHead, headSize } = this.shape;
    const expected = [batch, nKvHead, this.#checkFits(`KVCache.setCross layer ${layer}`, k, v), headSize];
    this.#disposeCross(layer);
    // Own contiguous copies: k and v may be views of a projection freed with its scope.
    const copy = (t: Tensor): Tensor => {
      const own = keep(TensorClass.empty(expected, 'float32', false));
      backend().copyStrided(t.data, layoutOf(t), own.data, {
        shape: t.shape,
        strides: own.strides,
        offset: 0,
      });
      return own;
    };
    this.#cross[layer] = { keys: copy(k), values: copy(v) };
  }

  /** The cross-attention keys and values of `layer`, (B, nKV, S, hs) each, or null before setCross(). */
  cross(layer: number): { readonly keys: Tensor; readonly values: Tensor } | null {
    return this.#cross[layer] ?? null;
  }

  #disposeCross(layer: number): void {
    const cross = this.#cross[layer];
    if (cross === null || cross === undefined) return;
    cross.keys.dispose();
    cross.values.dispose();
    this.#cross[layer] = null;
  }

  /** Forgets every position and the cross-attention state (the buffers are reused). */
  reset(): void {
    this.#length = 0;
    for (let layer = 0; layer < this.#cross.length; layer++) this.#disposeCross(layer);
  }

  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
    for (let layer = 0; layer < this.#cross.length; layer++) this.#disposeCross(layer);
    this.#scratch = null;
  }
}
