/**
 * Reference SGEMM/DGEMM: C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b], row-major, with
 * transposes, leading dimensions, offsets and batch strides. Loops are ordered i-p-j so
 * the inner loop streams rows of B and C (the fast order for row-major data).
 */
import type { F, GemmParams } from '../../tensor/backend.js';

export function gemm(a: F, b: F, c: F, p: GemmParams): void {
  const { m, n, k, lda, ldb, ldc, alpha, beta } = p;
  // op(A)[i][q] and op(B)[q][j] as strides into the stored arrays.
  const aRow = p.transA ? 1 : lda;
  const aCol = p.transA ? lda : 1;
  const bRow = p.transB ? 1 : ldb;
  const bCol = p.transB ? ldb : 1;
  for (let batch = 0; batch < p.batch; batch++) {
    const a0 = p.offsetA + batch * p.strideA;
    const b0 = p.offsetB + batch * p.strideB;
    const c0 = p.offsetC + batch * p.strideC;
    for (let i = 0; i < m; i++) {
      const ci = c0 + i * ldc;
      if (beta === 0) for (let j = 0; j < n; j++) c[ci + j] = 0;
      else if (beta !== 1) for (let j = 0; j < n; j++) c[ci + j] = beta * c[ci + j]!;
      for (let q = 0; q < k; q++) {
        const av = alpha * a[a0 + i * aRow + q * aCol]!;
        const bq = b0 + q * bRow;
        if (bCol === 1) for (let j = 0; j < n; j++) c[ci + j] += av * b[bq + j]!;
        else for (let j = 0; j < n; j++) c[ci + j] += av * b[bq + j * bCol]!;
      }
    }
  }
}
