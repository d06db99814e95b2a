/**
 * Random contiguous blocks for language-model training (nanoGPT's get_batch): each row
 * starts at a uniform offset i in [0, n - T) and
 *   x[b] = ids[i : i + T]        (B, T) int32
 *   y[b] = ids[i + 1 : i + 1 + T] (B, T) int32, the next token at every position.
 * The sampler owns its seeded Rng; its state goes into the checkpoint so a resumed run
 * draws exactly the batches an uninterrupted run would.
 */
import { Rng, Tensor, type RngState } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';

export interface Batch {
  /** (B, T) int32 inputs. */
  readonly x: Tensor;
  /** (B, T) int32 targets. */
  readonly y: Tensor;
}

export class BlockSampler {
  readonly #ids: Int32Array;
  readonly blockSize: number;
  readonly batchSize: number;
  #rng: Rng;

  constructor(ids: Int32Array, blockSize: number, batchSize: number, rng: Rng, what = 'data') {
    if (ids.length < blockSize + 1) {
      throw new ConfigError(`the ${what} split is shorter than one block`, {
        where: 'BlockSampler',
        expected: `at least blockSize + 1 = ${blockSize + 1} tokens`,
        actual: `${ids.length} tokens`,
        hint: 'use more text or a smaller --block-size',
      });
    }
    this.#ids = ids;
    this.blockSize = blockSize;
    this.batchSize = batchSize;
    this.#rng = rng;
  }

  /** The next random batch (tensors are created in the caller's scope). */
  next(): Batch {
    const { blockSize: T, batchSize: B } = this;
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = this.#rng.randint(0, this.#ids.length - T);
      x.set(this.#ids.subarray(start, start + T), b * T);
      y.set(this.#ids.subarray(start + 1, start + 1 + T), b * T);
    }
    return { x: Tensor.fromArray(x, [B, T]), y: Tensor.fromArray(y, [B, T]) };
  }

  getState(): RngState {
    return this.#rng.getState();
  }

  setState(state: RngState): void {
    this.#rng = Rng.fromState(state);
  }
}
