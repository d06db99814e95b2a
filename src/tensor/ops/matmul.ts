/**
 * Batched matrix multiply with NumPy broadcasting over batch dimensions:
 * (..., m, k) @ (..., k, n) -> (..., m, n). Transposed views are passed to the GEMM
 * kernel as transpose flags instead of being copied.
 */
import { Tensor } from '../tensor.js';
import { backend, type F, type GemmParams } from '../backend.js';
import { isGradEnabled, record } from '../autograd/tape.js';
import { broadcastShapes, formatShape, numel } from '../shape.js';
import { contiguous, expand, reshape, transpose } from './layout.js';
import { sumToShape } from './reduce.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

/** How GEMM reads the last two dimensions of an operand. */
interface MatrixView {
  readonly source: Tensor;
  readonly trans: boolean;
  readonly ld: number;
}

/**
 * How GEMM reads a (rows, cols) matrix of `source` with row stride `rs` and column stride
 * `cs`: row-major (stride 1 on the last axis) or column-major (a transposed view); null
 * when it needs a copy.
 */
function stridedMatrix(
  source: Tensor,
  rows: number,
  cols: number,
  rs: number,
  cs: number,
): MatrixView | null {
  if (cs === 1 && (rs >= cols || rows === 1)) return { source, trans: false, ld: Math.max(rs, cols, 1) };
  if (rs === 1 && (cs >= rows || cols === 1)) return { source, trans: true, ld: Math.max(cs, rows, 1) };
  return null;
}

/** The last two dimensions of x as GEMM reads them; a contiguous copy when they must be. */
function matrixView(x: Tensor): MatrixView {
  const n = x.ndim;
  const rows = x.shape[n - 2]!;
  const cols = x.shape[n - 1]!;
  const view = stridedMatrix(x, rows, cols, x.strides[n - 2]!, x.strides[n - 1]!);
  return view ?? { source: contiguous(x), trans: false, ld: Math.max(cols, 1) };
}

/**
 * Element stride between consecutive matrices when x's batch dims (broadcast to `batch`)
 * collapse into one uniform step; 0 when x is shared by every batch; null when neither.
 */
function batchStride(x: Tensor, batch: readonly number[]): number | null {
  const lead = x.shape.slice(0, -2);
  if (lead.every((d) => d === 1)) return 0;
  if (lead.length !== batch.length || lead.some((d, i) => d !== batch[i])) return null;
  const strides = x.strides.slice(0, -2);
  for (let i = 0; i < lead.length - 1; i++) {
    if (lead[i] !== 1 && strides[i] !== strides[i + 1]! * lead[i + 1]!) return null;
  }
  return strides[lead.length - 1]!;
}

export interface MatmulSaved {
  /** True when a was folded into one tall matrix against a shared 2-D b. */
  readonly folded: boolean;
}

const FOLDED: MatmulSaved = Object.freeze({ folded: true });
const UNFOLDED: MatmulSaved = Object.freeze({ folded: false });

/** The product of all but the last dimension. */
function rowCount(shape: readonly number[]): number {
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i]!;
  return rows;
}

export function matmul(aIn: Tensor, bIn: Tensor): Tensor {
  if (aIn.dtype !== bIn.dtype || aIn.dtype === 'int32') {
    throw new DTypeError('matmul needs two float tensors of one dtype', {
      where: 'matmul',
      expected: 'float32 @ float32 or float64 @ float64',
      actual: `${aIn.dtype} @ ${bIn.dtype}`,
    });
  }
  if (aIn.ndim < 2 || bIn.ndim < 2) {
    throw new ShapeError('matmul needs at least 2-D operands', {
      where: 'matmul',
      expected: '(..., m, k) @ (..., k, n)',
      actual: `${formatShape(aIn.shape)} @ ${formatShape(bIn.shape)}`,
    });
  }
  const m = aIn.shape[aIn.ndim - 2]!;
  const k = aIn.shape[aIn.ndim - 1]!;
  const n = bIn.shape[bIn.ndim - 1]!;
  if (bIn.shape[bIn.ndim - 2] !== k) {
    throw new ShapeError('inner dimensions differ', {
      where: 'matmul',
      expected: `(..., m, ${k}) @ (..., ${k}, n)`,
      actual: `${formatShape(aIn.shape)} @ ${formatShape(bIn.shape)}`,
    });
  }
  // (B, T, C) @ (C, N): one tall GEMM instead of B small ones, when a's rows are uniform.
  if (bIn.ndim === 2 && aIn.ndim > 2) {
    return record('matmul', [aIn, bIn], foldedProduct(aIn, matrixView(bIn), n), FOLDED);
  }

  const batch = broadcastShapes('matmul', aIn.shape.slice(0, -2), bIn.shape.slice(0, -2));
  const outShape = [...batch, m, n];
  const out = Tensor.emptyOwned(outShape, aIn.dtype, false);

  let a = aIn;
  let b = bIn;
  let strideA = batchStride(a, batch);
  let strideB = batchStride(b, batch);
  if (strideA === null) {
    a = contiguous(expand(a, [...batch, m, k]));
    strideA = m * k;
  }
  if (strideB === null) {
    b = contiguous(expand(b, [...batch, k, n]));
    strideB = k * n;
  }
  const A = matrixView(a);
  const B = matrixView(b);
  // matrixView may have copied; a copy is contiguous, so its batch stride is one matrix.
  if (A.source !== a && strideA !== 0) strideA = m * k;
  if (B.source !== b && strideB !== 0) strideB = k * n;
  gemm(A, B, out, { batch: numel(batch), m, n, k, strideA, strideB, strideC: m * n });
  return record('matmul', [aIn, bIn], out, UNFOLDED);
}

/**
 * a (..., m, k) as one (rows, k) matrix times B (k, n): the (..., m, n) product, in one
 * GEMM. a's rows as one row-major matrix is what matrixView(reshape(contiguous(a), [rows, k]))
 * gives, without building the view.
 */
function foldedProduct(aIn: Tensor, B: MatrixView, n: number): Tensor {
  const k = aIn.shape[aIn.ndim - 1]!;
  const outShape = aIn.shape.slice(); // (..., m, n)
  outShape[outShape.length - 1] = n;
  const out = Tensor.emptyOwned(outShape, aIn.dtype, false);
  const A: MatrixView = { source: contiguous(aIn), trans: false, ld: Math.max(k, 1) };
  gemm(A, B, out, { batch: 1, m: rowCount(aIn.shape), n, k, strideA: 0, strideB: 0, strideC: 0 });
  return out;
}

/**
 * x (..., in) @ weight^T for an (out, in) weight, as nn.Linear computes it: exactly
 * matmul(x, transpose(weight)), the same GEMM reading the weight through the transpose
 * flag. When no graph is recorded (noGrad, or nothing requires grad) and x has batch
 * dimensions, the transposed view tensor is not built: a decode step runs ~40 of these.
 */
export function matmulTransposed(x: Tensor, weight: Tensor): Tensor {
  const recorded = isGradEnabled() && (x.requiresGrad || weight.requiresGrad);
  if (!recorded && x.ndim > 2 && weight.ndim === 2 && x.dtype === weight.dtype && x.dtype !== 'int32') {
    const n = weight.shape[0]!;
    const k = weight.shape[1]!;
    // weight^T is (k, n) with row stride weight.strides[1] and column stride weight.strides[0].
    const B = stridedMatrix(weight, k, n, weight.strides[1]!, weight.strides[0]!);
    if (B !== null && x.shape[x.ndim - 1] === k) return foldedProduct(x, B, n);
  }
  return matmul(x, transpose(weight));
}

function gemm(
  A: MatrixView,
  B: MatrixView,
  out: Tensor,
  dims: Pick<GemmParams, 'batch' | 'm' | 'n' | 'k' | 'strideA' | 'strideB' | 'strideC'>,
): void {
  if (dims.m * dims.n === 0) return;
  // Kernels index the whole storage buffer through offsets and leading dimensions. The
  // fields are spelled out: an object spread here cost ~7 us per call (V8's slow path),
  // twice the whole kernel of a decode-step GEMV.
  backend().gemm(A.source.data as F, B.source.data as F, out.floats(), {
    batch: dims.batch,
    m: dims.m,
    n: dims.n,
    k: dims.k,
    strideA: dims.strideA,
    strideB: dims.strideB,
    strideC: dims.strideC,
    transA: A.trans,
    transB: B.trans,
    lda: A.ld,
    ldb: B.ld,
    ldc: dims.n,
    offsetA: A.source.offset,
    offsetB: B.source.offset,
    offsetC: 0,
    alpha: 1,
    beta: 0,
  });
}

/**
 * out = a @ b  =>  da = g @ b^T, db = a^T @ g, each summed over the batch dimensions the
 * operand was broadcast across. In the folded case db = a2^T @ g2 with a2 = a as (rows, k).
 */
export function matmulBackward(
  g: Tensor,
  a: Tensor,
  b: Tensor,
  s: MatmulSaved,
): [Tensor | null, Tensor | null] {
  const k = a.shape[a.ndim - 1]!;
  const n = b.shape[b.ndim - 1]!;
  const rows = numel(a.shape.slice(0, -1));
  const da = a.requiresGrad ? sumToShape(matmul(g, transpose(b)), a.shape) : null;
  let db: Tensor | null = null;
  if (b.requiresGrad) {
    db = s.folded
      ? matmul(transpose(reshape(contiguous(a), [rows, k])), reshape(contiguous(g), [rows, n]))
      : sumToShape(matmul(transpose(a), g), b.shape);
  }
  return [da, db];
}
