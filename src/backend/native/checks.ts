/**
 * The argument checks of the native wrappers: what C cannot check (that every index a kernel
 * will touch lies inside its arrays, dtypes, id ranges). The generated wrappers
 * (kernels.gen.ts) call `need` for each manifest length and the manifest's `check` calls;
 * every error is a BackendError naming the kernel (`native.<kernel>`) and the argument.
 */
import type {
  AttentionParams,
  DecodeLayerParams,
  F,
  GemmParams,
  GroupedGemmParams,
} from '../../tensor/backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { BackendError } from '../../util/errors.js';

function outOfBounds(where: string, array: string, needed: number, length: number): BackendError {
  return new BackendError('an index would fall outside the array', {
    where: `native.${where}`,
    expected: `${array} of at least ${needed} elements`,
    actual: length,
    hint: 'the sizes passed to the kernel do not match the arrays',
  });
}

const dtypeName = (x: unknown): string =>
  x === null ? 'null' : typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;

/** Throws unless elements [0, end) of `array` exist (null passes: an optional argument). */
export function need(where: string, name: string, array: TypedArray | Uint8Array | null, end: number): void {
  if (array !== null && end > array.length) throw outOfBounds(where, name, end, array.length);
}

/** Throws unless every element a strided layout reads lies inside `array`. */
export function needLayout(
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

/**
 * The slow path of a wrapper whose float arguments are not all Float32Array: float64 (and
 * mixed float32/float64) is legal and runs on the JS kernels; anything else is an error.
 */
export function floats(where: string, args: ReadonlyArray<readonly [string, unknown]>): void {
  for (const [name, x] of args) {
    if (x === null || x instanceof Float32Array || x instanceof Float64Array) continue;
    throw new BackendError('wrong array type', {
      where: `native.${where}`,
      expected: `${name}: a Float32Array or Float64Array`,
      actual: dtypeName(x),
    });
  }
}

export function int32(where: string, name: string, x: unknown, nullable: boolean): void {
  if (x instanceof Int32Array || (nullable && x === null)) return;
  throw new BackendError('wrong array type', {
    where: `native.${where}`,
    expected: `${name}: an Int32Array${nullable ? ' or null' : ''}`,
    actual: dtypeName(x),
  });
}

export function uint8(where: string, name: string, x: unknown, nullable: boolean): void {
  if (x instanceof Uint8Array || (nullable && x === null)) return;
  throw new BackendError('wrong array type', {
    where: `native.${where}`,
    expected: `${name}: a Uint8Array${nullable ? ' or null' : ''}`,
    actual: dtypeName(x),
  });
}

/** The quantized kernels' inner size: whole 32-value blocks. */
export function quantBlocks(where: string, k: number): void {
  if (k % 32 !== 0) {
    throw new BackendError('the inner size is not a whole number of 32-value blocks', {
      where: `native.${where}`,
      expected: 'k a multiple of 32',
      actual: k,
    });
  }
}

/** ids[0, N) each in [0, rows), or equal to `ignore`. */
export function ids(where: string, list: Int32Array, N: number, rows: number, ignore: number | null): void {
  need(where, 'ids', list, N);
  for (let i = 0; i < N; i++) {
    const id = list[i]!;
    if ((id < 0 || id >= rows) && id !== ignore) {
      throw new BackendError('index out of range', {
        where: `native.${where}`,
        expected: `0 <= id < ${rows}${ignore === null ? '' : ` or ${ignore}`}`,
        actual: `${id} at position ${i}`,
      });
    }
  }
}

/** Every element of every batch matrix, as stored (A (m, k) or (k, m) transposed, ...). */
export function gemm(where: string, a: F, b: F, c: F, p: GemmParams): void {
  const { batch, m, n, k } = p;
  if (!(batch > 0 && m > 0 && n > 0)) return;
  if (k > 0) {
    const aRows = p.transA ? k : m;
    const aCols = p.transA ? m : k;
    const bRows = p.transB ? n : k;
    const bCols = p.transB ? k : n;
    need(where, 'a', a, p.offsetA + (batch - 1) * p.strideA + (aRows - 1) * p.lda + aCols);
    need(where, 'b', b, p.offsetB + (batch - 1) * p.strideB + (bRows - 1) * p.ldb + bCols);
  }
  need(where, 'c', c, p.offsetC + (batch - 1) * p.strideC + (m - 1) * p.ldc + n);
}

/** Head grouping, q/k/v sizes, the dropout range (C casts it) and the mask layout. */
export function attention(where: string, q: F, k: F, v: F, p: AttentionParams): void {
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
}

/**
 * The decode step's shapes: heads that group, an even head size, a position inside the cache
 * and the RoPE tables, and every weight (biases where given) as long as its shape says.
 */
export function decodeLayer(where: string, x: F, p: DecodeLayerParams): void {
  const { C, nH, nKV, hs, hidden, maxT, pos } = p;
  const dims = [C, nH, nKV, hs, hidden, maxT];
  if (!dims.every((d) => Number.isInteger(d) && d >= 1) || nH % nKV !== 0 || hs % 2 !== 0) {
    throw new BackendError('decode step sizes out of range', {
      where: `native.${where}`,
      expected: 'C, nH, nKV, hs, hidden, maxT >= 1, nH % nKV == 0, hs even',
      actual: `C=${C}, nH=${nH}, nKV=${nKV}, hs=${hs}, hidden=${hidden}, maxT=${maxT}`,
    });
  }
  const positions = Math.floor(p.cos.length / (hs >> 1));
  if (!(Number.isInteger(pos) && pos >= 0 && pos < maxT && pos < positions)) {
    throw new BackendError('decode position outside the cache or the RoPE tables', {
      where: `native.${where}`,
      expected: `0 <= pos < ${Math.min(maxT, positions)}`,
      actual: pos,
    });
  }
  need(where, 'x', x, C);
  const q = nH * hs;
  const kv = nKV * hs;
  const sizes: ReadonlyArray<readonly [string, F | null, number]> = [
    ['p.norm1', p.norm1, C],
    ['p.wq', p.wq, q * C],
    ['p.bq', p.bq, q],
    ['p.wk', p.wk, kv * C],
    ['p.bk', p.bk, kv],
    ['p.wv', p.wv, kv * C],
    ['p.bv', p.bv, kv],
    ['p.wo', p.wo, C * q],
    ['p.bo', p.bo, C],
    ['p.norm2', p.norm2, C],
    ['p.wGate', p.wGate, hidden * C],
    ['p.wUp', p.wUp, hidden * C],
    ['p.wDown', p.wDown, C * hidden],
    ['p.sin', p.sin, (pos + 1) * (hs >> 1)],
  ];
  for (const [name, array, length] of sizes) if (array !== null) need(where, name, array, length);
}

export function evenHeadSize(where: string, hs: number): void {
  if (hs % 2 !== 0) {
    throw new BackendError('rotary embedding needs an even head size', {
      where: `native.${where}`,
      expected: 'hs even',
      actual: hs,
    });
  }
}

/**
 * Group offsets non-decreasing from 0 or more (C walks each group's rows from offsets[g] to
 * offsets[g + 1]), and every row and every group matrix inside its array.
 */
export function groupedGemm(
  where: string,
  a: F,
  b: F,
  c: F,
  offsets: Int32Array,
  p: GroupedGemmParams,
): void {
  const { groups, m, n, k } = p;
  if (!(groups > 0 && n > 0)) return;
  for (let g = 0; g < groups; g++) {
    const lo = offsets[g]!;
    const hi = offsets[g + 1]!;
    if (lo < 0 || hi < lo) {
      throw new BackendError('group offsets must be non-decreasing from 0', {
        where: `native.${where}`,
        expected: '0 <= offsets[g] <= offsets[g + 1]',
        actual: `offsets[${g}] = ${lo}, offsets[${g + 1}] = ${hi}`,
      });
    }
  }
  const rows = offsets[groups]!;
  if (p.inner) {
    if (m <= 0) return;
    if (rows > 0) {
      need(where, 'a', a, p.offsetA + (rows - 1) * p.lda + m);
      need(where, 'b', b, p.offsetB + (rows - 1) * p.ldb + n);
    }
    need(where, 'c', c, p.offsetC + (groups - 1) * p.strideC + (m - 1) * p.ldc + n);
    return;
  }
  if (rows === 0) return;
  if (k > 0) {
    const bRows = p.transB ? n : k;
    const bCols = p.transB ? k : n;
    need(where, 'a', a, p.offsetA + (rows - 1) * p.lda + k);
    need(where, 'b', b, p.offsetB + (groups - 1) * p.strideB + (bRows - 1) * p.ldb + bCols);
  }
  need(where, 'c', c, p.offsetC + (rows - 1) * p.ldc + n);
}

/** 1 <= k <= E: the selection loop of moeTopk picks k distinct experts of E. */
export function topk(where: string, k: number, E: number): void {
  if (!(Number.isInteger(k) && k >= 1 && k <= E)) {
    throw new BackendError('k out of range', {
      where: `native.${where}`,
      expected: `an integer in [1, ${E}] (E)`,
      actual: k,
    });
  }
}
