/**
 * Reference-counted tensor storage over a pool of typed arrays.
 *
 * A training step allocates the same intermediate sizes every iteration; returning those
 * buffers to a pool (instead of leaving them to the garbage collector) keeps heap and RSS
 * flat over thousands of steps. Views share a Storage; the buffer goes back to the pool
 * when the last tensor using it is disposed.
 */
import { allocate, type DType, type TypedArray } from './dtype.js';
import { DisposedError } from '../util/errors.js';

/** Free buffers by dtype, then length (numeric keys: no key string built per allocation). */
const free = new Map<DType, Map<number, TypedArray[]>>();
let pooledBytes = 0;
/** Above this many idle bytes, released buffers are left to the garbage collector. */
let poolLimitBytes = 1 << 30;

export interface PoolStats {
  readonly pooledBytes: number;
  readonly buckets: number;
}

export function poolStats(): PoolStats {
  let buckets = 0;
  for (const byLength of free.values()) buckets += byLength.size;
  return { pooledBytes, buckets };
}

export function setPoolLimit(bytes: number): void {
  poolLimitBytes = bytes;
}

/** Drops every idle buffer (for tests and for long-lived processes that change model size). */
export function clearPool(): void {
  free.clear();
  pooledBytes = 0;
}

function acquire(dtype: DType, length: number, zero: boolean): TypedArray {
  const reused = free.get(dtype)?.get(length)?.pop();
  if (reused === undefined) return allocate(dtype, length);
  pooledBytes -= reused.byteLength;
  if (zero) reused.fill(0);
  return reused;
}

function release(array: TypedArray, dtype: DType): void {
  if (array.length === 0 || pooledBytes + array.byteLength > poolLimitBytes) return;
  let byLength = free.get(dtype);
  if (byLength === undefined) free.set(dtype, (byLength = new Map()));
  let bucket = byLength.get(array.length);
  if (bucket === undefined) byLength.set(array.length, (bucket = []));
  bucket.push(array);
  pooledBytes += array.byteLength;
}

export class Storage {
  #data: TypedArray | null;
  #refs = 0;
  /** Buffers handed in from outside (user arrays, memory maps) never enter the pool. */
  readonly #owned: boolean;
  readonly dtype: DType;

  private constructor(data: TypedArray, dtype: DType, owned: boolean) {
    this.#data = data;
    this.dtype = dtype;
    this.#owned = owned;
  }

  /** A pooled buffer; zero-filled unless `zero` is false (the caller overwrites every element). */
  static allocate(dtype: DType, length: number, zero = true): Storage {
    return new Storage(acquire(dtype, length, zero), dtype, true);
  }

  /** Wraps an existing array without copying; it is never returned to the pool. */
  static wrap(data: TypedArray, dtype: DType): Storage {
    return new Storage(data, dtype, false);
  }

  get data(): TypedArray {
    if (this.#data === null) {
      throw new DisposedError('tensor storage was used after dispose()', {
        where: 'Storage.data',
        hint: 'keep() the tensor or return it from the scope() that created it',
      });
    }
    return this.#data;
  }

  get disposed(): boolean {
    return this.#data === null;
  }

  retain(): void {
    this.#refs++;
  }

  /** Drops one reference; the buffer returns to the pool with the last one. */
  releaseRef(): void {
    if (this.#data === null) return;
    if (--this.#refs > 0) return;
    if (this.#owned) release(this.#data, this.dtype);
    this.#data = null;
  }
}
