/**
 * The native skinny GEMM (m <= 64 rows of activations times a weight matrix: a batched
 * decode step, a speculative verify forward) runs each row with the one-row GEMV's
 * arithmetic, so row i of an m-row product equals the 1-row product of row i alone, bit
 * for bit, in both weight layouts (x W^T: the dot form; x W: the axpy form, several rows
 * sharing each block of W), on every instruction set and at 1 and 2 threads. The shapes
 * leave tails everywhere: k below a multiple of the 8-row step, n below the vector width
 * and across two column blocks, m across the groups of rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, jsBackend, useBackend } from '../../src/backend/index.js';
import type { NativeBackend } from '../../src/backend/native/load.js';
import type { GemmParams } from '../../src/tensor/backend.js';
import { assertClose } from '../util/close.js';

const built = availableBackends().includes('native');

function params(m: number, k: number, n: number, transB: boolean, beta: number): GemmParams {
  return {
    ...{ batch: 1, m, n, k, transA: false, transB },
    ...{ lda: k, ldb: transB ? k : n, ldc: n },
    ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha: 0.75, beta },
  };
}

test(
  'native skinny GEMM: each row of an m-row product equals that row alone, bit for bit',
  { skip: !built },
  () => {
    const native = useBackend('native') as NativeBackend;
    const startThreads = native.threads;
    const startIsa = native.isa;
    const k = 261;
    const n = 531;
    const w = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.013) * 0.5);
    // The float64 reference of each case, computed once (it does not depend on ISA or threads).
    const references = new Map<string, Float64Array>();
    try {
      for (const isa of ['avx512', 'avx2', 'portable']) {
        if (!native.useIsa(isa)) continue;
        for (const threads of [1, 2]) {
          native.setThreads(threads);
          for (const transB of [false, true]) {
            for (const beta of [0, 0.5]) {
              for (const m of [2, 9, 17, 64]) {
                const where = `${isa}, ${threads} thread(s), transB ${transB}, beta ${beta}, m ${m}`;
                const x = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
                const c0 = Float32Array.from({ length: m * n }, (_, i) => (i % 7) - 3);
                const c = c0.slice();
                native.gemm(x, w, c, params(m, k, n, transB, beta));
                const key = `${transB} ${beta} ${m}`;
                let want = references.get(key);
                if (want === undefined) {
                  want = Float64Array.from(c0);
                  jsBackend.gemm(
                    Float64Array.from(x),
                    Float64Array.from(w),
                    want,
                    params(m, k, n, transB, beta),
                  );
                  references.set(key, want);
                }
                assertClose(where, c, want, { atol: 2e-6 * Math.sqrt(k) + 1e-6, rtol: 1e-4 });
                for (let i = 0; i < m; i++) {
                  const row = c0.slice(i * n, (i + 1) * n);
                  native.gemm(x.subarray(i * k, (i + 1) * k), w, row, params(1, k, n, transB, beta));
                  const got = c.subarray(i * n, (i + 1) * n);
                  const bad = row.findIndex((value, j) => !Object.is(value, got[j]));
                  assert.equal(
                    bad,
                    -1,
                    `${where}: row ${i} column ${bad}: ${got[bad]} batched, ${row[bad]} alone`,
                  );
                }
              }
            }
          }
        }
      }
    } finally {
      native.setThreads(startThreads);
      native.useIsa(startIsa);
      useBackend('js');
    }
  },
);
