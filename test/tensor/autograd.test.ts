/** Autograd semantics: accumulation, noGrad, tied parameters, explicit gradients, scope interplay. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/index.js';
import { Rng, type Tensor } from '../../src/index.js';
import { assertClose } from '../util/close.js';

function param(shape: number[], seed: number): Tensor {
  const p = T.randn(shape, new Rng(seed), { dtype: 'float64' });
  p.requiresGrad = true;
  return p;
}

test('gradients accumulate across backward() calls until zeroGrad', () => {
  const w = param([3, 2], 1);
  const x = T.randn([4, 3], new Rng(2), { dtype: 'float64' });
  const loss = (): Tensor => T.sum(T.tanh(T.matmul(x, w)));
  T.backward(loss());
  const once = w.grad!.toArray();
  T.backward(loss());
  assertClose(
    'two backward calls',
    w.grad!,
    once.map((g) => 2 * g),
    { rtol: 1e-14, atol: 0 },
  );
  T.zeroGrad([w]);
  assert.ok(w.grad!.toArray().every((g) => g === 0));
  T.backward(loss());
  assertClose('after zeroGrad', w.grad!, once, { rtol: 1e-14, atol: 0 });
});

test('noGrad outputs carry no graph; isGradEnabled reflects nesting', () => {
  const w = param([2], 3);
  const y = T.noGrad(() => {
    assert.equal(T.isGradEnabled(), false);
    return T.mul(w, 2);
  });
  assert.equal(T.isGradEnabled(), true);
  assert.equal(y.node, null);
  assert.equal(y.requiresGrad, false);
  // A noGrad result acts as a detached constant: no gradient flows through it.
  const z = T.add(T.mul(w, y), 0);
  T.backward(T.sum(z));
  assertClose('gradient through a detached factor', w.grad!, y.toArray(), { rtol: 0, atol: 0 });
  assert.throws(() => T.backward(T.sum(y)), { name: 'ShapeError' });
});

test('a parameter used twice (tied embedding) sums both gradients', () => {
  const wte = param([5, 3], 4);
  const ids = T.tensor([1, 4, 1], [3], 'int32');
  const h = T.embedding(wte, ids); // (3, 3)
  const logits = T.matmul(h, T.transpose(wte)); // (3, 5)
  T.backward(T.crossEntropy(logits, T.tensor([0, 1, 4], [3], 'int32')));
  const tied = wte.grad!.toArray();
  // Same computation with an untied copy: the two gradients must add up to the tied one.
  const a = param([5, 3], 4);
  const b = param([5, 3], 4);
  T.backward(
    T.crossEntropy(T.matmul(T.embedding(a, ids), T.transpose(b)), T.tensor([0, 1, 4], [3], 'int32')),
  );
  const summed = a.grad!.toArray().map((g, i) => g + b.grad!.toArray()[i]!);
  assertClose('tied gradient', tied, summed, { rtol: 1e-12, atol: 1e-15 });
});

test('backward with an explicit gradient, and its checks', () => {
  const x = param([2, 2], 5);
  const y = T.mul(x, 3);
  T.backward(y, T.tensor([1, 2, 3, 4], [2, 2], 'float64'));
  assert.deepEqual(x.grad!.toArray(), [3, 6, 9, 12]);
  assert.throws(() => T.backward(T.mul(x, 3)), { name: 'ShapeError', message: /scalar/ });
  assert.throws(() => T.backward(T.mul(x, 3), T.zeros([4], 'float64')), {
    name: 'ShapeError',
    message: /\[2, 2\]/,
  });
});

test('backward inside scope() frees intermediates but keeps parameter gradients', () => {
  const w = param([4, 4], 6);
  const before = T.poolStats();
  for (let i = 0; i < 3; i++) {
    T.scope(() => {
      const h = T.softmax(T.matmul(w, w));
      T.backward(T.sum(T.mul(h, h)));
    });
  }
  assert.ok(w.grad !== null && !w.grad.disposed);
  assert.ok(w.grad.toArray().every(Number.isFinite));
  assert.ok(T.poolStats().pooledBytes >= before.pooledBytes);
});

test('int32 tensors never require grad through selection ops', () => {
  const x = param([3, 4], 7);
  const { values, indices } = T.topk(x, 2);
  assert.equal(indices.requiresGrad, false);
  assert.equal(values.requiresGrad, true);
  assert.equal(T.argmax(x, 1).requiresGrad, false);
});

test('core edge cases: empty inner dimension, expand with -1, dispose releases the gradient', () => {
  // (B, T, 0) @ (0, N) is all zeros (the folded GEMM path must not try to infer -1 from 0).
  const a = T.zeros([2, 3, 0]);
  const b = T.zeros([0, 4]);
  const out = T.matmul(a, b);
  assert.deepEqual(out.shape, [2, 3, 4]);
  assert.ok(out.toArray().every((v) => v === 0));
  // -1 keeps an existing size; on a new leading axis it has no size to keep.
  assert.deepEqual(T.expand(T.zeros([3, 1]), [2, -1, 4]).shape, [2, 3, 4]);
  assert.throws(() => T.expand(T.zeros([3, 1]), [-1, 3, 4]), { name: 'ShapeError', message: /expand/ });
  const w = param([2], 9);
  T.backward(T.sum(T.mul(w, w)));
  const grad = w.grad!;
  w.dispose();
  assert.equal(grad.disposed, true);
  assert.equal(w.grad, null);
});
