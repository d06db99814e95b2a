/** Reference reductions over the middle axis of x viewed as (outer, R, inner). */
import type { F } from '../../tensor/backend.js';

export function reduceSum(x: F, out: F, outer: number, R: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      // Accumulate in float64: long float32 sums otherwise drift from PyTorch's pairwise sums.
      let s = 0;
      for (let r = 0; r < R; r++) s += x[(o * R + r) * inner + i]!;
      out[o * inner + i] = s;
    }
  }
}

export function reduceMax(
  x: F,
  out: F,
  argmax: Int32Array | null,
  outer: number,
  R: number,
  inner: number,
): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      let at = 0;
      for (let r = 0; r < R; r++) {
        const v = x[(o * R + r) * inner + i]!;
        // NaN wins (propagates), as in PyTorch.
        if (v > best || Number.isNaN(v)) {
          best = v;
          at = r;
          if (Number.isNaN(v)) break;
        }
      }
      out[o * inner + i] = best;
      if (argmax !== null) argmax[o * inner + i] = at;
    }
  }
}
