/**
 * The hand-written native wrappers: the two kernels whose Backend signature takes a layout
 * object (StridedLayout, BroadcastLayout) that crosses to C as offsets plus one packed
 * Float64Array [nd, shape, strides0, strides1] (the manifest's `layout` argument).
 */
import type { Kernels } from '../../tensor/kernels.gen.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { BackendError } from '../../util/errors.js';
import { jsBackend } from '../js/index.js';
import { need, needLayout } from './checks.js';
import { binaryCode, type CustomKernel, type NativeKernelExports } from './kernels.gen.js';

const MAX_DIMS = 16;

export function customKernels(addon: NativeKernelExports): Pick<Kernels, CustomKernel> {
  // Reused argument block: no allocation per call.
  const layout = new Float64Array(1 + 3 * MAX_DIMS);

  function packLayout(
    where: string,
    shape: readonly number[],
    s0: readonly number[],
    s1: readonly number[],
  ): Float64Array {
    const nd = shape.length;
    if (nd > MAX_DIMS) {
      throw new BackendError('too many dimensions', {
        where: `native.${where}`,
        expected: `<= ${MAX_DIMS}`,
        actual: nd,
      });
    }
    layout[0] = nd;
    for (let d = 0; d < nd; d++) {
      layout[1 + d] = shape[d]!;
      layout[1 + nd + d] = s0[d]!;
      layout[1 + 2 * nd + d] = s1[d]!;
    }
    return layout;
  }

  return {
    copyStrided(src, from, dst, to): void {
      const fourBytes = (a: TypedArray): a is Float32Array | Int32Array =>
        a instanceof Float32Array || a instanceof Int32Array;
      if (!fourBytes(src) || !fourBytes(dst) || src.constructor !== dst.constructor) {
        jsBackend.copyStrided(src, from, dst, to);
        return;
      }
      needLayout('copyStrided', 'src', src, from.offset, from.shape, from.strides);
      needLayout('copyStrided', 'dst', dst, to.offset, from.shape, to.strides);
      addon.copyStrided(
        src,
        from.offset,
        dst,
        to.offset,
        packLayout('copyStrided', from.shape, from.strides, to.strides),
      );
    },

    binary(op, a, b, out, l): void {
      if (!(a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array)) {
        return jsBackend.binary(op, a, b, out, l);
      }
      let total = 1;
      for (const d of l.shape) total *= d;
      if (total === 0) return;
      needLayout('binary', 'a', a, l.offsetA, l.shape, l.stridesA);
      needLayout('binary', 'b', b, l.offsetB, l.shape, l.stridesB);
      need('binary', 'out', out, total);
      addon.binary(
        binaryCode[op],
        a,
        l.offsetA,
        b,
        l.offsetB,
        out,
        packLayout('binary', l.shape, l.stridesA, l.stridesB),
      );
    },
  };
}
