/**
 * The native GEMV's per-shape prefetch strategy (native/tune.c): on every instruction set
 * and at 1 and 2 threads, every strategy gives bit-identical results that match the float64
 * reference; the measuring run on a shape's first use leaves C as the product alone would
 * (beta != 0 included); the choice is made once per shape and kept, so repeated products
 * are identical; small matrices are never measured; an unknown strategy is a ConfigError.
 * Row chunks are whole 4-row blocks, so 1 and 2 threads give identical results too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, jsBackend, useBackend } from '../../src/backend/index.js';
import type { NativeBackend } from '../../src/backend/native/load.js';
import type { GemmParams } from '../../src/tensor/backend.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';

const built = availableBackends().includes('native');

/** A y = M x case: M (rows, cols) with row stride ld, x read with stride incx (transA + lda). */
interface Case {
  readonly rows: number;
  readonly cols: number;
  readonly ld: number;
  readonly incx: number;
  readonly beta: number;
}

// 4099 x 300 floats (4.9 MB) is measured; rows leave a tail of 3 below the 4-row blocks,
// cols a tail below the vector width. 200 x 96 (77 KB) is below the measuring threshold.
const cases: Case[] = [
  { rows: 4099, cols: 300, ld: 300, incx: 1, beta: 0 },
  { rows: 4099, cols: 300, ld: 307, incx: 3, beta: 0.5 },
  { rows: 200, cols: 96, ld: 96, incx: 1, beta: 0 },
];

function params(c: Case): GemmParams {
  // C (1, rows) = x (1, cols) . M^T: m = 1, the matrix is B (rows, cols) used transposed.
  return {
    ...{ batch: 1, m: 1, n: c.rows, k: c.cols, transA: c.incx !== 1, transB: true },
    ...{ lda: c.incx === 1 ? c.cols : c.incx, ldb: c.ld, ldc: c.rows },
    ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha: 0.75, beta: c.beta },
  };
}

function inputs(c: Case): { x: Float32Array; m: Float32Array; y0: Float32Array } {
  const x = Float32Array.from({ length: (c.cols - 1) * c.incx + 1 }, (_, i) => Math.sin(i * 0.37));
  const m = Float32Array.from({ length: c.rows * c.ld }, (_, i) => Math.cos(i * 0.011) * 0.5);
  const y0 = Float32Array.from({ length: c.rows }, (_, i) => (i % 7) - 3);
  return { x, m, y0 };
}

const label = (isa: string, threads: number, c: Case): string =>
  `${isa}, ${threads} thread(s), ${c.rows}x${c.cols} ld ${c.ld} incx ${c.incx} beta ${c.beta}`;

test(
  'native GEMV: every strategy, and the measured choice, give the same result on every ISA and thread count',
  { skip: !built },
  () => {
    const native = useBackend('native') as NativeBackend;
    const startThreads = native.threads;
    const startIsa = native.isa;
    try {
      for (const isa of ['avx512', 'avx2', 'portable']) {
        if (!native.useIsa(isa)) continue;
        const byCase = new Map<Case, Float32Array>();
        for (const threads of [1, 2]) {
          native.setThreads(threads);
          for (const c of cases) {
            const where = label(isa, threads, c);
            const { x, m, y0 } = inputs(c);
            const p = params(c);
            const run = (): Float32Array => {
              const y = y0.slice();
              native.gemm(x, m, y, p);
              return y;
            };
            const want = Float64Array.from(y0);
            jsBackend.gemm(Float64Array.from(x), Float64Array.from(m), want, p);

            const forced = native.gemvStrategies.map((strategy) => {
              native.forceGemvStrategy(strategy);
              return run();
            });
            native.forceGemvStrategy(null);
            assertClose(`${where}: forced ${native.gemvStrategies[0]}`, forced[0]!, want, {
              atol: 2e-6 * Math.sqrt(c.cols) + 1e-6,
              rtol: 1e-4,
            });
            for (let s = 1; s < forced.length; s++)
              assert.deepEqual(forced[s], forced[0], `${where}: ${native.gemvStrategies[s]} differs`);

            native.forgetGemvChoices();
            assert.equal(
              native.gemvChoice(c.rows, c.cols, c.ld),
              null,
              `${where}: a choice before any product`,
            );
            const first = run(); // measures the strategies (large shapes), then computes
            const choice = native.gemvChoice(c.rows, c.cols, c.ld);
            if (c.rows * c.ld * 4 >= 1 << 20)
              assert.ok(
                choice !== null && native.gemvStrategies.includes(choice),
                `${where}: chose ${choice}`,
              );
            else assert.equal(choice, null, `${where}: a small matrix was measured`);
            assert.deepEqual(first, forced[0], `${where}: the measuring call changed the result`);
            assert.deepEqual(run(), first, `${where}: repeated products differ`);
            assert.equal(native.gemvChoice(c.rows, c.cols, c.ld), choice, `${where}: the choice changed`);
            const other = byCase.get(c);
            if (other === undefined) byCase.set(c, first);
            else assert.deepEqual(first, other, `${where}: differs from 1 thread`);
          }
        }
      }
    } finally {
      native.forceGemvStrategy(null);
      native.setThreads(startThreads);
      native.useIsa(startIsa);
      useBackend('js');
    }
  },
);

test(
  'native GEMV: the choice is kept per shape and thread count; an unknown strategy is a ConfigError',
  { skip: !built },
  () => {
    const native = useBackend('native') as NativeBackend;
    const startThreads = native.threads;
    try {
      const c = cases[0]!;
      const { x, m, y0 } = inputs(c);
      native.forgetGemvChoices();
      native.setThreads(1);
      native.gemm(x, m, y0.slice(), params(c));
      const one = native.gemvChoice(c.rows, c.cols, c.ld);
      assert.ok(one !== null);
      native.setThreads(2);
      assert.equal(
        native.gemvChoice(c.rows, c.cols, c.ld),
        null,
        'a choice made at 1 thread was reused at 2',
      );
      assert.equal(native.gemvChoice(c.rows + 1, c.cols, c.ld), null);
      native.setThreads(1);
      assert.equal(native.gemvChoice(c.rows, c.cols, c.ld), one);
      assert.throws(
        () => native.forceGemvStrategy('fastest' as never),
        (error: unknown) => error instanceof ConfigError && /unknown GEMV strategy/.test(error.message),
      );
    } finally {
      native.forceGemvStrategy(null);
      native.setThreads(startThreads);
      useBackend('js');
    }
  },
);
