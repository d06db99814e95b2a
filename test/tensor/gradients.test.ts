/**
 * Finite-difference gradient checks (float64, central differences) for every
 * differentiable op, including broadcasting, views and the fused kernels.
 */
import { test } from 'node:test';
import * as T from '../../src/index.js';
import { Rng, type Tensor } from '../../src/index.js';
import { gradcheck, leaf } from './gradcheck.js';

const rng = new Rng(2024);
/** Values bounded away from 0 (for log, sqrt, pow, abs and relu kinks). */
const awayFromZero = (v: number): number => (v >= 0 ? v + 0.5 : v - 0.5);
const positive = (v: number): number => Math.abs(v) + 0.5;
const ids = (data: number[], shape: number[]): Tensor => T.keep(T.tensor(data, shape, 'int32'));

function check(name: string, fn: (x: readonly Tensor[]) => Tensor, inputs: Tensor[], rtol?: number): void {
  test(name, () => {
    gradcheck(name, fn, inputs, rtol === undefined ? {} : { rtol });
  });
}

// ---- elementwise, with broadcasting ------------------------------------------------
for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const) {
  check(`${op} broadcast (2,3,4) with (3,1)`, ([a, b]) => T.binary(op, a!, b!), [
    leaf([2, 3, 4], rng),
    leaf([3, 1], rng, awayFromZero),
  ]);
  check(
    `${op} broadcast (4) with (2,1,4) and a scalar`,
    ([a, b]) => T.binary(op, T.binary(op, a!, 1.5), b!),
    [leaf([4], rng, awayFromZero), leaf([2, 1, 4], rng, awayFromZero)],
  );
}
check('pow with tensor exponent', ([a, b]) => T.pow(a!, b!), [leaf([2, 3], rng, positive), leaf([3], rng)]);
check('pow with a number exponent', ([a]) => T.pow(a!, 3), [leaf([5], rng)]);
for (const op of ['neg', 'exp', 'tanh', 'sigmoid', 'gelu', 'geluTanh', 'silu', 'square'] as const) {
  check(`unary ${op}`, ([x]) => T.unary(op, x!), [leaf([3, 4], rng)]);
}
for (const op of ['log', 'sqrt', 'rsqrt'] as const) {
  check(`unary ${op}`, ([x]) => T.unary(op, x!), [leaf([3, 4], rng, positive)]);
}
for (const op of ['relu', 'abs'] as const) {
  check(`unary ${op}`, ([x]) => T.unary(op, x!), [leaf([3, 4], rng, awayFromZero)]);
}
check('unary on a transposed view', ([x]) => T.tanh(T.transpose(x!, 0, 1)), [leaf([3, 4], rng)]);

// ---- matmul ------------------------------------------------------------------------
check('matmul 2-D', ([a, b]) => T.matmul(a!, b!), [leaf([3, 4], rng), leaf([4, 5], rng)]);
check('matmul transposed views (A^T B^T)', ([a, b]) => T.matmul(T.transpose(a!), T.transpose(b!)), [
  leaf([4, 3], rng),
  leaf([5, 4], rng),
]);
check('matmul (B,T,C) @ (C,N) folded', ([a, b]) => T.matmul(a!, b!), [
  leaf([2, 3, 4], rng),
  leaf([4, 5], rng),
]);
check('matmul (B,T,C) @ W^T view', ([a, w]) => T.matmul(a!, T.transpose(w!)), [
  leaf([2, 3, 4], rng),
  leaf([5, 4], rng),
]);
check('matmul batched broadcast (2,1,3,4) @ (3,4,2)', ([a, b]) => T.matmul(a!, b!), [
  leaf([2, 1, 3, 4], rng),
  leaf([3, 4, 2], rng),
]);
check('matmul 2-D @ batched', ([a, b]) => T.matmul(a!, b!), [leaf([3, 4], rng), leaf([2, 4, 5], rng)]);
check('matmul batched with transposed batch view', ([a, b]) => T.matmul(T.transpose(a!, -1, -2), b!), [
  leaf([2, 4, 3], rng),
  leaf([2, 4, 2], rng),
]);
check(
  'matmul of permuted heads (B,nH,T,hs) @ (B,nH,hs,T)',
  ([q, k]) => {
    const qh = T.permute(q!, [0, 2, 1, 3]); // (B, nH, T, hs)
    const kh = T.permute(k!, [0, 2, 3, 1]); // (B, nH, hs, T)
    return T.matmul(qh, kh);
  },
  [leaf([2, 3, 2, 4], rng), leaf([2, 3, 2, 4], rng)],
);

// ---- reductions --------------------------------------------------------------------
check('sum all', ([x]) => T.sum(x!), [leaf([2, 3, 4], rng)]);
check('sum axis 1 keepDims', ([x]) => T.sum(x!, { axis: 1, keepDims: true }), [leaf([2, 3, 4], rng)]);
check('sum non-adjacent axes [0, 2]', ([x]) => T.sum(x!, { axis: [0, 2] }), [leaf([2, 3, 4], rng)]);
check(
  'sum axes [-1, 0] keepDims on a permuted view',
  ([x]) => T.sum(T.permute(x!, [2, 0, 1]), { axis: [-1, 0], keepDims: true }),
  [leaf([2, 3, 4], rng)],
);
check('mean axes [1, 2]', ([x]) => T.mean(x!, { axis: [1, 2] }), [leaf([2, 3, 4], rng)]);
check('variance axis -1 keepDims', ([x]) => T.variance(x!, { axis: -1, keepDims: true }), [
  leaf([3, 5], rng),
]);
check('variance population over [0, 2]', ([x]) => T.variance(x!, { axis: [0, 2], correction: 0 }), [
  leaf([2, 3, 4], rng),
]);
check('max axis 1', ([x]) => T.max(x!, { axis: 1 }), [leaf([2, 5, 3], rng)]);
check(
  'max axis 0 keepDims of a transposed view',
  ([x]) => T.max(T.transpose(x!), { axis: 0, keepDims: true }),
  [leaf([3, 4], rng)],
);

// ---- layout ------------------------------------------------------------------------
check('reshape of a transposed view', ([x]) => T.reshape(T.transpose(x!), [2, 6]), [leaf([3, 4], rng)]);
check('permute then contiguous', ([x]) => T.contiguous(T.permute(x!, [1, 2, 0])), [leaf([2, 3, 4], rng)]);
check('narrow', ([x]) => T.narrow(x!, 1, 1, 2), [leaf([2, 4, 3], rng)]);
check('expand (3,1) -> (2,3,4)', ([x]) => T.mul(T.expand(x!, [2, 3, 4]), 2), [leaf([3, 1], rng)]);
check('squeeze / unsqueeze', ([x]) => T.unsqueeze(T.squeeze(x!, 1), 0), [leaf([3, 1, 2], rng)]);
check(
  'concat axis 1 (three inputs, one a view)',
  ([a, b, c]) => T.concat([a!, T.transpose(b!, 1, 2), c!], 1),
  [leaf([2, 1, 3], rng), leaf([2, 3, 2], rng), leaf([2, 3, 3], rng)],
);
check(
  'split sizes and chunks',
  ([x]) => {
    const [a, b] = T.split(x!, [1, 3], 0);
    const chunks = T.split(x!, 2, 1); // (4,2), (4,1)
    return T.add(T.mul(T.sum(a!), T.sum(b!)), T.mul(T.sum(chunks[0]!), T.sum(chunks[1]!)));
  },
  [leaf([4, 3], rng)],
);
check('stack axis 1', ([a, b]) => T.stack([a!, b!], 1), [leaf([2, 3], rng), leaf([2, 3], rng)]);

// ---- selection ---------------------------------------------------------------------
const condition = T.keep(T.tensor([1, 0, 1, 0, 0, 1], [2, 3], 'int32'));
check('where with broadcasting (cond (2,3), a (2,1,3), b (3))', ([a, b]) => T.where(condition, a!, b!), [
  leaf([2, 1, 3], rng),
  leaf([3], rng),
]);
check(
  'where with a float condition and a number',
  ([a]) => T.where(T.keep(T.tensor([0.5, 0, -1], [3], 'float64')), a!, -2),
  [leaf([2, 3], rng)],
);
check('maskedFill', ([x]) => T.maskedFill(x!, condition, -3), [leaf([4, 2, 3], rng)]);
check('gather axis 1 with repeated indices', ([x]) => T.gather(x!, 1, ids([0, 2, 2, 1, 1, 1], [2, 3])), [
  leaf([2, 4], rng),
]);
check(
  'gather axis 0 on a transposed view',
  ([x]) => T.gather(T.transpose(x!), 0, ids([1, 0, 2, 2], [2, 2])),
  [leaf([2, 3], rng)],
);
check('topk values', ([x]) => T.topk(x!, 2, 0).values, [leaf([5, 3], rng)]);
check('triu / tril', ([x]) => T.add(T.triu(x!, 1), T.mul(T.tril(x!, -1), 3)), [leaf([2, 3, 4], rng)]);

// ---- softmax and losses ------------------------------------------------------------
check('softmax last axis', ([x]) => T.softmax(x!), [leaf([3, 5], rng)]);
check('softmax axis 1 of 3-D', ([x]) => T.softmax(x!, 1), [leaf([2, 4, 3], rng)]);
check('logSoftmax last axis', ([x]) => T.logSoftmax(x!), [leaf([3, 5], rng)]);
check('logSoftmax axis 0', ([x]) => T.logSoftmax(x!, 0), [leaf([4, 3], rng)]);
const targets = ids([2, -100, 0, 4, 1, 3], [2, 3]);
check('crossEntropy mean with ignoreIndex', ([x]) => T.crossEntropy(x!, targets), [leaf([2, 3, 5], rng)]);
check(
  'crossEntropy with labelSmoothing 0.1 and ignoreIndex',
  ([x]) => T.crossEntropy(x!, targets, { labelSmoothing: 0.1 }),
  [leaf([2, 3, 5], rng)],
);
check(
  'crossEntropy sum, custom ignoreIndex',
  ([x]) => T.crossEntropy(x!, ids([1, 3, 0], [3]), { reduction: 'sum', ignoreIndex: 3 }),
  [leaf([3, 4], rng)],
);
check(
  'crossEntropy none',
  ([x]) => T.crossEntropy(x!, ids([1, 3, 0], [3]), { reduction: 'none', labelSmoothing: 0.2 }),
  [leaf([3, 4], rng)],
);

// ---- normalisation and embedding ---------------------------------------------------
check('layerNorm with weight and bias', ([x, w, b]) => T.layerNorm(x!, w!, b!), [
  leaf([2, 3, 5], rng),
  leaf([5], rng),
  leaf([5], rng),
]);
check('layerNorm without weight and bias', ([x]) => T.layerNorm(x!, null, null), [leaf([4, 6], rng)]);
check(
  'layerNorm with weight only, on a transposed view',
  ([x, w]) => T.layerNorm(T.transpose(x!), w!, null, 1e-3),
  [leaf([5, 3], rng), leaf([5], rng)],
);
check('rmsNorm with weight', ([x, w]) => T.rmsNorm(x!, w!), [leaf([2, 3, 5], rng), leaf([5], rng)]);
check('rmsNorm without weight', ([x]) => T.rmsNorm(x!, null, 1e-5), [leaf([4, 6], rng)]);
check('embedding with repeated ids', ([w]) => T.embedding(w!, ids([1, 3, 1, 1, 0, 3], [2, 3])), [
  leaf([5, 4], rng),
]);

// ---- attention ---------------------------------------------------------------------
const attention =
  (options: T.AttentionOptions) =>
  ([q, k, v]: readonly Tensor[]) =>
    T.scaledDotProductAttention(q!, k!, v!, options);
check('attention plain', attention({}), [
  leaf([2, 2, 3, 4], rng),
  leaf([2, 2, 3, 4], rng),
  leaf([2, 2, 3, 4], rng),
]);
check('attention causal', attention({ causal: true }), [
  leaf([1, 2, 4, 3], rng),
  leaf([1, 2, 4, 3], rng),
  leaf([1, 2, 4, 3], rng),
]);
check('attention grouped-query (nH 4, nKV 2) causal', attention({ causal: true }), [
  leaf([2, 4, 3, 2], rng),
  leaf([2, 2, 3, 2], rng),
  leaf([2, 2, 3, 2], rng),
]);
check('attention cross (Tq 2, Tk 5) with scale', attention({ scale: 0.7 }), [
  leaf([1, 2, 2, 3], rng),
  leaf([1, 2, 5, 3], rng),
  leaf([1, 2, 5, 3], rng),
]);
check('attention causal with Tk > Tq (KV-cache offset)', attention({ causal: true }), [
  leaf([1, 2, 2, 3], rng),
  leaf([1, 1, 5, 3], rng),
  leaf([1, 1, 5, 3], rng),
]);
const padMask = T.keep(T.tensor([0, 0, -Infinity, 0, 0, 0, -Infinity, -Infinity], [2, 1, 1, 4], 'float64'));
check('attention with a (B,1,1,Tk) padding mask', attention({ mask: padMask }), [
  leaf([2, 2, 3, 2], rng),
  leaf([2, 2, 4, 2], rng),
  leaf([2, 2, 4, 2], rng),
]);
const biasMask = T.keep(T.randn([3, 3], new Rng(5), { dtype: 'float64' }));
check('attention with an additive (Tq,Tk) mask, causal', attention({ mask: biasMask, causal: true }), [
  leaf([1, 2, 3, 2], rng),
  leaf([1, 2, 3, 2], rng),
  leaf([1, 2, 3, 2], rng),
]);
check('attention fully masked rows (causal Tk < Tq)', attention({ causal: true }), [
  leaf([1, 1, 4, 2], rng),
  leaf([1, 1, 2, 2], rng),
  leaf([1, 1, 2, 2], rng),
]);
check(
  'attention on permuted (B,T,nH,hs) views',
  ([q, k, v]) => {
    const heads = (x: Tensor): Tensor => T.permute(x, [0, 2, 1, 3]);
    return T.scaledDotProductAttention(heads(q!), heads(k!), heads(v!), { causal: true });
  },
  [leaf([1, 3, 2, 2], rng), leaf([1, 3, 2, 2], rng), leaf([1, 3, 2, 2], rng)],
);

// ---- dropout -----------------------------------------------------------------------
check('dropout with a fixed mask (seeded)', ([x]) => T.dropout(x!, 0.4, new Rng(7), true), [
  leaf([4, 5], rng),
]);

// ---- the checker itself can fail ---------------------------------------------------
test('gradcheck reports a wrong gradient (a hidden noGrad dependency)', (t) => {
  const x = leaf([3], rng);
  t.after(() => x.dispose());
  let message = '';
  try {
    gradcheck(
      'hidden',
      ([a]) =>
        T.add(
          a!,
          T.noGrad(() => T.mul(a!, a!)),
        ),
      [x],
    );
  } catch (error) {
    message = (error as Error).message;
  }
  if (!/gradient mismatch at input 0 flat index 0/.test(message) || !/abs diff/.test(message)) {
    throw new Error(`expected a mismatch report, got: ${message || 'no error'}`);
  }
});
