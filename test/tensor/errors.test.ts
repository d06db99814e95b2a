/** Shape and dtype errors: typed, naming the op and the offending shapes or values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/index.js';
import { Rng } from '../../src/index.js';

/** Asserts fn throws `name` whose message contains every fragment. */
function rejects(fn: () => unknown, name: string, ...fragments: string[]): void {
  assert.throws(fn, (error: Error) => {
    assert.equal(error.name, name, `wrong error type: ${error.name}: ${error.message}`);
    for (const f of fragments) assert.ok(error.message.includes(f), `"${error.message}" lacks "${f}"`);
    return true;
  });
}

const rng = new Rng(0);
const x = (shape: number[]) => T.randn(shape, rng);

test('matmul, broadcasting and layout errors name the op and shapes', () => {
  rejects(() => T.matmul(x([2, 3]), x([4, 5])), 'ShapeError', 'matmul', '[2, 3]', '[4, 5]');
  rejects(() => T.matmul(x([2, 3]), T.zeros([3, 2], 'float64')), 'DTypeError', 'matmul', 'float32 @ float64');
  rejects(() => T.add(x([2, 3]), x([4])), 'ShapeError', 'add', '[2, 3] and [4]');
  rejects(() => T.reshape(x([2, 3]), [4, 2]), 'ShapeError', 'reshape', '[4, 2]');
  rejects(() => T.narrow(x([2, 3]), 1, 2, 2), 'ShapeError', 'narrow', 'start 2, length 2');
  rejects(() => T.sum(x([2, 3]), { axis: 2 }), 'ShapeError', 'sum', 'axis');
});

test('creation errors', () => {
  rejects(() => T.tensor([1, 2, 3], [2, 2]), 'ShapeError', 'tensor', '4 elements', '3 elements');
  rejects(() => T.tensor([1.5], [1], 'int32'), 'DTypeError', 'tensor', '1.5 at index 0');
  rejects(() => T.randn([2], rng, { dtype: 'int32' }), 'DTypeError', 'randn');
  rejects(() => T.arange(-1), 'ConfigError', 'arange');
  rejects(() => T.randint(3, 3, [2], rng), 'ConfigError', 'randint');
});

test('softmax, loss, norm and embedding errors', () => {
  rejects(() => T.softmax(T.zeros([2], 'int32')), 'DTypeError', 'softmax', 'int32');
  rejects(() => T.logSoftmax(x([2, 3]), 2), 'ShapeError', 'logSoftmax', 'axis');
  rejects(
    () => T.crossEntropy(x([4, 5]), T.zeros([3], 'int32')),
    'ShapeError',
    'crossEntropy',
    '[4, 5]',
    '[3]',
  );
  rejects(() => T.crossEntropy(x([2, 5]), T.zeros([2])), 'DTypeError', 'crossEntropy', 'targets float32');
  rejects(
    () => T.crossEntropy(x([2, 5]), T.tensor([1, 5], [2], 'int32')),
    'ShapeError',
    'crossEntropy',
    '[0, 5)',
    '5 at flat position 1',
  );
  rejects(
    () => T.crossEntropy(x([2, 5]), T.zeros([2], 'int32'), { labelSmoothing: 1.5 }),
    'ConfigError',
    'labelSmoothing',
  );
  rejects(() => T.layerNorm(x([2, 4]), x([3]), null), 'ShapeError', 'layerNorm', 'weight [3]', 'x [2, 4]');
  rejects(() => T.rmsNorm(x([2, 4]), T.zeros([4], 'float64')), 'DTypeError', 'rmsNorm', 'float64');
  rejects(
    () => T.embedding(x([5, 3]), T.tensor([1, 7, 2], [3], 'int32')),
    'ShapeError',
    'token id 7',
    'vocabulary of 5',
  );
  rejects(() => T.embedding(x([5, 3]), T.tensor([-1], [1], 'int32')), 'ShapeError', 'token id -1');
  rejects(() => T.embedding(x([5, 3]), T.zeros([2])), 'DTypeError', 'embedding', 'ids float32');
});

test('attention errors', () => {
  const q = x([1, 4, 3, 2]);
  rejects(
    () => T.scaledDotProductAttention(q, x([1, 3, 3, 2]), x([1, 3, 3, 2])),
    'ShapeError',
    'scaledDotProductAttention',
    'q [1, 4, 3, 2]',
    'k [1, 3, 3, 2]',
  );
  rejects(
    () => T.scaledDotProductAttention(q, x([1, 2, 3, 2]), x([1, 2, 4, 2])),
    'ShapeError',
    'v [1, 2, 4, 2]',
  );
  rejects(() => T.scaledDotProductAttention(x([4, 3, 2]), q, q), 'ShapeError', '4-D');
  rejects(
    () => T.scaledDotProductAttention(q, q, q, { mask: x([3, 2]) }),
    'ShapeError',
    'mask',
    '[1, 4, 3, 3]',
    '[3, 2]',
  );
  rejects(
    () => T.scaledDotProductAttention(q, q, q, { mask: T.zeros([3, 3], 'float64') }),
    'DTypeError',
    'mask',
  );
  const learned = x([3, 3]);
  learned.requiresGrad = true;
  rejects(() => T.scaledDotProductAttention(q, q, q, { mask: learned }), 'ConfigError', 'no gradient');
});

test('join and select errors', () => {
  rejects(() => T.concat([x([2, 3]), x([3, 3])], 1), 'ShapeError', 'concat', '[2, 3], [3, 3]');
  rejects(() => T.concat([], 0), 'ShapeError', 'concat');
  rejects(() => T.concat([x([2]), T.zeros([2], 'int32')], 0), 'DTypeError', 'concat');
  rejects(() => T.split(x([5]), [2, 2], 0), 'ShapeError', 'split', 'summing to 5', '[2, 2]');
  rejects(() => T.stack([x([2]), x([3])], 0), 'ShapeError', 'stack', '[2], [3]');
  rejects(
    () => T.gather(x([2, 3]), 1, T.tensor([0, 3], [1, 2], 'int32')),
    'ShapeError',
    'gather',
    'index 3',
    'size 3',
  );
  rejects(() => T.gather(x([2, 3]), 1, T.zeros([2], 'int32')), 'ShapeError', 'gather', '[2]');
  rejects(() => T.where(T.zeros([3], 'int32'), x([2]), x([2])), 'ShapeError', 'where');
  rejects(() => T.maskedFill(x([3]), T.zeros([2, 3], 'int32'), 0), 'ShapeError', 'maskedFill', '[2, 3]');
  rejects(() => T.topk(x([4]), 5), 'ShapeError', 'topk', '[0, 4]');
});
