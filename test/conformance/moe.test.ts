/**
 * The mixture-of-experts kernels (manifest: groupedGemm, moeTopk, moeDispatch, moeCombine,
 * moeGateGrad) on every backend and ISA against the float64 JS reference, with the native
 * calls proven to reach C; their argument checks; and the ops of src/tensor/ops/moe.ts:
 * the counting sort and capacity rule, the zero-copy and copied weight paths, and
 * finite-difference gradients in float64 of every differentiable one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  Tensor,
  combineExperts,
  dispatchTokens,
  expertChoices,
  groupedMatmul,
  matmul,
  noGrad,
  randn,
  routeTokens,
  routerGates,
  softmax,
  gather,
  tensor,
  transpose,
  useBackend,
} from '../../src/index.js';
import { jsBackend } from '../../src/backend/index.js';
import type { GroupedGemmParams } from '../../src/tensor/backend.js';
import { BackendError, DTypeError, ShapeError } from '../../src/util/errors.js';
import { assertBitEqual, assertClose } from '../util/close.js';
import { gradcheck, leaf } from '../tensor/gradcheck.js';
import { backendsUnderTest, type BackendUnderTest } from './backends.js';

const rng = new Rng(2024);
const rand = (n: number): Float32Array => randn([n], rng).values() as Float32Array;
const f64 = (a: Float32Array): Float64Array => Float64Array.from(a);

function ran(entry: BackendUnderTest, what: string, fn: () => void): void {
  const before = entry.calls();
  fn();
  if (before !== null)
    assert.ok(entry.calls()! > before, `${entry.label} ${what}: the native kernel did not run`);
}

/** Group offsets from row counts. */
const offsetsOf = (counts: readonly number[]): Int32Array => {
  const out = new Int32Array(counts.length + 1);
  counts.forEach((c, g) => (out[g + 1] = out[g]! + c));
  return out;
};

/** Slots of N tokens x k choices: a random permutation of R rows, `drop` of them replaced by -1. */
function randomSlots(N: number, k: number, drop: number): { slots: Int32Array; R: number } {
  const order = Array.from({ length: N * k }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.randint(0, i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const slots = new Int32Array(N * k).fill(-1);
  let R = 0;
  order.forEach((a, i) => {
    if (i >= drop) slots[a] = R++;
  });
  return { slots, R };
}

// (group row counts, in, out): empty groups first, in the middle and last; edge tiles (7,
// 33, 129); single groups large enough to be split across threads, along C's rows (600 rows)
// and along its columns (few rows, wide outputs).
const groupShapes: Array<[number[], number, number]> = [
  [[1], 1, 1],
  [[0, 3, 0, 5], 7, 9],
  [[17, 0, 33, 2, 0], 33, 16],
  [[129, 40], 48, 130],
  [[300, 5, 0, 260], 64, 96],
  [[600], 64, 96],
  [[40], 200, 400],
  [[50], 400, 200],
];

for (const entry of backendsUnderTest()) {
  const b = entry.backend;

  test(`${entry.label}: groupedGemm rows kind (forward and dx), both transposes, offsets, beta`, () => {
    entry.select();
    for (const [counts, inF, outF] of groupShapes) {
      const offsets = offsetsOf(counts);
      const G = counts.length;
      const R = offsets[G]!;
      // every beta on the small shapes; the large ones (the thread splits) once
      const betas = inF * outF > 10000 ? [0.5] : [0, 1, 0.5];
      for (const transB of [true, false]) {
        for (const beta of betas) {
          // forward: x (R, in) @ W_g^T with W_g (out, in); dx: dy (R, out) @ W_g (out, in)
          const [k, n] = transB ? [inF, outF] : [outF, inF];
          const lda = k + 2;
          const ldb = transB ? k + 1 : n + 3;
          const ldc = n + 1;
          const bRows = transB ? n : k;
          const p: GroupedGemmParams = {
            groups: G,
            inner: false,
            m: 0,
            n,
            k,
            transB,
            lda,
            ldb,
            ldc,
            offsetA: 3,
            offsetB: 5,
            offsetC: 2,
            strideB: bRows * ldb + 4,
            strideC: 0,
            alpha: 0.75,
            beta,
          };
          const a = rand(3 + R * lda);
          const w = rand(5 + G * p.strideB);
          const c = rand(2 + Math.max(R, 1) * ldc);
          if (beta === 0) c.fill(NaN, 2); // beta 0 ignores C's old contents, even NaN
          const want = f64(c);
          jsBackend.groupedGemm(f64(a), f64(w), want, offsets, p);
          ran(entry, 'groupedGemm', () => b.groupedGemm(a, w, c, offsets, p));
          const what = `${entry.label} groupedGemm rows [${counts}] k=${k} n=${n} transB=${transB} beta=${beta}`;
          assertClose(what, c.subarray(2), want.subarray(2), {
            atol: 2e-6 * Math.sqrt(k) + 1e-6,
            rtol: 1e-4,
          });
          assert.equal(c[0], want[0], `${what}: wrote before offsetC`);
        }
      }
    }
  });

  test(`${entry.label}: groupedGemm inner kind (dW per group), empty groups get beta * C`, () => {
    entry.select();
    for (const [counts, inF, outF] of groupShapes) {
      const offsets = offsetsOf(counts);
      const G = counts.length;
      const R = offsets[G]!;
      for (const beta of inF * outF > 10000 ? [0] : [0, 1]) {
        // dW_g (out, in) = dy[rows_g]^T (out, rows) @ x[rows_g] (rows, in)
        const lda = outF + 1;
        const ldb = inF + 2;
        const ldc = inF + 3;
        const p: GroupedGemmParams = {
          groups: G,
          inner: true,
          m: outF,
          n: inF,
          k: 0,
          transB: false,
          lda,
          ldb,
          ldc,
          offsetA: 1,
          offsetB: 4,
          offsetC: 6,
          strideB: 0,
          strideC: outF * ldc + 2,
          alpha: 1,
          beta,
        };
        const dy = rand(1 + Math.max(R, 1) * lda);
        const x = rand(4 + Math.max(R, 1) * ldb);
        const c = rand(6 + G * p.strideC);
        if (beta === 0) c.fill(NaN, 6);
        const want = f64(c);
        jsBackend.groupedGemm(f64(dy), f64(x), want, offsets, p);
        ran(entry, 'groupedGemm', () => b.groupedGemm(dy, x, c, offsets, p));
        const rows = Math.max(...counts, 1);
        const what = `${entry.label} groupedGemm inner [${counts}] m=${outF} n=${inF} beta=${beta}`;
        // Only C_g's (m, n) blocks are written; the gaps keep their values (NaN included).
        const inside = (i: number): boolean => {
          const at = i - 6;
          if (at < 0) return false;
          const within = at % p.strideC;
          return within < outF * ldc && within % ldc < inF;
        };
        assertClose(what, c, want, {
          atol: 2e-6 * Math.sqrt(rows) + 1e-6,
          rtol: 1e-4,
          skip: (i) => !inside(i),
        });
        for (let i = 0; i < c.length; i++) {
          if (!inside(i))
            assert.ok(
              Object.is(c[i], Math.fround(want[i]!)),
              `${what}: element ${i} outside C_g was written`,
            );
        }
      }
    }
  });

  test(`${entry.label}: moeTopk, ties by index and NaN first, against the reference`, () => {
    entry.select();
    for (const [N, E, k] of [
      [1, 1, 1],
      [5, 8, 2],
      [300, 8, 8],
      [129, 64, 6],
      [2000, 16, 1],
    ] as const) {
      const logits = rand(N * E);
      // repeated values (ties) and NaN in the first rows
      if (E >= 4) logits.fill(-5, 0, E).set([3, 3, 3, -1], 0);
      if (N > 1 && E >= 3) logits.fill(-5, E, 2 * E).set([NaN, 2, NaN], E);
      const got = new Int32Array(N * k);
      const want = new Int32Array(N * k);
      jsBackend.moeTopk(f64(logits), want, N, E, k);
      ran(entry, 'moeTopk', () => b.moeTopk(logits, got, N, E, k));
      assert.deepEqual(got, want, `${entry.label} moeTopk N=${N} E=${E} k=${k}`);
      if (E >= 4) assert.deepEqual([...want.subarray(0, Math.min(k, 3))], [0, 1, 2].slice(0, k));
      if (N > 1 && E >= 3 && k >= 3) assert.deepEqual([...want.subarray(k, k + 3)], [0, 2, 1]);
      // the reference against a sort of each row
      for (let n = 0; n < Math.min(N, 50); n++) {
        const row = [...f64(logits).subarray(n * E, n * E + E)].map((v, e) => [v, e] as const);
        row.sort(([va, a], [vb, bb]) =>
          Number.isNaN(va) || Number.isNaN(vb)
            ? Number.isNaN(va) && Number.isNaN(vb)
              ? a - bb
              : Number.isNaN(va)
                ? -1
                : 1
            : vb - va || a - bb,
        );
        assert.deepEqual(
          [...want.subarray(n * k, n * k + k)],
          row.slice(0, k).map(([, e]) => e),
        );
      }
    }
  });

  test(`${entry.label}: moeGates and moeGatesBackward, both rules, against the reference`, () => {
    entry.select();
    for (const [N, E, k] of [
      [1, 1, 1],
      [7, 8, 2],
      [300, 16, 4],
      [2000, 8, 8],
    ] as const) {
      const logits = rand(N * E);
      const indices = new Int32Array(N * k);
      jsBackend.moeTopk(f64(logits), indices, N, E, k);
      const dgates = rand(N * k);
      for (const chosen of [true, false]) {
        const what = `${entry.label} moeGates N=${N} E=${E} k=${k} chosen=${chosen}`;
        const gates = new Float32Array(N * k);
        const want = new Float64Array(N * k);
        jsBackend.moeGates(f64(logits), indices, want, N, E, k, chosen);
        ran(entry, 'moeGates', () => b.moeGates(logits, indices, gates, N, E, k, chosen));
        assertClose(what, gates, want, { atol: 1e-6, rtol: 1e-5 });
        const dlogits = new Float32Array(N * E).fill(NaN);
        const wantD = new Float64Array(N * E);
        jsBackend.moeGatesBackward(f64(logits), indices, want, f64(dgates), wantD, N, E, k, chosen);
        ran(entry, 'moeGatesBackward', () =>
          b.moeGatesBackward(logits, indices, gates, dgates, dlogits, N, E, k, chosen),
        );
        assertClose(`${what} backward`, dlogits, wantD, { atol: 1e-6, rtol: 1e-5 });
      }
    }
  });

  test(`${entry.label}: moeDispatch, moeCombine and moeGateGrad with dropped slots, with and without weights`, () => {
    entry.select();
    for (const [N, k, C, drop] of [
      [1, 1, 1, 0],
      [7, 2, 33, 3],
      [600, 2, 64, 100],
      [50, 4, 129, 0],
    ] as const) {
      const { slots, R } = randomSlots(N, k, drop);
      const x = rand(N * C);
      const weights = rand(N * k);
      for (const w of [null, weights]) {
        const got = new Float32Array(R * C);
        const want = new Float64Array(R * C);
        jsBackend.moeDispatch(f64(x), slots, w === null ? null : f64(w), want, N, k, C, R);
        ran(entry, 'moeDispatch', () => b.moeDispatch(x, slots, w, got, N, k, C, R));
        assertClose(`${entry.label} moeDispatch N=${N} k=${k} C=${C}`, got, want, { atol: 1e-6, rtol: 1e-6 });
      }
      const src = rand(R * C);
      for (const w of [null, weights]) {
        const got = new Float32Array(N * C).fill(NaN);
        const want = new Float64Array(N * C);
        jsBackend.moeCombine(f64(src), slots, w === null ? null : f64(w), want, N, k, C, R);
        ran(entry, 'moeCombine', () => b.moeCombine(src, slots, w, got, N, k, C, R));
        assertClose(`${entry.label} moeCombine N=${N} k=${k} C=${C}`, got, want, { atol: 1e-5, rtol: 1e-5 });
      }
      const dout = rand(N * C);
      const got = new Float32Array(N * k).fill(NaN);
      const want = new Float64Array(N * k);
      jsBackend.moeGateGrad(f64(dout), f64(src), slots, want, N, k, C, R);
      ran(entry, 'moeGateGrad', () => b.moeGateGrad(dout, src, slots, got, N, k, C, R));
      assertClose(`${entry.label} moeGateGrad N=${N} k=${k} C=${C}`, got, want, {
        atol: 2e-6 * Math.sqrt(C),
        rtol: 1e-5,
      });
      slots.forEach((s, a) => s < 0 && assert.equal(got[a], 0, 'a dropped slot has gradient 0'));
    }
  });

  test(`${entry.label}: the MoE ops in float32 equal their float64 selves (grouped path ran)`, () => {
    entry.select();
    const N = 40;
    const E = 5;
    const k = 2;
    noGrad(() => {
      const logits = randn([N, E], rng);
      const choices = expertChoices(logits, k);
      const routing = routeTokens(choices, E, 14);
      const x = randn([N, 24], rng);
      const weights = Array.from({ length: E }, () => randn([16, 24], rng));
      const gates = randn([N, k], rng);
      const before = entry.calls();
      const h = groupedMatmul(dispatchTokens(x, routing), weights, routing); // (R, 16)
      const y = combineExperts(h, gates, routing); // (N, 16)
      if (before !== null) assert.ok(entry.calls()! >= before + 3);
      const as64 = (t: Tensor): Tensor => tensor(Float64Array.from(t.values()), t.shape);
      const y64 = combineExperts(
        groupedMatmul(dispatchTokens(as64(x), routing), weights.map(as64), routing),
        as64(gates),
        routing,
      );
      assertClose(`${entry.label} MoE ops float32 vs float64`, y, y64, { atol: 2e-5, rtol: 1e-5 });
    });
  });
}

test('native MoE kernels reject offsets and slots that would leave their arrays', (t) => {
  const native = backendsUnderTest().find((e) => e.label.startsWith('native'));
  if (native === undefined) return t.skip('native backend not built');
  const b = native.backend;
  const p: GroupedGemmParams = {
    groups: 2,
    inner: false,
    m: 0,
    n: 4,
    k: 3,
    transB: true,
    lda: 3,
    ldb: 3,
    ldc: 4,
    offsetA: 0,
    offsetB: 0,
    offsetC: 0,
    strideB: 12,
    strideC: 0,
    alpha: 1,
    beta: 0,
  };
  const a = new Float32Array(5 * 3);
  const w = new Float32Array(24);
  const c = new Float32Array(5 * 4);
  assert.throws(() => b.groupedGemm(a, w, c, Int32Array.from([0, 3, 2]), p), /non-decreasing/);
  assert.throws(() => b.groupedGemm(a, w, c, Int32Array.from([0, 3, 6]), p), BackendError);
  assert.throws(() => b.groupedGemm(a, new Float32Array(23), c, Int32Array.from([0, 3, 5]), p), BackendError);
  assert.throws(() => b.groupedGemm(a, w, c, Int32Array.from([0, 3]), p), BackendError); // offsets too short
  assert.throws(() => b.moeTopk(new Float32Array(8), new Int32Array(10), 2, 4, 5), /k out of range/);
  const x = new Float32Array(2 * 3);
  assert.throws(
    () => b.moeDispatch(x, Int32Array.from([0, 5]), null, new Float32Array(6), 2, 1, 3, 2),
    BackendError,
  );
  assert.throws(
    () => b.moeCombine(x, Int32Array.from([0, -2]), null, new Float32Array(6), 2, 1, 3, 2),
    BackendError,
  );
});

test('routeTokens: counting sort by expert, first choices before second ones under capacity', () => {
  // 4 tokens, k = 2, 3 experts: choices (token: first, second)
  const choices = tensor([0, 1, 0, 2, 0, 1, 2, 0], [4, 2], 'int32');
  const free = routeTokens(choices, 3, null);
  assert.deepEqual([...free.counts], [4, 2, 2]);
  assert.deepEqual([...free.offsets], [0, 4, 6, 8]);
  assert.equal(free.rows, 8);
  assert.equal(free.dropped, 0);
  // expert 0's rows: first choices of tokens 0, 1, 2, then token 3's second choice
  assert.deepEqual([...free.slots], [0, 4, 1, 7, 2, 5, 6, 3]);
  const capped = routeTokens(choices, 3, 2);
  assert.deepEqual([...capped.offsets], [0, 2, 4, 6]);
  assert.equal(capped.dropped, 2);
  // expert 0 keeps the first choices of tokens 0 and 1; token 2's first choice and token 3's second are dropped
  assert.deepEqual([...capped.slots], [0, 2, 1, 5, -1, 3, 4, -1]);
  assert.throws(() => routeTokens(tensor([0, 3], [1, 2], 'int32'), 3, null), ShapeError);
  assert.throws(() => routeTokens(tensor([0, 1], [1, 2]), 3, null), DTypeError);
  assert.throws(() => routeTokens(choices, 3, 0), ShapeError);
  assert.throws(() => expertChoices(randn([2, 3], rng), 4), ShapeError);
});

test('groupedMatmul: the zero-copy path (experts in one storage) equals the copied path and a per-expert matmul', () => {
  useBackend('js');
  const E = 3;
  const stacked = randn([E, 5, 4], rng);
  const views = Array.from(
    { length: E },
    (_, e) => new Tensor({ storage: stacked.storage, shape: [5, 4], offset: e * 20 }),
  );
  const copies = views.map((v) => tensor(v.values().slice(), v.shape));
  const routing = routeTokens(tensor([2, 0, 2, 2, 0, 1], [6, 1], 'int32'), E, null);
  const x = randn([6, 4], rng);
  noGrad(() => {
    const fast = groupedMatmul(x, views, routing);
    const copied = groupedMatmul(x, copies, routing);
    assertBitEqual('zero-copy vs copied weights', fast, copied);
    // rows of expert e are [offsets[e], offsets[e+1]): compare with x_e @ W_e^T
    for (let e = 0; e < E; e++) {
      const lo = routing.offsets[e]!;
      const n = routing.offsets[e + 1]! - lo;
      const rows = tensor(x.values().slice(lo * 4, (lo + n) * 4), [n, 4]);
      const want = matmul(rows, transpose(copies[e]!));
      assertClose(`expert ${e}`, fast.values().slice(lo * 5, (lo + n) * 5), want.values(), {
        atol: 1e-6,
        rtol: 1e-6,
      });
    }
  });
});

test('routerGates: the softmax of the chosen logits equals the renormalised top-k of the full softmax (HF Mixtral)', () => {
  useBackend('js');
  noGrad(() => {
    const logits = randn([20, 6], rng, { dtype: 'float64' });
    const choices = expertChoices(logits, 3);
    const full = gather(softmax(logits), 1, choices); // HF: softmax over all, top-k ...
    const values = full.values();
    for (let n = 0; n < 20; n++) {
      const total = values[3 * n]! + values[3 * n + 1]! + values[3 * n + 2]!;
      for (let j = 0; j < 3; j++) values[3 * n + j]! /= total; // ... renormalised
    }
    assertClose('chosen rule vs HF', routerGates(logits, choices, 'chosen'), full, {
      atol: 1e-15,
      rtol: 1e-14,
    });
    assertClose('all rule', routerGates(logits, choices, 'all'), gather(softmax(logits), 1, choices), {
      atol: 1e-15,
      rtol: 1e-14,
    });
  });
  const r = new Rng(12);
  const choices = tensor([0, 2, 1, 3, 3, 0, 2, 1, 0, 1], [5, 2], 'int32');
  gradcheck('routerGates chosen', ([l]) => routerGates(l!, choices, 'chosen'), [leaf([5, 4], r)]);
  gradcheck('routerGates all', ([l]) => routerGates(l!, choices, 'all'), [leaf([5, 4], r)]);
  assert.throws(() => routerGates(randn([5, 4], rng), tensor([0, 1], [1, 2], 'int32'), 'chosen'), DTypeError);
});

test('MoE ops: finite differences in float64 (dispatch, grouped matmul with an idle expert, combine with drops)', () => {
  useBackend('js');
  const N = 6;
  const k = 2;
  const E = 4;
  // expert 3 is never chosen; capacity 3 drops some assignments of expert 0
  const choices = tensor([0, 1, 0, 2, 0, 1, 1, 0, 2, 0, 0, 2], [N, k], 'int32');
  const routing = routeTokens(choices, E, 3);
  assert.ok(routing.dropped > 0 && routing.counts[3] === 0);
  const r = new Rng(5);
  gradcheck('dispatchTokens', ([x]) => dispatchTokens(x!, routing), [leaf([N, 3], r)]);
  const weights = Array.from({ length: E }, () => leaf([2, 3], r));
  gradcheck('groupedMatmul', ([x, ...w]) => groupedMatmul(x!, w, routing), [
    leaf([routing.rows, 3], r),
    ...weights,
  ]);
  gradcheck('combineExperts', ([ys, gates]) => combineExperts(ys!, gates!, routing), [
    leaf([routing.rows, 3], r),
    leaf([N, k], r),
  ]);
  gradcheck(
    'the composed layer',
    ([x, gates, ...w]) =>
      combineExperts(groupedMatmul(dispatchTokens(x!, routing), w, routing), gates!, routing),
    [leaf([N, 3], r), leaf([N, k], r), ...weights],
  );
});
