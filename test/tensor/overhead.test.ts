/**
 * The cheap-construction paths a decode step relies on keep their guarantees: shared
 * shape/stride arrays are frozen and never aliased to a caller's mutable array; values()
 * of a whole buffer is the buffer; scope() frames (arrays) dispose exactly what they
 * should, keep() included; the pool hands a released buffer to the next tensor of the
 * same dtype and length, never one a live tensor holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  add,
  clearPool,
  keep,
  matmul,
  matmulTransposed,
  backward,
  sum,
  narrow,
  noGrad,
  permute,
  reshape,
  scope,
  transpose,
} from '../../src/index.js';

test('views share their source frozen shape/strides; a caller array is copied, never shared', () => {
  const userShape = [2, 3];
  const x = Tensor.empty(userShape);
  assert.notEqual(x.shape, userShape);
  userShape[0] = 99;
  assert.deepEqual(x.shape, [2, 3]);
  assert.ok(Object.isFrozen(x.shape) && Object.isFrozen(x.strides));

  const n = narrow(x, 1, 1, 2); // (2, 2): new shape, same strides
  assert.equal(n.strides, x.strides);
  assert.deepEqual(n.shape, [2, 2]);
  const y = add(x, x); // equal shapes: the output shares a's shape
  assert.equal(y.shape, x.shape);
  for (const t of [n, y, permute(x, [1, 0]), reshape(x, [3, 2]), transpose(x)]) {
    assert.ok(Object.isFrozen(t.shape) && Object.isFrozen(t.strides), `${t.toString()} not frozen`);
    assert.throws(() => (t.shape as number[]).push(1), TypeError);
  }
  assert.deepEqual(x.shape, [2, 3]);
  for (const t of [n, y, x]) t.dispose();
});

test('permute still rejects a repeated or missing axis, and an out-of-range one', () => {
  const x = Tensor.empty([2, 3, 4]);
  assert.throws(() => permute(x, [0, 0, 1]), { name: 'ShapeError', message: /every axis once/ });
  assert.throws(() => permute(x, [0, 1]), { name: 'ShapeError', message: /every axis once/ });
  assert.throws(() => permute(x, [0, 1, 3]), { name: 'ShapeError', message: /axis out of range/ });
  x.dispose();
});

test('values() of a whole buffer is the buffer; of a part, a subarray of the right elements', () => {
  const x = Tensor.fromArray(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.equal(x.values(), x.data);
  const row = narrow(x, 0, 1, 1); // (1, 3) at offset 3
  assert.notEqual(row.values(), x.data);
  assert.deepEqual([...row.values()], [4, 5, 6]);
  row.dispose();
  x.dispose();
});

test('matmul (B, T, C) @ (C, N) folds into one GEMM bit-equal to each batch row alone', () => {
  const a = Tensor.fromArray(
    Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i)),
    [2, 3, 4],
  );
  const w = Tensor.fromArray(
    Float32Array.from({ length: 5 * 4 }, (_, i) => Math.cos(i)),
    [5, 4],
  );
  noGrad(() =>
    scope(() => {
      const folded = matmul(a, transpose(w)); // (2, 3, 5)
      assert.deepEqual(folded.shape, [2, 3, 5]);
      for (let b = 0; b < 2; b++) {
        const alone = matmul(reshape(narrow(a, 0, b, 1), [3, 4]), transpose(w)); // (3, 5)
        assert.deepEqual([...narrow(folded, 0, b, 1).values()], [...alone.values()]);
      }
    }),
  );
  a.dispose();
  w.dispose();
});

test('scope frames: intermediates disposed, the result and keep() survive, nested survivors join the parent', () => {
  const made: Tensor[] = [];
  let kept: Tensor | undefined;
  let inner: Tensor | undefined;
  const result = scope(() => {
    made.push(Tensor.empty([4]));
    inner = scope(() => {
      made.push(Tensor.empty([4]));
      kept = keep(Tensor.empty([4]));
      return Tensor.empty([4]); // survives into the outer frame ...
    });
    assert.ok(!inner.disposed);
    return Tensor.empty([2]);
  });
  assert.ok(made.every((t) => t.disposed));
  assert.ok(inner!.disposed, '... and is disposed when the outer scope ends');
  assert.ok(!kept!.disposed && !result.disposed);
  kept!.dispose();
  result.dispose();
});

test('pool: a released buffer goes to the next tensor of its dtype and length, never a live one', () => {
  clearPool();
  const live = Tensor.empty([8]);
  const released = Tensor.empty([8]);
  const buffer = released.data;
  released.dispose();
  const other = Tensor.empty([8], 'int32'); // same length, other dtype: not that buffer
  assert.notEqual(other.data, buffer);
  const again = Tensor.empty([8]);
  assert.equal(again.data, buffer, 'the released buffer is reused');
  assert.notEqual(again.data, live.data);
  assert.ok(
    again.toArray().every((v) => v === 0),
    'a reused buffer is zeroed',
  );
  const fresh = Tensor.empty([8]);
  assert.notEqual(fresh.data, live.data);
  assert.notEqual(fresh.data, again.data);
  for (const t of [live, other, again, fresh]) t.dispose();
  clearPool();
});

test('matmulTransposed equals matmul(x, transpose(w)) bit for bit; without a graph it builds only the output', () => {
  const x = Tensor.fromArray(
    Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => Math.sin(i)),
    [2, 3, 4],
  );
  const w = Tensor.fromArray(
    Float32Array.from({ length: 5 * 4 }, (_, i) => Math.cos(i)),
    [5, 4],
  ); // (out, in)
  noGrad(() =>
    scope(() => {
      const reference = matmul(x, transpose(w)); // (2, 3, 5)
      const before = Tensor.empty([1]).id;
      const fast = matmulTransposed(x, w);
      assert.equal(fast.id, before + 1, 'one tensor (the output), no transposed view');
      assert.deepEqual(fast.shape, [2, 3, 5]);
      assert.deepEqual([...fast.values()], [...reference.values()]);
    }),
  );
  // With a graph: the same values, and the weight gets its gradient through transpose.
  w.requiresGrad = true;
  const y = matmulTransposed(x, w);
  assert.ok(y.requiresGrad && y.node !== null);
  backward(sum(y));
  assert.deepEqual(w.grad!.shape, [5, 4]);
  // d sum(x w^T) / dw[o, i] = sum over rows of x[.., i]
  const xs = x.toArray();
  const column = (i: number): number => xs.filter((_, j) => j % 4 === i).reduce((a, b) => a + b, 0);
  w.grad!.toArray().forEach((g, j) => assert.ok(Math.abs(g - column(j % 4)) < 1e-5, `dw[${j}] ${g}`));
  for (const t of [y, x, w]) t.dispose();
});
