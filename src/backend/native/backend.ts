/**
 * The native Backend: each kernel checks what C cannot (dtypes, that every index it will
 * touch lies inside the arrays), then hands the typed arrays to the addon zero-copy.
 * float64 arrays (finite-difference checks) and int32 arithmetic run on the JS reference
 * kernels, as src/tensor/backend.ts allows; everything float32 runs in C.
 */
import type {
  AdamWParams,
  AttentionParams,
  Backend,
  F,
  GemmParams,
  StridedLayout,
} from '../../tensor/backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { jsBackend } from '../js/index.js';
import { dropKeepScale, dropThreshold } from '../../tensor/ops/attention-dropout.js';
import { BackendError, ConfigError } from '../../util/errors.js';
import type { NativeAddon } from './addon.js';
import { binaryCode, unaryCode } from './codes.js';

const MAX_DIMS = 16;

/** A Backend that also reports how often it called into C. */
export interface NativeBackend extends Backend {
  readonly name: 'native';
  /** Kernel calls that reached the addon since it loaded. */
  calls(): number;
  /** Switches the kernel table ('avx512' | 'avx2' | 'portable'); false when this CPU lacks it. */
  useIsa(isa: string): boolean;
  readonly cpuCount: number;
  /** memcpy bandwidth in GB/s (read + write) over `bytes`-sized buffers, best of `reps`. */
  copyBandwidth(bytes: number, reps: number): number;
  /**
   * The prefetch strategies a matrix-vector product y = M x (x W^T of a Linear layer) reads
   * M with. Each large shape is timed once with every strategy at its first use and the
   * fastest kept (per shape, ISA and thread count); the strategies give bit-identical results.
   * `forceGemvStrategy` pins one for every product (null: back to measuring).
   */
  readonly gemvStrategies: readonly GemvStrategy[];
  forceGemvStrategy(strategy: GemvStrategy | null): void;
  /** The strategy chosen for M (rows, cols) of row stride `ld` (default cols), or null before its first product. */
  gemvChoice(rows: number, cols: number, ld?: number): GemvStrategy | null;
  /** Forgets every choice: the next product of each shape measures again. */
  forgetGemvChoices(): void;
}

/** 'keep': prefetch into every cache level; 'stream': non-temporal prefetch (native/tune.c). */
export type GemvStrategy = 'keep' | 'stream';
const gemvStrategies: readonly GemvStrategy[] = ['keep', 'stream'];

function outOfBounds(where: string, array: string, needed: number, length: number): BackendError {
  return new BackendError('an index would fall outside the array', {
    where: `native.${where}`,
    expected: `${array} of at least ${needed} elements`,
    actual: length,
    hint: 'the sizes passed to the kernel do not match the arrays',
  });
}

/** Throws unless elements [0, end) of `array` exist. */
function need(where: string, name: string, array: TypedArray | null, end: number): void {
  if (array !== null && end > array.length) throw outOfBounds(where, name, end, array.length);
}

/** Throws unless every element a strided layout reads lies inside `array`. */
function needLayout(
  where: string,
  name: string,
  array: TypedArray,
  offset: number,
  shape: readonly number[],
  strides: readonly number[],
): void {
  let lo = offset;
  let hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return;
    const span = (shape[d]! - 1) * strides[d]!;
    if (span > 0) hi += span;
    else lo += span;
  }
  if (lo < 0 || hi >= array.length) throw outOfBounds(where, name, hi + 1, array.length);
}

function ok(x: TypedArray | null): boolean {
  return x === null || x instanceof Float32Array;
}

/** True when every given array is a Float32Array (null and absent ones pass). Fixed arity, no
 * rest array: this runs on every kernel call. */
function isF32(
  a: TypedArray | null,
  b: TypedArray | null = null,
  c: TypedArray | null = null,
  d: TypedArray | null = null,
  e: TypedArray | null = null,
  f: TypedArray | null = null,
  g: TypedArray | null = null,
  h: TypedArray | null = null,
  i: TypedArray | null = null,
  j: TypedArray | null = null,
): boolean {
  return ok(a) && ok(b) && ok(c) && ok(d) && ok(e) && ok(f) && ok(g) && ok(h) && ok(i) && ok(j);
}

export function createNativeBackend(addon: NativeAddon): NativeBackend {
  // Reused argument blocks: no allocation per call.
  const layout = new Float64Array(1 + 3 * MAX_DIMS);
  const attention = new Float64Array(17);

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

  function packAttention(where: string, q: F, k: F, v: F, p: AttentionParams): Float64Array {
    const { B, nH, nKV, Tq, Tk, hs } = p;
    if (nKV < 1 || nH % nKV !== 0) {
      throw new BackendError('query heads must be a multiple of key/value heads', {
        where: `native.${where}`,
        expected: 'nH % nKV == 0, nKV >= 1',
        actual: `nH=${nH}, nKV=${nKV}`,
      });
    }
    need(where, 'q', q, B * nH * Tq * hs);
    need(where, 'k', k, B * nKV * Tk * hs);
    need(where, 'v', v, B * nKV * Tk * hs);
    const seedOk = Number.isInteger(p.dropoutSeed) && p.dropoutSeed >= 0 && p.dropoutSeed <= 0xffffffff;
    if (!(p.dropout >= 0 && p.dropout < 1) || !seedOk) {
      // the C side converts both with plain casts: out-of-range values would be undefined behaviour
      throw new BackendError('attention dropout out of range', {
        where: `native.${where}`,
        expected: 'dropout in [0, 1), dropoutSeed an unsigned 32-bit integer',
        actual: `dropout ${p.dropout}, dropoutSeed ${p.dropoutSeed}`,
      });
    }
    if (p.mask !== null && B * nH * Tq * Tk > 0) {
      needLayout(
        where,
        'mask',
        p.mask,
        p.maskOffset,
        [B, nH, Tq, Tk],
        [p.maskStrideB, p.maskStrideH, p.maskStrideQ, 1],
      );
    }
    attention[0] = B;
    attention[1] = nH;
    attention[2] = nKV;
    attention[3] = Tq;
    attention[4] = Tk;
    attention[5] = hs;
    attention[6] = p.scale;
    attention[7] = p.causal ? 1 : 0;
    attention[8] = p.causalOffset;
    attention[9] = p.maskStrideB;
    attention[10] = p.maskStrideH;
    attention[11] = p.maskStrideQ;
    attention[12] = p.maskOffset;
    attention[13] = p.dropout;
    attention[14] = p.dropoutSeed;
    attention[15] = dropThreshold(p.dropout);
    attention[16] = dropKeepScale(p.dropout);
    return attention;
  }

  function checkIds(where: string, ids: Int32Array, N: number, rows: number, ignore: number | null): void {
    need(where, 'ids', ids, N);
    for (let i = 0; i < N; i++) {
      const id = ids[i]!;
      if ((id < 0 || id >= rows) && id !== ignore) {
        throw new BackendError('index out of range', {
          where: `native.${where}`,
          expected: `0 <= id < ${rows}${ignore === null ? '' : ` or ${ignore}`}`,
          actual: `${id} at position ${i}`,
        });
      }
    }
  }

  return {
    name: 'native',
    get isa(): string {
      return addon.isa();
    },
    get threads(): number {
      return addon.threads();
    },
    get cpuCount(): number {
      return addon.cpuCount();
    },
    setThreads(threads: number): void {
      if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
        throw new ConfigError('thread count out of range', {
          where: 'setThreads',
          expected: 'an integer in [1, 256]',
          actual: threads,
        });
      }
      addon.setThreads(threads);
    },
    calls: () => addon.calls(),
    useIsa: (isa) => addon.useIsa(isa),
    copyBandwidth: (bytes, reps) => addon.copyBandwidth(bytes, reps),
    gemvStrategies,
    forceGemvStrategy(strategy: GemvStrategy | null): void {
      if (!addon.forceGemvStrategy(strategy)) {
        throw new ConfigError('unknown GEMV strategy', {
          where: 'forceGemvStrategy',
          expected: `one of ${gemvStrategies.join(', ')}, or null`,
          actual: strategy,
        });
      }
    },
    gemvChoice: (rows, cols, ld = cols) => addon.gemvChoice(rows, cols, ld) as GemvStrategy | null,
    forgetGemvChoices: () => addon.forgetGemvChoices(),

    copyStrided(src: TypedArray, from: StridedLayout, dst: TypedArray, to: StridedLayout): void {
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

    gemm(a: F, b: F, c: F, p: GemmParams): void {
      if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
        jsBackend.gemm(a, b, c, p);
        return;
      }
      const { batch, m, n, k } = p;
      if (batch > 0 && m > 0 && n > 0) {
        // Stored shapes: A is (m, k) or (k, m) when transposed; B (k, n) or (n, k); C (m, n).
        if (k > 0) {
          const aRows = p.transA ? k : m;
          const aCols = p.transA ? m : k;
          const bRows = p.transB ? n : k;
          const bCols = p.transB ? k : n;
          need('gemm', 'a', a, p.offsetA + (batch - 1) * p.strideA + (aRows - 1) * p.lda + aCols);
          need('gemm', 'b', b, p.offsetB + (batch - 1) * p.strideB + (bRows - 1) * p.ldb + bCols);
        }
        need('gemm', 'c', c, p.offsetC + (batch - 1) * p.strideC + (m - 1) * p.ldc + n);
      }
      addon.gemm(
        a,
        b,
        c,
        batch,
        m,
        n,
        k,
        p.transA,
        p.transB,
        p.lda,
        p.ldb,
        p.ldc,
        p.offsetA,
        p.offsetB,
        p.offsetC,
        p.strideA,
        p.strideB,
        p.strideC,
        p.alpha,
        p.beta,
      );
    },

    unary(op, x, y, N): void {
      if (!(x instanceof Float32Array && y instanceof Float32Array)) return jsBackend.unary(op, x, y, N);
      need('unary', 'x', x, N);
      need('unary', 'y', y, N);
      addon.unary(unaryCode[op], x, y, N);
    },

    unaryBackward(op, x, y, dy, dx, N): void {
      if (!(
        x instanceof Float32Array &&
        y instanceof Float32Array &&
        dy instanceof Float32Array &&
        dx instanceof Float32Array
      )) {
        return jsBackend.unaryBackward(op, x, y, dy, dx, N);
      }
      need('unaryBackward', 'x', x, N);
      need('unaryBackward', 'y', y, N);
      need('unaryBackward', 'dy', dy, N);
      need('unaryBackward', 'dx', dx, N);
      addon.unaryBackward(unaryCode[op], x, y, dy, dx, N);
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

    affine(x, y, N, alpha, beta): void {
      if (!isF32(x, y)) return jsBackend.affine(x, y, N, alpha, beta);
      need('affine', 'x', x, N);
      need('affine', 'y', y, N);
      addon.affine(x as Float32Array, y as Float32Array, N, alpha, beta);
    },

    reduceSum(x, out, outer, R, inner): void {
      if (!isF32(x, out)) return jsBackend.reduceSum(x, out, outer, R, inner);
      need('reduceSum', 'x', x, outer * R * inner);
      need('reduceSum', 'out', out, outer * inner);
      addon.reduceSum(x as Float32Array, out as Float32Array, outer, R, inner);
    },

    reduceMax(x, out, argmax, outer, R, inner): void {
      if (!isF32(x, out)) return jsBackend.reduceMax(x, out, argmax, outer, R, inner);
      need('reduceMax', 'x', x, outer * R * inner);
      need('reduceMax', 'out', out, outer * inner);
      need('reduceMax', 'argmax', argmax, outer * inner);
      addon.reduceMax(x as Float32Array, out as Float32Array, argmax, outer, R, inner);
    },

    softmax(x, y, rows, C, log): void {
      if (!isF32(x, y)) return jsBackend.softmax(x, y, rows, C, log);
      need('softmax', 'x', x, rows * C);
      need('softmax', 'y', y, rows * C);
      addon.softmax(x as Float32Array, y as Float32Array, rows, C, log);
    },

    softmaxBackward(y, dy, dx, rows, C, log): void {
      if (!isF32(y, dy, dx)) return jsBackend.softmaxBackward(y, dy, dx, rows, C, log);
      need('softmaxBackward', 'y', y, rows * C);
      need('softmaxBackward', 'dy', dy, rows * C);
      need('softmaxBackward', 'dx', dx, rows * C);
      addon.softmaxBackward(y as Float32Array, dy as Float32Array, dx as Float32Array, rows, C, log);
    },

    crossEntropyForward(logits, targets, losses, lse, rows, V, ignoreIndex, labelSmoothing): void {
      if (!isF32(logits, losses, lse)) {
        return jsBackend.crossEntropyForward(
          logits,
          targets,
          losses,
          lse,
          rows,
          V,
          ignoreIndex,
          labelSmoothing,
        );
      }
      need('crossEntropyForward', 'logits', logits, rows * V);
      need('crossEntropyForward', 'losses', losses, rows);
      need('crossEntropyForward', 'lse', lse, rows);
      checkIds('crossEntropyForward', targets, rows, V, ignoreIndex);
      addon.crossEntropyForward(
        logits as Float32Array,
        targets,
        losses as Float32Array,
        lse as Float32Array,
        rows,
        V,
        ignoreIndex,
        labelSmoothing,
      );
    },

    crossEntropyBackward(logits, targets, lse, dlosses, dlogits, rows, V, ignoreIndex, labelSmoothing): void {
      if (!isF32(logits, lse, dlosses, dlogits)) {
        return jsBackend.crossEntropyBackward(
          logits,
          targets,
          lse,
          dlosses,
          dlogits,
          rows,
          V,
          ignoreIndex,
          labelSmoothing,
        );
      }
      need('crossEntropyBackward', 'logits', logits, rows * V);
      need('crossEntropyBackward', 'dlogits', dlogits, rows * V);
      need('crossEntropyBackward', 'lse', lse, rows);
      need('crossEntropyBackward', 'dlosses', dlosses, rows);
      checkIds('crossEntropyBackward', targets, rows, V, ignoreIndex);
      addon.crossEntropyBackward(
        logits as Float32Array,
        targets,
        lse as Float32Array,
        dlosses as Float32Array,
        dlogits as Float32Array,
        rows,
        V,
        ignoreIndex,
        labelSmoothing,
      );
    },

    layerNormForward(x, weight, bias, y, mean, rstd, rows, C, eps): void {
      if (!isF32(x, weight, bias, y, mean, rstd)) {
        return jsBackend.layerNormForward(x, weight, bias, y, mean, rstd, rows, C, eps);
      }
      need('layerNormForward', 'x', x, rows * C);
      need('layerNormForward', 'y', y, rows * C);
      need('layerNormForward', 'weight', weight, C);
      need('layerNormForward', 'bias', bias, C);
      need('layerNormForward', 'mean', mean, rows);
      need('layerNormForward', 'rstd', rstd, rows);
      addon.layerNormForward(
        x as Float32Array,
        weight as Float32Array | null,
        bias as Float32Array | null,
        y as Float32Array,
        mean as Float32Array,
        rstd as Float32Array,
        rows,
        C,
        eps,
      );
    },

    layerNormBackward(dy, x, weight, mean, rstd, dx, dweight, dbias, rows, C): void {
      if (!isF32(dy, x, weight, mean, rstd, dx, dweight, dbias)) {
        return jsBackend.layerNormBackward(dy, x, weight, mean, rstd, dx, dweight, dbias, rows, C);
      }
      need('layerNormBackward', 'dy', dy, rows * C);
      need('layerNormBackward', 'x', x, rows * C);
      need('layerNormBackward', 'dx', dx, rows * C);
      need('layerNormBackward', 'weight', weight, C);
      need('layerNormBackward', 'dweight', dweight, C);
      need('layerNormBackward', 'dbias', dbias, C);
      need('layerNormBackward', 'mean', mean, rows);
      need('layerNormBackward', 'rstd', rstd, rows);
      addon.layerNormBackward(
        dy as Float32Array,
        x as Float32Array,
        weight as Float32Array | null,
        mean as Float32Array,
        rstd as Float32Array,
        dx as Float32Array,
        dweight as Float32Array | null,
        dbias as Float32Array | null,
        rows,
        C,
      );
    },

    rmsNormForward(x, weight, y, rstd, rows, C, eps): void {
      if (!isF32(x, weight, y, rstd)) return jsBackend.rmsNormForward(x, weight, y, rstd, rows, C, eps);
      need('rmsNormForward', 'x', x, rows * C);
      need('rmsNormForward', 'y', y, rows * C);
      need('rmsNormForward', 'weight', weight, C);
      need('rmsNormForward', 'rstd', rstd, rows);
      addon.rmsNormForward(
        x as Float32Array,
        weight as Float32Array | null,
        y as Float32Array,
        rstd as Float32Array,
        rows,
        C,
        eps,
      );
    },

    rmsNormBackward(dy, x, weight, rstd, dx, dweight, rows, C): void {
      if (!isF32(dy, x, weight, rstd, dx, dweight)) {
        return jsBackend.rmsNormBackward(dy, x, weight, rstd, dx, dweight, rows, C);
      }
      need('rmsNormBackward', 'dy', dy, rows * C);
      need('rmsNormBackward', 'x', x, rows * C);
      need('rmsNormBackward', 'dx', dx, rows * C);
      need('rmsNormBackward', 'weight', weight, C);
      need('rmsNormBackward', 'dweight', dweight, C);
      need('rmsNormBackward', 'rstd', rstd, rows);
      addon.rmsNormBackward(
        dy as Float32Array,
        x as Float32Array,
        weight as Float32Array | null,
        rstd as Float32Array,
        dx as Float32Array,
        dweight as Float32Array | null,
        rows,
        C,
      );
    },

    embeddingForward(weight, ids, out, N, C): void {
      if (!isF32(weight, out)) return jsBackend.embeddingForward(weight, ids, out, N, C);
      need('embeddingForward', 'out', out, N * C);
      checkIds('embeddingForward', ids, N, C === 0 ? Infinity : Math.floor(weight.length / C), null);
      addon.embeddingForward(weight as Float32Array, ids, out as Float32Array, N, C);
    },

    embeddingBackward(dout, ids, dweight, N, C): void {
      if (!isF32(dout, dweight)) return jsBackend.embeddingBackward(dout, ids, dweight, N, C);
      need('embeddingBackward', 'dout', dout, N * C);
      checkIds('embeddingBackward', ids, N, C === 0 ? Infinity : Math.floor(dweight.length / C), null);
      addon.embeddingBackward(dout as Float32Array, ids, dweight as Float32Array, N, C);
    },

    attentionForward(q, k, v, out, lse, p): void {
      if (!isF32(q, k, v, out, lse, p.mask)) return jsBackend.attentionForward(q, k, v, out, lse, p);
      const params = packAttention('attentionForward', q, k, v, p);
      need('attentionForward', 'out', out, p.B * p.nH * p.Tq * p.hs);
      need('attentionForward', 'lse', lse, p.B * p.nH * p.Tq);
      addon.attentionForward(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        out as Float32Array,
        lse as Float32Array,
        p.mask as Float32Array | null,
        params,
      );
    },

    attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, p): void {
      if (!isF32(q, k, v, out, lse, dout, dq, dk, dv, p.mask)) {
        return jsBackend.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, p);
      }
      const params = packAttention('attentionBackward', q, k, v, p);
      const qSize = p.B * p.nH * p.Tq * p.hs;
      const kvSize = p.B * p.nKV * p.Tk * p.hs;
      need('attentionBackward', 'out', out, qSize);
      need('attentionBackward', 'dout', dout, qSize);
      need('attentionBackward', 'dq', dq, qSize);
      need('attentionBackward', 'dk', dk, kvSize);
      need('attentionBackward', 'dv', dv, kvSize);
      need('attentionBackward', 'lse', lse, p.B * p.nH * p.Tq);
      addon.attentionBackward(
        q as Float32Array,
        k as Float32Array,
        v as Float32Array,
        out as Float32Array,
        lse as Float32Array,
        dout as Float32Array,
        dq as Float32Array,
        dk as Float32Array,
        dv as Float32Array,
        p.mask as Float32Array | null,
        params,
      );
    },

    sumOfSquares(x, N): number {
      if (!isF32(x)) return jsBackend.sumOfSquares(x, N);
      need('sumOfSquares', 'x', x, N);
      return addon.sumOfSquares(x as Float32Array, N);
    },

    adamw(param, grad, m, v, N, p: AdamWParams): void {
      if (!isF32(param, grad, m, v)) return jsBackend.adamw(param, grad, m, v, N, p);
      need('adamw', 'param', param, N);
      need('adamw', 'grad', grad, N);
      need('adamw', 'm', m, N);
      need('adamw', 'v', v, N);
      addon.adamw(
        param as Float32Array,
        grad as Float32Array,
        m as Float32Array,
        v as Float32Array,
        N,
        p.lr,
        p.beta1,
        p.beta2,
        p.eps,
        p.weightDecay,
        p.step,
        p.gradScale,
      );
    },
  };
}
