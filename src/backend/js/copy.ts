/** Strided copy: the one data-movement kernel (contiguous(), concat, slice assignment). */
import type { TypedArray } from '../../tensor/dtype.js';
import type { StridedLayout } from '../../tensor/backend.js';

export function copyStrided(src: TypedArray, from: StridedLayout, dst: TypedArray, to: StridedLayout): void {
  const shape = from.shape;
  const nd = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  if (nd === 0) {
    dst[to.offset] = src[from.offset]!;
    return;
  }
  // Walk the outer dimensions with an odometer; run the last one as a tight loop.
  const last = nd - 1;
  const n = shape[last]!;
  const ss = from.strides[last]!;
  const ds = to.strides[last]!;
  const index = new Array<number>(nd).fill(0);
  let s = from.offset;
  let d = to.offset;
  for (let done = 0; done < total; done += n) {
    if (ss === 1 && ds === 1) {
      dst.set(src.subarray(s, s + n), d);
    } else {
      for (let i = 0; i < n; i++) dst[d + i * ds] = src[s + i * ss]!;
    }
    for (let ax = last - 1; ax >= 0; ax--) {
      index[ax]!++;
      s += from.strides[ax]!;
      d += to.strides[ax]!;
      if (index[ax]! < shape[ax]!) break;
      s -= from.strides[ax]! * shape[ax]!;
      d -= to.strides[ax]! * shape[ax]!;
      index[ax] = 0;
    }
  }
}
