/**
 * The fused rotary embedding (manifest kernel `rope`, op src/tensor/ops/rope.ts) against its
 * definition: the kernel on every backend and ISA against the float64 JS reference, and bit
 * for bit against the JS float32 kernel (both round each product and sum, as the composed
 * ops do); the op and RotaryEmbedding.apply against the composed ops (narrow, concat, neg,
 * mul, add) in float64 and float32, forward and gradient; finite differences in float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  add,
  backward,
  concat,
  mul,
  narrow,
  neg,
  noGrad,
  randn,
  scope,
  sum,
  transpose,
  type Tensor,
} from '../../src/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { RotaryEmbedding } from '../../src/nn/index.js';
import { rope } from '../../src/tensor/ops/rope.js';
import { DTypeError, ShapeError } from '../../src/util/errors.js';
import { assertBitEqual, assertClose } from '../util/close.js';
import { gradcheck, leaf } from '../tensor/gradcheck.js';
import { backendsUnderTest } from './backends.js';

const rng = new Rng(77);
const rand = (n: number): Float32Array => randn([n], rng).values() as Float32Array;

/** HF's definition: x * cat(cos, cos) + rotate_half(x) * cat(sin, sin), rotate_half = cat(-x2, x1). */
function composed(x: Tensor, cos: Tensor, sin: Tensor, pos0: number): Tensor {
  const T = x.shape[x.ndim - 2]!;
  const half = x.shape[x.ndim - 1]! / 2;
  const c = narrow(cos, 0, pos0, T); // (T, hs/2)
  const s = narrow(sin, 0, pos0, T); // (T, hs/2)
  const x1 = narrow(x, -1, 0, half);
  const x2 = narrow(x, -1, half, half);
  return add(mul(x, concat([c, c], -1)), mul(concat([neg(x2), x1], -1), concat([s, s], -1)));
}

// (R, T, hs, pos0): vector tails (hs/2 of 1, 3, 17, 65), one token at a far position, many rows
const shapes: [number, number, number, number][] = [
  [1, 1, 2, 0],
  [3, 7, 6, 5],
  [2, 3, 34, 1],
  [1, 2, 130, 3],
  [6, 1, 64, 90],
  [40, 9, 32, 0],
  [64, 16, 64, 0], // 1024 rows: split across threads
];

for (const entry of backendsUnderTest()) {
  test(`${entry.label}: rope kernel, forward and inverse, against the float64 reference and JS float32 bits`, () => {
    entry.select();
    for (const [R, T, hs, pos0] of shapes) {
      const half = hs / 2;
      const P = pos0 + T + 2;
      const x = rand(R * T * hs);
      const cos = rand(P * half);
      const sin = rand(P * half);
      for (const inverse of [false, true]) {
        const y = new Float32Array(R * T * hs);
        const before = entry.calls();
        entry.backend.rope(x, cos, sin, y, R, T, hs, pos0, inverse);
        if (before !== null) assert.ok(entry.calls()! > before, `${entry.label}: native rope did not run`);
        const ref = new Float64Array(R * T * hs);
        jsBackend.rope(
          Float64Array.from(x),
          Float64Array.from(cos),
          Float64Array.from(sin),
          ref,
          R,
          T,
          hs,
          pos0,
          inverse,
        );
        const what = `${entry.label} rope R${R} T${T} hs${hs} pos0 ${pos0}${inverse ? ' inverse' : ''}`;
        // float32 kernel vs the float64 reference: x cos - y sin rounds twice in float32,
        // a few ulp of |x| <= 4 (about 1e-6) with cos/sin tables themselves rounded to float32.
        assertClose(what, y, ref, { atol: 1e-6, rtol: 1e-5 });
        const js32 = new Float32Array(R * T * hs);
        jsBackend.rope(x, cos, sin, js32, R, T, hs, pos0, inverse);
        assertBitEqual(what, y, js32);
      }
    }
  });

  test(`${entry.label}: RotaryEmbedding.apply equals the composed ops, forward and gradient, float32 and float64`, () => {
    entry.select();
    for (const dtype of ['float32', 'float64'] as const) {
      const table = new RotaryEmbedding(10, 24, 10000, dtype);
      for (const [shape, offset] of [
        [[2, 3, 5, 10], 4],
        [[1, 2, 1, 10], 23],
      ] as const) {
        scope(() => {
          const x = randn(shape, rng, { dtype });
          x.requiresGrad = true;
          const weights = randn(shape, rng, { dtype });
          const fused = table.apply(x, offset);
          backward(sum(mul(fused, weights)));
          const fusedGrad = x.grad!;
          x.grad = null;
          const reference = composed(x, table.cos, table.sin, offset);
          backward(sum(mul(reference, weights)));
          const what = `${entry.label} ${dtype} rope (${shape.join(', ')}) at ${offset}`;
          assertBitEqual(`${what} forward`, fused, reference);
          // the composed backward sums two paths in another order: equal up to one rounding
          const tol = dtype === 'float64' ? { atol: 1e-14, rtol: 1e-13 } : { atol: 1e-6, rtol: 1e-6 };
          assertClose(`${what} gradient`, fusedGrad, x.grad!, tol);
          x.grad = null;
        });
      }
      table.dispose();
    }
  });
}

test('rope: finite differences in float64, on a view and at an offset', () => {
  const table = new RotaryEmbedding(8, 16, 500, 'float64');
  gradcheck('rope op', ([x]) => rope(x!, table.cos, table.sin, 5), [leaf([2, 3, 4, 8], new Rng(8))]);
  gradcheck('rope on a transposed view', ([x]) => table.apply(transpose(x!, 1, 2), 2), [
    leaf([1, 4, 3, 8], new Rng(9)),
  ]);
  table.dispose();
});

test('rope: bad inputs are typed errors', () => {
  const table = new RotaryEmbedding(8, 16, 500);
  noGrad(() => {
    assert.throws(() => rope(randn([1, 1, 3, 6], rng), table.cos, table.sin, 0), ShapeError); // hs != 2 * table
    assert.throws(() => rope(randn([1, 1, 3, 8], rng), table.cos, table.sin, 14), ShapeError); // past P
    assert.throws(
      () => rope(randn([1, 1, 3, 8], rng, { dtype: 'float64' }), table.cos, table.sin, 0),
      DTypeError,
    );
  });
  table.dispose();
});
