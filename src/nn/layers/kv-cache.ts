/**
 * KVCache: preallocated key/value buffers, one (B, nKV, maxT, hs) pair per layer, filled
 * position by position during incremental decoding (llama2.c's run.c keeps the same
 * cache). Appending copies the new keys/values into place; reading returns views of the
 * filled prefix, so a decoding step allocates nothing here.
 *
 * Protocol for one forward pass: every layer calls append(layer, k, v) (all at the same
 * start position, `length`), then the model calls advance(T) once.
 *
 * Legend: B batch, nKV key/value heads, T new positions, maxT capacity, hs head size.
 */
import { type Tensor, Tensor as TensorClass, backend, keep, layoutOf } from '../../tensor/index.js';
import { ShapeError } from '../../util/errors.js';

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
  #length = 0;

  constructor(shape: KVCacheShape) {
    this.shape = shape;
    const dims = [shape.batch, shape.nKvHead, shape.maxT, shape.headSize];
    // Zero-filled once: positions past `length` are never read, but zeros keep dumps readable.
    this.#keys = Array.from({ length: shape.nLayer }, () => keep(TensorClass.empty(dims, 'float32')));
    this.#values = Array.from({ length: shape.nLayer }, () => keep(TensorClass.empty(dims, 'float32')));
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
    const { batch, nKvHead, maxT, headSize } = this.shape;
    const T = k.shape[2]!;
    const expected = [batch, nKvHead, T, headSize];
    for (const [name, t] of [
      ['k', k],
      ['v', v],
    ] as const) {
      if (t.ndim !== 4 || t.shape.some((d, i) => d !== expected[i])) {
        throw new ShapeError(`${name} does not fit the cache`, {
          where: `KVCache.append layer ${layer}`,
          expected: `(${expected.join(', ')})`,
          actual: `(${t.shape.join(', ')})`,
        });
      }
    }
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

  /** Forgets every position (the buffers are reused). */
  reset(): void {
    this.#length = 0;
  }

  dispose(): void {
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
  }
}
