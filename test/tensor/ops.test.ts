/** Forward values of the tensor ops on small known cases, and the fused ops against composed references. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/index.js';
import { Rng, type Tensor } from '../../src/index.js';
import { erf } from '../../src/backend/js/elementwise.js';
import { assertClose } from '../util/close.js';

const f64 = (data: number[], shape?: number[]): Tensor => T.tensor(data, shape, 'float64');
const i32 = (data: number[], shape?: number[]): Tensor => T.tensor(data, shape, 'int32');

test('creation: tensor, zeros, ones, full, arange and dtype inference', () => {
  const t = T.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [2, 3]);
  assert.equal(T.tensor(new Float64Array([1, 2])).dtype, 'float64');
  assert.equal(T.tensor(new Int32Array([1, 2])).dtype, 'int32');
  const source = new Float32Array([1, 2]);
  const copy = T.tensor(source);
  source[0] = 9;
  assert.equal(copy.toArray()[0], 1, 'tensor() copies its data');
  assert.deepEqual(T.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
  assert.deepEqual(T.ones([3], 'int32').toArray(), [1, 1, 1]);
  assert.deepEqual(T.full([2], -2.5, 'float64').toArray(), [-2.5, -2.5]);
  assert.deepEqual(T.arange(4).toArray(), [0, 1, 2, 3]);
  assert.equal(T.arange(4).dtype, 'int32');
  assert.deepEqual(T.tensor([], [0, 3]).shape, [0, 3]);
});

test('creation: random tensors follow their distributions and the seed', () => {
  const n = 20000;
  const x = T.randn([n], new Rng(1), { mean: 2, std: 3, dtype: 'float64' }).toArray();
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
  assert.ok(Math.abs(mean - 2) < 0.1 && Math.abs(std - 3) < 0.1, `mean ${mean}, std ${std}`);
  const u = T.rand([n], new Rng(2)).toArray();
  assert.ok(u.every((v) => v >= 0 && v < 1));
  const r = T.randint(-3, 4, [n], new Rng(3)).toArray();
  assert.ok(r.every((v) => Number.isInteger(v) && v >= -3 && v < 4));
  for (let v = -3; v < 4; v++)
    assert.ok(r.filter((w) => w === v).length > n / 7 - 300, `value ${v} under-drawn`);
  assert.deepEqual(T.randn([5], new Rng(7)).toArray(), T.randn([5], new Rng(7)).toArray());
});

test('erf matches double-precision reference values', () => {
  // Python math.erf.
  const xs = [-7, -3, -1.2, -0.3, 0, 1e-9, 0.2, 0.46875, 0.5, 1, 2.5, 3.9, 4.1];
  const ref = [
    -1.0, -0.9999779095030014, -0.9103139782296353, -0.3286267594591274, 0.0, 1.1283791670955127e-9,
    0.22270258921047847, 0.49261347321793797, 0.5204998778130465, 0.8427007929497149, 0.999593047982555,
    0.9999999652077514, 0.9999999932999724,
  ];
  assertClose('erf', xs.map(erf), ref, { atol: 0, rtol: 1e-15 });
});

test('softmax and logSoftmax: values, stability, non-last axis', () => {
  assertClose(
    'softmax',
    T.softmax(f64([1, 2, 3])),
    [0.09003057317038046, 0.24472847105479767, 0.6652409557748219],
    {
      atol: 1e-6,
      rtol: 1e-14,
    },
  );
  assertClose('logSoftmax of huge logits', T.logSoftmax(f64([1000, 1000])), [-Math.LN2, -Math.LN2], {
    atol: 1e-6,
    rtol: 1e-14,
  });
  assertClose('softmax of huge logits', T.softmax(T.tensor([1e4, 0])), [1, 0], { atol: 1e-6, rtol: 1e-5 });
  const x = T.randn([2, 3, 4], new Rng(1), { dtype: 'float64' });
  const viaTranspose = T.transpose(T.softmax(T.transpose(x, 1, 2)), 1, 2);
  assertClose('softmax axis 1', T.softmax(x, 1), viaTranspose.toArray(), { atol: 1e-12, rtol: 1e-12 });
  const sums = T.sum(T.softmax(x, 1), { axis: 1 }).toArray();
  assertClose('softmax axis 1 sums', sums, new Array(8).fill(1), { atol: 1e-12, rtol: 1e-12 });
  assertClose('softmax of a 0-d tensor', T.softmax(f64([3], [])), [1], { atol: 1e-6, rtol: 1e-5 });
});

test('crossEntropy: values against PyTorch, reductions, ignore and smoothing', () => {
  const logits = f64([1, 2, 3, 0.5, -1, 2], [2, 3]);
  // torch.nn.functional.cross_entropy (torch 1.13, float64).
  assertClose(
    'smoothed mean',
    T.crossEntropy(logits, i32([2, 0]), { labelSmoothing: 0.1 }),
    [1.124458630550769],
    {
      atol: 1e-6,
      rtol: 1e-14,
    },
  );
  assertClose(
    'smoothed mean with an ignored row',
    T.crossEntropy(logits, i32([2, -100]), { labelSmoothing: 0.1 }),
    [0.5076059644443804],
    { atol: 1e-6, rtol: 1e-5 },
  );
  assert.ok(Number.isNaN(T.crossEntropy(logits, i32([-100, -100])).item()), 'all ignored -> NaN, as PyTorch');
  assert.equal(T.crossEntropy(logits, i32([-100, -100]), { reduction: 'sum' }).item(), 0);
  const none = T.crossEntropy(logits, i32([2, 1]), { reduction: 'none' }).toArray();
  const lse0 = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
  const lse1 = Math.log(Math.exp(0.5) + Math.exp(-1) + Math.exp(2));
  assertClose('none', none, [lse0 - 3, lse1 + 1], { atol: 1e-12, rtol: 1e-12 });
  assertClose('sum', T.crossEntropy(logits, i32([2, 1]), { reduction: 'sum' }), [lse0 - 3 + lse1 + 1], {
    atol: 1e-6,
    rtol: 1e-14,
  });
  // (B, T, V) logits against (B, T) targets equals the flattened call.
  const x = T.randn([2, 3, 5], new Rng(4));
  const y = T.randint(0, 5, [2, 3], new Rng(5));
  assertClose(
    '3-D logits',
    T.crossEntropy(x, y),
    T.crossEntropy(T.reshape(x, [6, 5]), T.reshape(y, [6])).toArray(),
    { atol: 1e-6, rtol: 1e-5 },
  );
  // The fused kernel equals the composed -mean(gather(logSoftmax)).
  const composed = T.neg(T.mean(T.gather(T.logSoftmax(T.reshape(x, [6, 5])), 1, T.reshape(y, [6, 1]))));
  assertClose('fused vs composed', T.crossEntropy(x, y), composed.toArray(), { atol: 1e-6, rtol: 1e-5 });
});

test('layerNorm and rmsNorm: values', () => {
  const x = f64([1, 2, 3, 4]);
  const rstd = 1 / Math.sqrt(1.25 + 1e-5);
  assertClose('layerNorm', T.layerNorm(x, null, null), [-1.5 * rstd, -0.5 * rstd, 0.5 * rstd, 1.5 * rstd], {
    atol: 1e-6,
    rtol: 1e-14,
  });
  const w = f64([1, 2, 3, 4]);
  const b = f64([0, 1, 0, 1]);
  assertClose('layerNorm affine', T.layerNorm(x, w, b), [-1.5 * rstd, -rstd + 1, 1.5 * rstd, 6 * rstd + 1], {
    atol: 1e-6,
    rtol: 1e-14,
  });
  const rms = 1 / Math.sqrt(30 / 4 + 1e-6);
  assertClose('rmsNorm', T.rmsNorm(x, w), [rms, 4 * rms, 9 * rms, 16 * rms], { atol: 1e-12, rtol: 1e-12 });
  // Fused vs composed over a (2, 3, 8) batch.
  const y = T.randn([2, 3, 8], new Rng(6), { dtype: 'float64' });
  const composed = T.div(
    T.sub(y, T.mean(y, { axis: -1, keepDims: true })),
    T.sqrt(T.add(T.variance(y, { axis: -1, keepDims: true, correction: 0 }), 1e-5)),
  );
  assertClose('layerNorm fused vs composed', T.layerNorm(y, null, null), composed.toArray(), {
    rtol: 1e-12,
    atol: 1e-12,
  });
});

test('embedding gathers rows for ids of any shape', () => {
  const w = T.tensor([0, 1, 10, 11, 20, 21], [3, 2]);
  const out = T.embedding(w, i32([2, 0, 2, 1], [2, 2]));
  assert.deepEqual(out.shape, [2, 2, 2]);
  assert.deepEqual(out.toArray(), [20, 21, 0, 1, 20, 21, 10, 11]);
  assert.deepEqual(T.embedding(w, i32([1], [])).toArray(), [10, 11]);
});

/** softmax(q k^T scale + mask + causal) v, composed from primitive ops (float64). */
function referenceAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  causal: boolean,
  mask: Tensor | null,
  scale?: number,
): Tensor {
  const [, nH, Tq, hs] = q.shape as number[];
  const [, nKV, Tk] = k.shape as number[];
  const group = nH! / nKV!;
  const repeat = (t: Tensor): Tensor =>
    T.concat(
      Array.from({ length: nH! }, (_, h) => T.narrow(t, 1, Math.floor(h / group), 1)),
      1,
    );
  let scores = T.mul(T.matmul(q, T.transpose(repeat(k))), scale ?? 1 / Math.sqrt(hs!)); // (B, nH, Tq, Tk)
  if (mask !== null) scores = T.add(scores, mask);
  if (causal) {
    const allowed = T.tril(T.ones([Tq!, Tk!], 'float64'), Tk! - Tq!);
    scores = T.where(allowed, scores, -Infinity);
  }
  return T.matmul(T.softmax(scores), repeat(v));
}

test('attention equals the composed reference (causal, GQA, cross, KV offset, mask)', () => {
  const rng = new Rng(8);
  const r = (shape: number[]): Tensor => T.randn(shape, rng, { dtype: 'float64' });
  const cases: Array<[string, number[], number[], boolean, Tensor | null, number?]> = [
    ['plain', [2, 2, 4, 3], [2, 2, 4, 3], false, null],
    ['causal', [2, 2, 5, 4], [2, 2, 5, 4], true, null],
    ['GQA causal', [1, 6, 3, 2], [1, 2, 3, 2], true, null],
    ['cross', [1, 2, 2, 3], [1, 2, 6, 3], false, null, 0.3],
    ['KV-cache offset', [2, 4, 1, 3], [2, 1, 7, 3], true, null],
    ['mask (Tq, Tk)', [1, 2, 3, 2], [1, 2, 4, 2], false, r([3, 4])],
    ['mask (B, 1, Tq, Tk) + causal', [2, 2, 3, 2], [2, 2, 3, 2], true, r([2, 1, 3, 3])],
  ];
  for (const [name, qs, ks, causal, mask, scale] of cases) {
    const [q, k, v] = [r(qs), r(ks), r(ks)];
    const options = { causal, ...(mask === null ? {} : { mask }), ...(scale === undefined ? {} : { scale }) };
    const got = T.scaledDotProductAttention(q, k, v, options);
    assertClose(`attention ${name}`, got, referenceAttention(q, k, v, causal, mask, scale).toArray(), {
      rtol: 1e-12,
      atol: 1e-12,
    });
  }
});

test('attention: rows with every key masked give 0, not NaN, in value and gradient', () => {
  const q = T.randn([1, 1, 2, 2], new Rng(1));
  const k = T.randn([1, 1, 3, 2], new Rng(2));
  const v = T.randn([1, 1, 3, 2], new Rng(3));
  q.requiresGrad = k.requiresGrad = v.requiresGrad = true;
  const mask = T.tensor([-Infinity, -Infinity, -Infinity, 0, -Infinity, 0], [2, 3]);
  const out = T.scaledDotProductAttention(q, k, v, { mask });
  const values = out.toArray();
  assert.deepEqual(values.slice(0, 2), [0, 0]);
  assert.ok(values.every(Number.isFinite));
  T.backward(T.sum(out));
  for (const t of [q, k, v]) assert.ok(t.grad!.toArray().every(Number.isFinite));
  assert.deepEqual(q.grad!.toArray().slice(0, 2), [0, 0]);
  // A mask of shape (Tk) broadcasts over batch, heads and queries.
  const padded = T.scaledDotProductAttention(q, k, v, { mask: T.tensor([0, -Infinity, 0]) });
  assert.ok(padded.toArray().every(Number.isFinite));
});

test('dropout: identity in eval, inverted scaling and seeded masks in training', () => {
  const x = T.ones([10000]);
  assert.equal(T.dropout(x, 0.5, new Rng(1), false), x);
  assert.equal(T.dropout(x, 0, new Rng(1), true), x);
  const y = T.dropout(x, 0.3, new Rng(1), true).toArray();
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(Math.abs(zeros / 10000 - 0.3) < 0.02, `dropped ${zeros}`);
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6));
  assert.deepEqual(T.dropout(x, 0.3, new Rng(1), true).toArray(), y);
  assert.throws(() => T.dropout(x, 1, new Rng(1), true), { name: 'ConfigError' });
  assert.throws(() => T.dropout(x, -0.1, new Rng(1), true), { name: 'ConfigError' });
});

test('concat, split and stack', () => {
  const a = T.tensor([1, 2, 3, 4], [2, 2]);
  const b = T.tensor([5, 6], [2, 1]);
  assert.deepEqual(T.concat([a, b], 1).toArray(), [1, 2, 5, 3, 4, 6]);
  assert.deepEqual(T.concat([a, T.transpose(a)], 0).toArray(), [1, 2, 3, 4, 1, 3, 2, 4]);
  const parts = T.split(T.arange(7), 3, 0);
  assert.deepEqual(
    parts.map((p) => p.toArray()),
    [[0, 1, 2], [3, 4, 5], [6]],
  );
  assert.equal(parts[1]!.storage, parts[0]!.storage, 'split returns views');
  assert.deepEqual(
    T.split(T.arange(5), [2, 0, 3], 0).map((p) => p.shape[0]),
    [2, 0, 3],
  );
  const s = T.stack([a, a], 2);
  assert.deepEqual(s.shape, [2, 2, 2]);
  assert.deepEqual(s.toArray(), [1, 1, 2, 2, 3, 3, 4, 4]);
  assert.deepEqual(T.concat([i32([1]), i32([2, 3])], 0).toArray(), [1, 2, 3]);
});

test('where, maskedFill, gather, argmax, topk, triu, tril', () => {
  const x = T.tensor([1, 5, 3, 4, 2, 6], [2, 3]);
  assert.deepEqual(T.where(i32([1, 0, 1]), x, -1).toArray(), [1, -1, 3, 4, -1, 6]);
  assert.deepEqual(T.where(T.tensor([0, 2]), 7, T.zeros([2, 2])).toArray(), [0, 7, 0, 7]);
  assert.deepEqual(T.maskedFill(x, i32([0, 1], [2, 1]), -Infinity).toArray(), [
    1,
    5,
    3,
    -Infinity,
    -Infinity,
    -Infinity,
  ]);
  assert.deepEqual(T.gather(x, 1, i32([2, 2, 0, 1], [2, 2])).toArray(), [3, 3, 4, 2]);
  assert.deepEqual(T.gather(x, 0, i32([1, 0, 1], [1, 3])).toArray(), [4, 5, 6]);
  assert.deepEqual(T.argmax(x, 1).toArray(), [1, 2]);
  assert.deepEqual(T.argmax(x, 0, true).shape, [1, 3]);
  assert.deepEqual(T.argmax(T.tensor([2, 7, 7]), 0).toArray(), [1], 'first maximum on ties');
  const { values, indices } = T.topk(x, 2);
  assert.deepEqual(values.toArray(), [5, 3, 6, 4]);
  assert.deepEqual(indices.toArray(), [1, 2, 2, 0]);
  assert.equal(indices.dtype, 'int32');
  const col = T.topk(x, 1, 0);
  assert.deepEqual(col.indices.toArray(), [1, 0, 1]);
  assert.deepEqual(
    T.topk(T.tensor([1, NaN, 3]), 2).indices.toArray(),
    [1, 2],
    'NaN ranks first, as torch.topk',
  );
  const m = T.ones([3, 3]);
  assert.deepEqual(T.triu(m).toArray(), [1, 1, 1, 0, 1, 1, 0, 0, 1]);
  assert.deepEqual(T.tril(m, -1).toArray(), [0, 0, 0, 1, 0, 0, 1, 1, 0]);
  assert.deepEqual(
    T.triu(T.full([2, 2], -Infinity), 1).toArray(),
    [0, -Infinity, 0, 0],
    'no NaN from -inf * 0',
  );
});

test('optimiser kernels: sumOfSquares and AdamW against PyTorch', () => {
  const x = new Float32Array([1e4, 1, 1, 1]);
  assert.equal(T.backend().sumOfSquares(x, 4), 1e8 + 3);
  const param = new Float64Array([1, -2, 3, 0.5]);
  const m = new Float64Array(4);
  const v = new Float64Array(4);
  const grads = [
    [0.3, -1.0, 2.0, 0.0],
    [-0.5, 0.2, 1.0, 4.0],
    [0.1, 0.1, -3.0, 1.0],
  ];
  // torch.optim.AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01), float64, grads * 0.5.
  const expected = [
    [0.8990000066666662, -1.8980000019999999, 2.897000001, 0.4995],
    [0.9274571257128879, -1.8449993956973239, 2.800885038297161, 0.4245868181693544],
    [0.9380905453616004, -1.8100811025933852, 2.806281832968062, 0.3528585437930817],
  ];
  grads.forEach((g, i) => {
    const adam = {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.01,
      step: i + 1,
      gradScale: 0.5,
    };
    T.backend().adamw(param, new Float64Array(g), m, v, 4, adam);
    assertClose(`adamw step ${i + 1}`, param, expected[i]!, { rtol: 1e-14, atol: 1e-15 });
  });
});
