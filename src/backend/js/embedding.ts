/**
 * Reference embedding lookup and its scatter-add backward.
 * Legend: N number of ids, C channels (row length of the table). Ids are validated by
 * the op (src/tensor/ops/embedding.ts) before the kernel runs.
 */
import type { F } from '../../tensor/backend.js';

/** out[i] = weight[ids[i]]. */
export function embeddingForward(weight: F, ids: Int32Array, out: F, N: number, C: number): void {
  for (let i = 0; i < N; i++) out.set(weight.subarray(ids[i]! * C, ids[i]! * C + C), i * C);
}

/** dweight[ids[i]] += dout[i]: a repeated id sums its rows' gradients. */
export function embeddingBackward(dout: F, ids: Int32Array, dweight: F, N: number, C: number): void {
  for (let i = 0; i < N; i++) {
    const row = ids[i]! * C;
    for (let c = 0; c < C; c++) dweight[row + c] += dout[i * C + c]!;
  }
}
