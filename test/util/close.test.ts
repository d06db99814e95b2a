/**
 * The closeness helper itself: it must fail just outside its tolerance, on a NaN or an
 * infinity that does not match, on a length or shape mismatch, and pass everywhere else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/index.js';
import { assertBitEqual, assertClose, diff } from './close.js';

/** The next float64 above x (x finite and positive). */
function nextUp(x: number): number {
  const bits = new BigInt64Array(Float64Array.of(x).buffer);
  bits[0] = bits[0]! + 1n;
  return new Float64Array(bits.buffer)[0]!;
}

const fails = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof assert.AssertionError && message.test(e.message));
};

test('the boundary |a - e| = atol + rtol |e| passes; the next float above it fails', () => {
  // 1.25 - 1 and 5 - 4 are exact in binary, so the boundary is hit exactly.
  assertClose('atol boundary', [1.25], [1], { atol: 0.25, rtol: 0 });
  fails(() => assertClose('atol', [nextUp(1.25)], [1], { atol: 0.25, rtol: 0 }), /atol: 1 of 1 elements/);
  assertClose('rtol boundary', [5], [4], { atol: 0, rtol: 0.25 });
  fails(() => assertClose('rtol', [nextUp(5)], [4], { atol: 0, rtol: 0.25 }), /rtol: 1 of 1 elements/);
  // The tolerance scales with the expected value only: swapping the sides changes the verdict.
  fails(() => assertClose('asymmetric', [4], [5], { atol: 0, rtol: 0.199 }), /asymmetric/);
  assertClose('asymmetric', [5], [4], { atol: 0, rtol: 0.25 });
  // Negative expected values use |e|.
  assertClose('negative', [-5], [-4], { atol: 0, rtol: 0.25 });
  fails(() => assertClose('negative', [-nextUp(5)], [-4], { atol: 0, rtol: 0.25 }), /negative/);
});

test('NaN equals NaN only where expected is NaN', () => {
  assertClose('NaN expected', [1, NaN], [1, NaN], { atol: 0, rtol: 0 });
  fails(() => assertClose('NaN actual', [NaN], [0.5], { atol: 1, rtol: 1 }), /actual NaN, expected 0\.5/);
  fails(() => assertClose('number for NaN', [0.5], [NaN], { atol: 1, rtol: 1 }), /actual 0\.5, expected NaN/);
});

test('infinities must match exactly; a large finite value never matches one', () => {
  assertClose('equal infinities', [Infinity, -Infinity], [Infinity, -Infinity], { atol: 0, rtol: 0 });
  // With rtol > 0 the bare rule gives atol + rtol * Infinity = Infinity, which every
  // |a - e| would satisfy; the helper must not let it through.
  fails(
    () => assertClose('max float', [Number.MAX_VALUE], [Infinity], { atol: 1e-6, rtol: 1e-5 }),
    /expected Infinity/,
  );
  fails(
    () => assertClose('float32 max', [3.4e38], [Infinity], { atol: 1, rtol: 1 }),
    /float32 max: .*actual 3\.4e\+38, expected Infinity/,
  );
  fails(
    () => assertClose('Infinity for a number', [Infinity], [1e308], { atol: 1, rtol: 1 }),
    /actual Infinity/,
  );
  fails(() => assertClose('sign', [-Infinity], [Infinity], { atol: 1, rtol: 1 }), /actual -Infinity/);
});

test('lengths must match always, shapes when both sides are tensors', () => {
  fails(() => assertClose('short', [1, 2], [1, 2, 3], { atol: 1, rtol: 1 }), /short: 2 elements, expected 3/);
  fails(
    () =>
      assertClose('tensor vs array', Tensor.fromArray(Float32Array.of(1, 2, 3)), [1, 2], {
        atol: 1,
        rtol: 1,
      }),
    /3 elements, expected 2/,
  );
  assert.throws(() => diff([1], [1, 2], { atol: 1, rtol: 1 }), RangeError);
  const values = Float64Array.of(1, 2, 3, 4, 5, 6);
  fails(
    () =>
      assertClose('transposed', Tensor.fromArray(values, [2, 3]), Tensor.fromArray(values, [3, 2]), {
        atol: 1,
        rtol: 1,
      }),
    /transposed: shape \[2, 3\], expected \[3, 2\]/,
  );
  // A tensor against a flat array compares the logical elements, whatever the shape.
  assertClose('tensor vs array', Tensor.fromArray(values, [2, 3]), [1, 2, 3, 4, 5, 6], { atol: 0, rtol: 0 });
  assertClose('array vs tensor', [1, 2, 3, 4, 5, 6], Tensor.fromArray(values, [3, 2]), { atol: 0, rtol: 0 });
});

test('the failure message gives counts, tolerances, max diffs and the first bad index with its values', () => {
  const actual = Tensor.fromArray(Float64Array.of(1, 2, 3.5, 4, 5, 9), [2, 3]);
  const expected = Tensor.fromArray(Float64Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
  fails(
    () => assertClose('message', actual, expected, { atol: 0.1, rtol: 0.01 }),
    new RegExp(
      '^message: 2 of 6 elements outside atol 0\\.1 \\+ rtol 0\\.01 \\* \\|expected\\|; ' +
        'max abs diff 3\\.000e\\+0, max rel diff 5\\.000e-1; ' +
        'first bad index \\[0, 2\\] \\(flat 2\\): actual 3\\.5, expected 3$',
    ),
  );
  // A flat array reports a flat index.
  fails(
    () => assertClose('flat', [0, 7], [0, 6], { atol: 0, rtol: 0 }),
    /first bad index 1: actual 7, expected 6$/,
  );
});

test('diff reports max abs/rel diff and the bad count; skip leaves indices out', () => {
  const d = diff([1, 2.5, -3, 0.5], [1, 2, -2, 0], { atol: 0.6, rtol: 0 });
  assert.deepEqual(d, { maxAbs: 1, maxRel: 0.5, bad: 1, firstBad: 2 }); // rel skips expected 0
  const skipped = diff([1, 2.5, -3, 0.5], [1, 2, -2, 0], { atol: 0.6, rtol: 0, skip: (i) => i === 2 });
  assert.deepEqual(skipped, { maxAbs: 0.5, maxRel: 0.25, bad: 0, firstBad: -1 });
  const nonFinite = diff([NaN, 1], [0, 1], { atol: 1, rtol: 1 });
  assert.deepEqual(nonFinite, { maxAbs: Infinity, maxRel: Infinity, bad: 1, firstBad: 0 });
  // assertClose returns the same report when it passes.
  assert.deepEqual(assertClose('pass', [1, 2.5], [1, 2], { atol: 0.5, rtol: 0 }), {
    maxAbs: 0.5,
    maxRel: 0.25,
    bad: 0,
    firstBad: -1,
  });
});

test('finite: true and assertBitEqual fail on any NaN or infinity, even a matching one', () => {
  fails(
    () => assertClose('NaN both', [NaN], [NaN], { atol: 1, rtol: 1, finite: true }),
    /NaN and infinities not allowed/,
  );
  fails(
    () => assertClose('Inf both', [Infinity], [Infinity], { atol: 1, rtol: 1, finite: true }),
    /Inf both/,
  );
  assertClose('finite values', [1, 2], [1.5, 2], { atol: 0.5, rtol: 0, finite: true });
  fails(() => assertBitEqual('NaN both', [NaN], [NaN]), /NaN both/);
  fails(() => assertBitEqual('Inf both', [-Infinity], [-Infinity]), /Inf both/);
});

test('assertBitEqual: one float32 ulp fails; -0 equals +0; shapes are checked', () => {
  const a = Float32Array.of(1, 0.1, -0);
  const b = Float32Array.of(1, 0.1, 0);
  assertBitEqual('same', Tensor.fromArray(a), Tensor.fromArray(b));
  const ulp = Float32Array.from(a);
  const bits = new Int32Array(ulp.buffer);
  bits[1] = bits[1]! + 1; // 0.1 -> the next float32 up
  fails(
    () => assertBitEqual('one ulp', Tensor.fromArray(ulp), Tensor.fromArray(b)),
    /one ulp: 1 of 3 elements/,
  );
  fails(
    () =>
      assertBitEqual(
        'reshaped',
        Tensor.fromArray(Float32Array.of(1, 2), [1, 2]),
        Tensor.fromArray(Float32Array.of(1, 2), [2]),
      ),
    /reshaped: shape/,
  );
});
