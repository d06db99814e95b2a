/**
 * One conformance suite over every Backend kernel, run on every available backend (js,
 * and native once per instruction set). The reference is the JS backend run in float64
 * on the same (float32-representable) inputs, so the JS float32 run is a real test too.
 * Sizes include 1, 7, 33 and 129 (vector tails and tiles), all four GEMM transposes, batch
 * strides (incl. 0), offsets and every broadcast layout. For native, each case also
 * asserts that the call reached C (a silent fallback to JS fails).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsBackend } from '../../src/backend/index.js';
import type { AttentionParams, BinaryOp, GemmParams, UnaryOp } from '../../src/tensor/backend.js';
import { assertClose } from '../util/close.js';
import { backendsUnderTest, missingNative, type BackendUnderTest } from './backends.js';

/** mulberry32: a small seeded generator, so failures reproduce. */
function makeRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = makeRng(1234);
const rand = (n: number, lo = -1, hi = 1): Float32Array =>
  Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);
const ints = (n: number, hi: number): Int32Array =>
  Int32Array.from({ length: n }, () => Math.floor(rng() * hi));

/** Runs fn on the backend; for native, asserts that it called into C. */
function ran(entry: BackendUnderTest, what: string, fn: () => void): void {
  const before = entry.calls();
  fn();
  const after = entry.calls();
  if (before !== null)
    assert.ok(after !== null && after > before, `${entry.label} ${what}: the native kernel did not run`);
}

test('native backend is present wherever it was built', () => {
  assert.equal(missingNative(), null);
});

for (const entry of backendsUnderTest()) {
  const b = entry.backend;

  test(`${entry.label}: gemm, every transpose, batch strides, offsets, alpha/beta, gemv shapes`, () => {
    entry.select();
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [7, 33, 5],
      [33, 7, 129],
      [1, 129, 33],
      [129, 33, 1],
      [1, 300, 1],
      [200, 400, 37],
      [17, 20, 70],
    ];
    for (const [m, k, n] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [batch, beta, shareB] of [
            [1, 0, false],
            [3, 1, true],
            [2, 0.5, false],
          ] as const) {
            const [ar, ac] = transA ? [k, m] : [m, k];
            const [br, bc] = transB ? [n, k] : [k, n];
            const lda = ac + 3;
            const ldb = bc + 1;
            const ldc = n + 2;
            const p: GemmParams = {
              batch,
              m,
              n,
              k,
              transA,
              transB,
              lda,
              ldb,
              ldc,
              offsetA: 5,
              offsetB: 2,
              offsetC: 3,
              strideA: ar * lda + 4,
              strideB: shareB ? 0 : br * ldb,
              strideC: m * ldc + 1,
              alpha: 0.75,
              beta,
            };
            const a = rand(5 + batch * p.strideA);
            const bb = rand(2 + (shareB ? 1 : batch) * br * ldb);
            const c = rand(3 + batch * p.strideC);
            // beta = 0 must ignore C's old contents, even NaN.
            if (beta === 0) c.fill(NaN);
            const want = f64(c);
            jsBackend.gemm(f64(a), f64(bb), want, p);
            ran(entry, 'gemm', () => b.gemm(a, bb, c, p));
            const tol = 2e-6 * Math.sqrt(k) + 1e-6;
            assertClose(
              `${entry.label} gemm m=${m} k=${k} n=${n} tA=${transA} tB=${transB} batch=${batch} beta=${beta}`,
              c,
              want,
              { atol: tol, rtol: 1e-4 },
            );
          }
        }
      }
    }
  });

  test(`${entry.label}: gemm with k = 0 and alpha = 0 scales C by beta`, () => {
    entry.select();
    for (const [k, alpha] of [
      [0, 1],
      [4, 0],
    ] as const) {
      const p: GemmParams = {
        ...{ batch: 1, m: 3, n: 5, k, transA: false, transB: false, lda: Math.max(k, 1), ldb: 5, ldc: 5 },
        ...{ offsetA: 0, offsetB: 0, offsetC: 0, strideA: 0, strideB: 0, strideC: 0, alpha, beta: 0.5 },
      };
      const c = rand(15);
      const want = f64(c);
      jsBackend.gemm(f64(rand(12)), f64(rand(20)), want, p);
      ran(entry, 'gemm', () => b.gemm(rand(12), rand(20), c, p));
      assertClose(`${entry.label} gemm k=${k} alpha=${alpha}`, c, want, { atol: 1e-5, rtol: 1e-5 });
    }
  });

  test(`${entry.label}: copyStrided of transposed, offset and int32 views`, () => {
    entry.select();
    const src = rand(4 * 5 * 6 + 7);
    const from = { shape: [6, 4, 5], strides: [1, 30, 6], offset: 7 };
    const to = { shape: [6, 4, 5], strides: [20, 5, 1], offset: 0 };
    const want = new Float64Array(120);
    jsBackend.copyStrided(f64(src), from, want, to);
    const got = new Float32Array(120);
    ran(entry, 'copyStrided', () => b.copyStrided(src, from, got, to));
    assertClose(`${entry.label} copyStrided transposed`, got, want, { atol: 0, rtol: 0 });
    const ids = ints(40, 1000);
    const outIds = new Int32Array(33);
    const fromIds = { shape: [33], strides: [1], offset: 7 };
    ran(entry, 'copyStrided', () =>
      b.copyStrided(ids, fromIds, outIds, { shape: [33], strides: [1], offset: 0 }),
    );
    assert.deepEqual(Array.from(outIds), Array.from(ids.subarray(7, 40)));
    const big = rand(3_000_000);
    const bigOut = new Float32Array(big.length);
    ran(entry, 'copyStrided', () =>
      b.copyStrided(big, { shape: [big.length], strides: [1], offset: 0 }, bigOut, {
        shape: [big.length],
        strides: [1],
        offset: 0,
      }),
    );
    assert.deepEqual(bigOut, big);
  });

  const unaryOps: { op: UnaryOp; lo: number; hi: number }[] = [
    { op: 'neg', lo: -3, hi: 3 },
    { op: 'exp', lo: -80, hi: 80 },
    { op: 'log', lo: 1e-4, hi: 100 },
    { op: 'sqrt', lo: 0, hi: 100 },
    { op: 'rsqrt', lo: 1e-3, hi: 100 },
    { op: 'tanh', lo: -10, hi: 10 },
    { op: 'sigmoid', lo: -20, hi: 20 },
    { op: 'relu', lo: -3, hi: 3 },
    { op: 'gelu', lo: -8, hi: 8 },
    { op: 'geluTanh', lo: -8, hi: 8 },
    { op: 'silu', lo: -20, hi: 20 },
    { op: 'abs', lo: -3, hi: 3 },
    { op: 'square', lo: -3, hi: 3 },
    { op: 'sign', lo: -3, hi: 3 },
  ];

  test(`${entry.label}: unary and unaryBackward, every op`, () => {
    entry.select();
    for (const { op, lo, hi } of unaryOps) {
      for (const N of [1, 7, 33, 1029, 70000]) {
        const x = rand(N, lo, hi);
        if (N > 7 && lo < 0) x.set([0, -0.001, 0.001, 1e-6, -1e-6], 0);
        const y = new Float32Array(N);
        const want = new Float64Array(N);
        jsBackend.unary(op, f64(x), want, N);
        ran(entry, 'unary', () => b.unary(op, x, y, N));
        assertClose(`${entry.label} unary ${op} N=${N}`, y, want, { atol: 1e-6, rtol: 4e-6 });
        const dy = rand(N);
        const dx = new Float32Array(N);
        const wantDx = new Float64Array(N);
        // The derivative may use y = op(x): give both the same (float32) forward output.
        jsBackend.unaryBackward(op, f64(x), f64(y), f64(dy), wantDx, N);
        ran(entry, 'unaryBackward', () => b.unaryBackward(op, x, y, dy, dx, N));
        assertClose(`${entry.label} unaryBackward ${op} N=${N}`, dx, wantDx, { atol: 1e-6, rtol: 1e-5 });
      }
    }
  });

  test(`${entry.label}: special values through unary (inf, NaN, overflow)`, () => {
    entry.select();
    const x = Float32Array.from([Infinity, -Infinity, NaN, 89, -89, 88.5, -87.5, 0, -0, 1e-30]);
    for (const op of ['exp', 'tanh', 'sigmoid', 'gelu', 'silu', 'relu', 'abs'] as const) {
      const y = new Float32Array(x.length);
      const want = new Float64Array(x.length);
      jsBackend.unary(op, f64(x), want, x.length);
      ran(entry, 'unary', () => b.unary(op, x, y, x.length));
      assertClose(`${entry.label} unary ${op} special`, y, Float32Array.from(want), {
        atol: 1e-30,
        rtol: 4e-6,
      });
    }
  });

  const binaryOps: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'];
  // [name, out shape, a shape + strides + offset, b strides + offset]
  const layouts = [
    {
      name: 'same shape',
      shape: [129, 33],
      sa: [33, 1],
      sb: [33, 1],
      oa: 0,
      ob: 0,
      na: 129 * 33,
      nb: 129 * 33,
    },
    { name: 'scalar b', shape: [7, 33], sa: [33, 1], sb: [0, 0], oa: 0, ob: 3, na: 7 * 33, nb: 4 },
    { name: 'scalar a', shape: [1029], sa: [0], sb: [1], oa: 1, ob: 0, na: 2, nb: 1029 },
    {
      name: 'row broadcast',
      shape: [5, 7, 33],
      sa: [231, 33, 1],
      sb: [0, 0, 1],
      oa: 0,
      ob: 0,
      na: 1155,
      nb: 33,
    },
    {
      name: 'column broadcast',
      shape: [33, 129],
      sa: [129, 1],
      sb: [1, 0],
      oa: 2,
      ob: 0,
      na: 33 * 129 + 2,
      nb: 33,
    },
    { name: 'transposed a', shape: [7, 33], sa: [1, 7], sb: [33, 1], oa: 0, ob: 1, na: 231, nb: 232 },
    {
      name: 'big contiguous',
      shape: [300, 400],
      sa: [400, 1],
      sb: [400, 1],
      oa: 0,
      ob: 0,
      na: 120000,
      nb: 120000,
    },
    { name: '0-d', shape: [], sa: [], sb: [], oa: 1, ob: 2, na: 2, nb: 3 },
  ];

  test(`${entry.label}: binary, every op and broadcast layout`, () => {
    entry.select();
    for (const op of binaryOps) {
      for (const l of layouts) {
        const positive = op === 'pow';
        const a = rand(l.na, positive ? 0.1 : -2, 2);
        const bb = rand(l.nb, positive ? -2 : 0.2, 2);
        if (op !== 'pow' && l.na > 3) a[l.oa + 1] = NaN;
        const total = l.shape.reduce((s, d) => s * d, 1);
        const layout = { shape: l.shape, stridesA: l.sa, stridesB: l.sb, offsetA: l.oa, offsetB: l.ob };
        const want = new Float64Array(total);
        jsBackend.binary(op, f64(a), f64(bb), want, layout);
        const out = new Float32Array(total);
        ran(entry, 'binary', () => b.binary(op, a, bb, out, layout));
        assertClose(`${entry.label} binary ${op} ${l.name}`, out, Float32Array.from(want), {
          atol: 1e-6,
          rtol: 4e-6,
        });
      }
    }
  });

  test(`${entry.label}: affine, reduceSum, reduceMax (with argmax and NaN)`, () => {
    entry.select();
    const x = rand(1029);
    const y = new Float32Array(1029);
    const want = new Float64Array(1029);
    jsBackend.affine(f64(x), want, 1029, 1.5, -0.25);
    ran(entry, 'affine', () => b.affine(x, y, 1029, 1.5, -0.25));
    assertClose(`${entry.label} affine`, y, want, { atol: 1e-5, rtol: 1e-5 });
    for (const [outer, R, inner] of [
      [1, 1, 1],
      [7, 33, 1],
      [3, 129, 5],
      [1, 100000, 1],
      [33, 7, 129],
    ] as const) {
      const xs = rand(outer * R * inner);
      const sum = new Float32Array(outer * inner);
      const wantSum = new Float64Array(outer * inner);
      jsBackend.reduceSum(f64(xs), wantSum, outer, R, inner);
      ran(entry, 'reduceSum', () => b.reduceSum(xs, sum, outer, R, inner));
      assertClose(`${entry.label} reduceSum ${outer}x${R}x${inner}`, sum, wantSum, {
        atol: 1e-5 * Math.sqrt(R),
        rtol: 1e-5,
      });
      if (R > 5) xs[2 * inner] = NaN;
      const mx = new Float32Array(outer * inner);
      const arg = new Int32Array(outer * inner);
      const wantMax = new Float64Array(outer * inner);
      const wantArg = new Int32Array(outer * inner);
      jsBackend.reduceMax(f64(xs), wantMax, wantArg, outer, R, inner);
      ran(entry, 'reduceMax', () => b.reduceMax(xs, mx, arg, outer, R, inner));
      assertClose(`${entry.label} reduceMax ${outer}x${R}x${inner}`, mx, wantMax, { atol: 0, rtol: 0 });
      assert.deepEqual(Array.from(arg), Array.from(wantArg), `${entry.label} argmax ${outer}x${R}x${inner}`);
    }
  });

  test(`${entry.label}: softmax and log-softmax, forward and backward`, () => {
    entry.select();
    for (const [rows, C] of [
      [1, 1],
      [7, 33],
      [33, 129],
      [3, 50257],
    ] as const) {
      for (const log of [false, true]) {
        const x = rand(rows * C, -20, 20);
        const y = new Float32Array(rows * C);
        const want = new Float64Array(rows * C);
        jsBackend.softmax(f64(x), want, rows, C, log);
        ran(entry, 'softmax', () => b.softmax(x, y, rows, C, log));
        assertClose(`${entry.label} softmax log=${log} ${rows}x${C}`, y, want, { atol: 1e-6, rtol: 1e-5 });
        const dy = rand(rows * C);
        const dx = new Float32Array(rows * C);
        const wantDx = new Float64Array(rows * C);
        jsBackend.softmaxBackward(f64(y), f64(dy), wantDx, rows, C, log);
        ran(entry, 'softmaxBackward', () => b.softmaxBackward(y, dy, dx, rows, C, log));
        assertClose(`${entry.label} softmaxBackward log=${log} ${rows}x${C}`, dx, wantDx, {
          atol: 1e-5,
          rtol: 1e-4,
        });
      }
    }
  });

  test(`${entry.label}: fused cross-entropy with ignored rows and label smoothing`, () => {
    entry.select();
    for (const [rows, V] of [
      [1, 1],
      [7, 33],
      [33, 129],
      [4, 50257],
    ] as const) {
      for (const smoothing of [0, 0.1]) {
        const logits = rand(rows * V, -8, 8);
        const targets = ints(rows, V);
        if (rows > 2) targets[1] = -100;
        const losses = new Float32Array(rows);
        const lse = new Float32Array(rows);
        const wantLoss = new Float64Array(rows);
        const wantLse = new Float64Array(rows);
        jsBackend.crossEntropyForward(f64(logits), targets, wantLoss, wantLse, rows, V, -100, smoothing);
        ran(entry, 'crossEntropyForward', () =>
          b.crossEntropyForward(logits, targets, losses, lse, rows, V, -100, smoothing),
        );
        assertClose(`${entry.label} crossEntropy loss ${rows}x${V} eps=${smoothing}`, losses, wantLoss, {
          atol: 1e-5,
          rtol: 1e-5,
        });
        assertClose(`${entry.label} crossEntropy lse ${rows}x${V}`, lse, wantLse, { atol: 1e-5, rtol: 1e-6 });
        const dlosses = rand(rows);
        const dlogits = new Float32Array(rows * V).fill(NaN);
        const want = new Float64Array(rows * V);
        jsBackend.crossEntropyBackward(
          f64(logits),
          targets,
          f64(lse),
          f64(dlosses),
          want,
          rows,
          V,
          -100,
          smoothing,
        );
        ran(entry, 'crossEntropyBackward', () =>
          b.crossEntropyBackward(logits, targets, lse, dlosses, dlogits, rows, V, -100, smoothing),
        );
        assertClose(`${entry.label} crossEntropyBackward ${rows}x${V} eps=${smoothing}`, dlogits, want, {
          atol: 1e-6,
          rtol: 1e-4,
        });
      }
    }
  });

  test(`${entry.label}: layerNorm and rmsNorm, forward and backward (parameter grads accumulate)`, () => {
    entry.select();
    for (const [rows, C] of [
      [1, 1],
      [7, 33],
      [129, 65],
      [3, 768],
      [1000, 129],
    ] as const) {
      for (const affine of [true, false]) {
        const x = rand(rows * C, -3, 5);
        const w = affine ? rand(C) : null;
        const bias = affine ? rand(C) : null;
        const y = new Float32Array(rows * C);
        const mean = new Float32Array(rows);
        const rstd = new Float32Array(rows);
        const wy = new Float64Array(rows * C);
        const wm = new Float64Array(rows);
        const wr = new Float64Array(rows);
        const w64 = w && f64(w);
        jsBackend.layerNormForward(f64(x), w64, bias && f64(bias), wy, wm, wr, rows, C, 1e-5);
        ran(entry, 'layerNormForward', () => b.layerNormForward(x, w, bias, y, mean, rstd, rows, C, 1e-5));
        assertClose(`${entry.label} layerNorm y ${rows}x${C}`, y, wy, { atol: 2e-5, rtol: 1e-4 });
        assertClose(`${entry.label} layerNorm mean`, mean, wm, { atol: 1e-6, rtol: 1e-5 });
        assertClose(`${entry.label} layerNorm rstd`, rstd, wr, { atol: 1e-6, rtol: 2e-5 });
        const dy = rand(rows * C);
        const dx = new Float32Array(rows * C);
        const dw = affine ? rand(C) : null;
        const db = affine ? rand(C) : null;
        const wdx = new Float64Array(rows * C);
        const wdw = dw && f64(dw);
        const wdb = db && f64(db);
        jsBackend.layerNormBackward(f64(dy), f64(x), w64, f64(mean), f64(rstd), wdx, wdw, wdb, rows, C);
        ran(entry, 'layerNormBackward', () => b.layerNormBackward(dy, x, w, mean, rstd, dx, dw, db, rows, C));
        assertClose(`${entry.label} layerNorm dx ${rows}x${C}`, dx, wdx, { atol: 5e-5, rtol: 1e-4 });
        if (dw && wdw)
          assertClose(`${entry.label} layerNorm dweight`, dw, wdw, {
            atol: 1e-4 * Math.sqrt(rows),
            rtol: 1e-4,
          });
        if (db && wdb)
          assertClose(`${entry.label} layerNorm dbias`, db, wdb, {
            atol: 1e-4 * Math.sqrt(rows),
            rtol: 1e-4,
          });

        const ry = new Float32Array(rows * C);
        const rr = new Float32Array(rows);
        const wry = new Float64Array(rows * C);
        const wrr = new Float64Array(rows);
        jsBackend.rmsNormForward(f64(x), w64, wry, wrr, rows, C, 1e-6);
        ran(entry, 'rmsNormForward', () => b.rmsNormForward(x, w, ry, rr, rows, C, 1e-6));
        assertClose(`${entry.label} rmsNorm y ${rows}x${C}`, ry, wry, { atol: 2e-5, rtol: 1e-4 });
        assertClose(`${entry.label} rmsNorm rstd`, rr, wrr, { atol: 1e-6, rtol: 2e-5 });
        const rdx = new Float32Array(rows * C);
        const rdw = affine ? rand(C) : null;
        const wrdx = new Float64Array(rows * C);
        const wrdw = rdw && f64(rdw);
        jsBackend.rmsNormBackward(f64(dy), f64(x), w64, f64(rr), wrdx, wrdw, rows, C);
        ran(entry, 'rmsNormBackward', () => b.rmsNormBackward(dy, x, w, rr, rdx, rdw, rows, C));
        assertClose(`${entry.label} rmsNorm dx ${rows}x${C}`, rdx, wrdx, { atol: 5e-5, rtol: 1e-4 });
        if (rdw && wrdw)
          assertClose(`${entry.label} rmsNorm dweight`, rdw, wrdw, {
            atol: 1e-4 * Math.sqrt(rows),
            rtol: 1e-4,
          });
      }
    }
  });

  test(`${entry.label}: embedding gather and scatter-add (repeated ids accumulate)`, () => {
    entry.select();
    for (const [N, C, rows] of [
      [1, 1, 1],
      [33, 7, 5],
      [129, 768, 50],
      [5000, 33, 10],
    ] as const) {
      const weight = rand(rows * C);
      const ids = ints(N, rows);
      const out = new Float32Array(N * C);
      const want = new Float64Array(N * C);
      jsBackend.embeddingForward(f64(weight), ids, want, N, C);
      ran(entry, 'embeddingForward', () => b.embeddingForward(weight, ids, out, N, C));
      assertClose(`${entry.label} embedding ${N}x${C}`, out, want, { atol: 0, rtol: 0 });
      const dout = rand(N * C);
      const dw = rand(rows * C);
      const wdw = f64(dw);
      jsBackend.embeddingBackward(f64(dout), ids, wdw, N, C);
      ran(entry, 'embeddingBackward', () => b.embeddingBackward(dout, ids, dw, N, C));
      assertClose(`${entry.label} embeddingBackward ${N}x${C}`, dw, wdw, {
        atol: 1e-5 * Math.sqrt(N),
        rtol: 1e-5,
      });
    }
  });

  // B, nH, nKV, Tq, Tk, hs, causal, offset, mask kind, dropout
  const attentionCases: [
    number,
    number,
    number,
    number,
    number,
    number,
    boolean,
    number,
    'none' | 'full' | 'broadcast' | 'padding',
    number,
  ][] = [
    [1, 1, 1, 1, 1, 1, false, 0, 'none', 0],
    [2, 4, 2, 7, 7, 8, true, 0, 'none', 0],
    [2, 4, 2, 7, 7, 8, true, 0, 'none', 0.5],
    [1, 4, 1, 33, 33, 7, true, 0, 'broadcast', 0.1],
    [2, 2, 2, 5, 129, 16, true, 124, 'none', 0],
    [1, 2, 2, 1, 129, 64, true, 128, 'none', 0.2],
    [1, 6, 3, 40, 70, 33, false, 0, 'full', 0],
    [1, 6, 3, 40, 70, 33, false, 0, 'full', 0.3],
    [1, 2, 1, 20, 20, 16, true, -3, 'full', 0],
    // several register blocks and key tiles, rows split across threads (one kv head)
    [1, 2, 1, 150, 150, 32, true, 0, 'broadcast', 0],
    [1, 2, 1, 150, 150, 32, true, 0, 'broadcast', 0.1],
    [2, 4, 2, 70, 70, 24, true, 0, 'full', 0.25],
    // padding (a (B, 1, 1, Tk) mask: stride over B only): left padding with the causal rule
    // (pad queries fully masked), cross-attention over a padded encoder, a decode step on a
    // cache buffer whose keys past the filled prefix are masked too
    [2, 4, 2, 9, 9, 8, true, 0, 'padding', 0],
    [2, 4, 2, 9, 9, 8, true, 0, 'padding', 0.2],
    [3, 4, 1, 3, 40, 16, false, 0, 'padding', 0],
    [2, 2, 2, 1, 20, 16, true, 15, 'padding', 0],
  ];

  test(`${entry.label}: attention forward and backward (causal, offset, GQA, masks, fully masked rows, dropout)`, () => {
    entry.select();
    const threadsBefore = b.threads;
    try {
      // 1 thread: one task per head; 3: query rows split, dk / dv summed over parts
      for (const threads of [1, 3]) {
        b.setThreads(threads);
        for (const [B, nH, nKV, Tq, Tk, hs, causal, causalOffset, maskKind, dropout] of attentionCases) {
          const q = rand(B * nH * Tq * hs, -2, 2);
          const k = rand(B * nKV * Tk * hs, -2, 2);
          const v = rand(B * nKV * Tk * hs);
          let mask: Float32Array | null = null;
          let strides = { maskStrideB: 0, maskStrideH: 0, maskStrideQ: 0, maskOffset: 0 };
          if (maskKind === 'full') {
            mask = rand(2 + B * nH * Tq * Tk, -1, 1);
            for (let i = 0; i < mask.length; i += 3) mask[i] = -Infinity;
            // a fully masked row: output 0, lse -inf, no gradient
            mask.fill(-Infinity, 2, 2 + Tk);
            strides = { maskStrideB: nH * Tq * Tk, maskStrideH: Tq * Tk, maskStrideQ: Tk, maskOffset: 2 };
          } else if (maskKind === 'broadcast') {
            mask = rand(Tk, -1, 1);
            mask[3] = -Infinity;
          } else if (maskKind === 'padding') {
            // batch b: the first 2b keys are padding (left), and every third of the last ones (right)
            mask = new Float32Array(B * Tk);
            for (let b = 0; b < B; b++) {
              mask.fill(-Infinity, b * Tk, b * Tk + 2 * b);
              for (let j = Tk - 4; j < Tk; j += 3) mask[b * Tk + j] = -Infinity;
            }
            strides = { maskStrideB: Tk, maskStrideH: 0, maskStrideQ: 0, maskOffset: 0 };
          }
          const p: AttentionParams = {
            B,
            nH,
            nKV,
            Tq,
            Tk,
            hs,
            scale: 1 / Math.sqrt(hs),
            causal,
            causalOffset,
            mask,
            ...strides,
            dropout,
            // a seed with the top bit set: the kernels must treat it as unsigned
            dropoutSeed: 0x9abcdef0 + Tq,
          };
          const p64: AttentionParams = { ...p, mask: mask && f64(mask) };
          const label = `attention B=${B} nH=${nH} nKV=${nKV} Tq=${Tq} Tk=${Tk} hs=${hs} causal=${causal}+${causalOffset} mask=${maskKind} dropout=${dropout} threads=${threads}`;
          const out = new Float32Array(q.length);
          const lse = new Float32Array(B * nH * Tq);
          const wantOut = new Float64Array(q.length);
          const wantLse = new Float64Array(lse.length);
          jsBackend.attentionForward(f64(q), f64(k), f64(v), wantOut, wantLse, p64);
          ran(entry, 'attentionForward', () => b.attentionForward(q, k, v, out, lse, p));
          assertClose(`${entry.label} ${label} out`, out, wantOut, { atol: 2e-5, rtol: 1e-4 });
          assertClose(`${entry.label} ${label} lse`, lse, wantLse, { atol: 2e-5, rtol: 1e-5 });
          const dout = rand(q.length);
          const dq = new Float32Array(q.length).fill(NaN);
          const dk = new Float32Array(k.length).fill(NaN);
          const dv = new Float32Array(v.length).fill(NaN);
          const [wdq, wdk, wdv] = [
            new Float64Array(q.length),
            new Float64Array(k.length),
            new Float64Array(v.length),
          ];
          jsBackend.attentionBackward(
            f64(q),
            f64(k),
            f64(v),
            f64(out),
            f64(lse),
            f64(dout),
            wdq,
            wdk,
            wdv,
            p64,
          );
          ran(entry, 'attentionBackward', () => b.attentionBackward(q, k, v, out, lse, dout, dq, dk, dv, p));
          assertClose(`${entry.label} ${label} dq`, dq, wdq, { atol: 1e-4, rtol: 1e-3 });
          assertClose(`${entry.label} ${label} dk`, dk, wdk, { atol: 1e-4, rtol: 1e-3 });
          assertClose(`${entry.label} ${label} dv`, dv, wdv, { atol: 1e-4, rtol: 1e-3 });
        }
      }
    } finally {
      b.setThreads(threadsBefore);
    }
  });

  test(`${entry.label}: sumOfSquares and adamw`, () => {
    entry.select();
    for (const N of [1, 7, 1029, 1_000_003]) {
      const x = rand(N);
      let got = 0;
      ran(entry, 'sumOfSquares', () => {
        got = b.sumOfSquares(x, N);
      });
      const want = jsBackend.sumOfSquares(f64(x), N);
      assertClose(`${entry.label} sumOfSquares N=${N}`, [got], [want], { atol: 1e-12, rtol: 1e-6 });
      const param = rand(N);
      const grad = rand(N);
      const m = rand(N, -0.1, 0.1);
      const v = rand(N, 0, 0.01);
      const p = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 7, gradScale: 0.5 };
      const [wp, wm, wv] = [f64(param), f64(m), f64(v)];
      jsBackend.adamw(wp, f64(grad), wm, wv, N, p);
      ran(entry, 'adamw', () => b.adamw(param, grad, m, v, N, p));
      assertClose(`${entry.label} adamw param N=${N}`, param, wp, { atol: 1e-6, rtol: 1e-5 });
      assertClose(`${entry.label} adamw m N=${N}`, m, wm, { atol: 1e-7, rtol: 1e-5 });
      assertClose(`${entry.label} adamw v N=${N}`, v, wv, { atol: 1e-9, rtol: 1e-5 });
    }
  });
}
