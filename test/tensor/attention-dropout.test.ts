/**
 * Attention dropout inside the fused kernel, checked against the composed definition
 * dropout(softmax(q k^T * scale + causal mask)) @ v built from separate ops with the mask
 * materialised by attentionDropoutFactors (forward and all three gradients), and the mask
 * itself checked for its rate, independence and determinism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/index.js';
import { Rng, type Tensor } from '../../src/index.js';
import { availableBackends, useBackend, currentBackend } from '../../src/backend/index.js';
import { assertClose } from '../util/close.js';
import { gradcheck, leaf } from './gradcheck.js';

const dims = (x: Tensor): [number, number, number, number] => x.shape as [number, number, number, number];

/** The same seed the op draws from `new Rng(rngSeed)`: its first nextUint32(). */
const firstWord = (rngSeed: number): number => new Rng(rngSeed).nextUint32();

/** dropout(softmax(q k^T * scale + causal)) @ v from separate ops; k, v repeated over query groups. */
function composed(q: Tensor, k: Tensor, v: Tensor, p: number, seed: number): Tensor {
  const [B, nH, Tq, hs] = dims(q);
  const [, nKV, Tk] = dims(k);
  const group = nH / nKV;
  const repeat = (x: Tensor): Tensor =>
    T.reshape(T.expand(T.unsqueeze(x, 2), [B, nKV, group, Tk, hs]), [B, nH, Tk, hs]);
  const causal = new Float64Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = i + Tk - Tq + 1; j < Tk; j++) causal[i * Tk + j] = -Infinity;
  const scores = T.add(
    T.mul(T.matmul(q, T.transpose(repeat(k), 2, 3)), 1 / Math.sqrt(hs)),
    T.tensor(causal, [Tq, Tk], q.dtype),
  ); // (B, nH, Tq, Tk)
  const factors = T.tensor(T.attentionDropoutFactors(seed, p, [B, nH, Tq, Tk]), [B, nH, Tq, Tk], q.dtype);
  return T.matmul(T.mul(T.softmax(scores, -1), factors), repeat(v)); // (B, nH, Tq, hs)
}

for (const name of availableBackends()) {
  test(`${name}: fused attention with dropout equals the composed definition, forward and backward`, () => {
    const previous = currentBackend().name;
    useBackend(name);
    try {
      // float64 runs the JS kernel; float32 the backend's own (native: the C kernel)
      for (const dtype of ['float64', 'float32'] as const) {
        for (const [B, nH, nKV, Tq, Tk, hs, p] of [
          [2, 4, 2, 9, 9, 8, 0.3],
          [1, 2, 1, 70, 70, 16, 0.5],
          [1, 3, 3, 5, 12, 32, 0.1],
        ] as const) {
          T.scope(() => {
            const rng = new Rng(B * 100 + Tq);
            const make = (shape: number[]): Tensor => {
              const t = T.randn(shape, rng, { dtype });
              t.requiresGrad = true;
              return t;
            };
            const q = make([B, nH, Tq, hs]);
            const k = make([B, nKV, Tk, hs]);
            const v = make([B, nKV, Tk, hs]);
            const weights = T.randn([B, nH, Tq, hs], rng, { dtype });
            const gradsOf = (out: Tensor): number[][] => {
              q.grad = k.grad = v.grad = null;
              T.backward(T.sum(T.mul(out, weights)));
              return [q.grad!.toArray(), k.grad!.toArray(), v.grad!.toArray()];
            };
            const fused = T.scaledDotProductAttention(q, k, v, {
              causal: true,
              dropout: { p, rng: new Rng(99) },
            });
            const want = composed(q, k, v, p, firstWord(99));
            // float64: the two orders of summation agree to rounding. float32: the fused kernel's
            // online softmax and polynomial exp against three separate float32 ops over <= 70
            // keys: the conformance suite's tolerance for attention outputs (it allows its gradients
            // 1e-4 / 1e-3; these pass at the tighter one).
            const tol = dtype === 'float64' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 2e-5, rtol: 1e-4 };
            const label = `${name} ${dtype} B=${B} nH=${nH} nKV=${nKV} Tq=${Tq} Tk=${Tk} hs=${hs} p=${p}`;
            assertClose(`${label} out`, fused, want.toArray(), tol);
            const got = gradsOf(fused);
            const expected = gradsOf(want);
            for (const [i, which] of ['dq', 'dk', 'dv'].entries()) {
              assertClose(`${label} ${which}`, got[i]!, expected[i]!, tol);
            }
          });
        }
      }
    } finally {
      useBackend(previous);
    }
  });
}

test('attention dropout: finite-difference gradients (the backward regenerates the forward mask)', () => {
  const rng = new Rng(31);
  gradcheck(
    'attention dropout 0.4, causal, GQA',
    ([q, k, v]) =>
      T.scaledDotProductAttention(q!, k!, v!, { causal: true, dropout: { p: 0.4, rng: new Rng(5) } }),
    [leaf([2, 4, 5, 3], rng), leaf([2, 2, 5, 3], rng), leaf([2, 2, 5, 3], rng)],
  );
});

test('attention dropout mask: rate p, independent neighbours, seed-determined', () => {
  const shape = [4, 8, 128, 256] as const; // 1M probabilities
  for (const p of [0.1, 0.5]) {
    const f = T.attentionDropoutFactors(0xdeadbeef, p, shape);
    const n = f.length;
    let dropped = 0;
    let bothKeys = 0; // (j, j + 1) both dropped
    let bothRows = 0; // (row, row + 1) both dropped at the same key
    const Tk = shape[3];
    for (let i = 0; i < n; i++) {
      const d = f[i] === 0;
      if (d) dropped++;
      if (d && i % Tk !== Tk - 1 && f[i + 1] === 0) bothKeys++;
      if (d && i + Tk < n && f[i + Tk] === 0) bothRows++;
    }
    // 5 standard deviations of a binomial count
    const near = (count: number, trials: number, prob: number, what: string): void => {
      const sd = Math.sqrt(trials * prob * (1 - prob));
      assert.ok(
        Math.abs(count - trials * prob) < 5 * sd,
        `p=${p} ${what}: ${count} of ${trials}, expected ${(trials * prob).toFixed(0)} +- ${(5 * sd).toFixed(0)}`,
      );
    };
    near(dropped, n, p, 'dropped');
    near(bothKeys, n - n / Tk, p * p, 'adjacent keys both dropped');
    near(bothRows, n - Tk, p * p, 'adjacent rows both dropped');
    for (const x of f) assert.ok(x === 0 || x === 1 / (1 - p), `factor ${x}`);
  }
  const a = T.attentionDropoutFactors(1, 0.5, [1, 1, 4, 64]);
  const b = T.attentionDropoutFactors(2, 0.5, [1, 1, 4, 64]);
  assert.deepEqual(a, T.attentionDropoutFactors(1, 0.5, [1, 1, 4, 64]), 'same seed, same mask');
  assert.notDeepEqual(a, b, 'another seed, another mask');
  assert.notDeepEqual(a.subarray(0, 64), a.subarray(64, 128), 'rows differ');
  assert.ok(
    T.attentionDropoutFactors(1, 0, [1, 1, 4, 64]).every((x) => x === 1),
    'p = 0 keeps everything',
  );
});

test('attention dropout: off without the option, errors name a bad rate', () => {
  T.scope(() => {
    const rng = new Rng(3);
    const q = T.randn([1, 2, 6, 4], rng);
    const plain = T.scaledDotProductAttention(q, q, q, { causal: true }).toArray();
    const zero = T.scaledDotProductAttention(q, q, q, { causal: true, dropout: { p: 0, rng } }).toArray();
    assert.deepEqual(zero, plain);
    const dropped = T.scaledDotProductAttention(q, q, q, {
      causal: true,
      dropout: { p: 0.5, rng },
    }).toArray();
    assert.notDeepEqual(dropped, plain);
    for (const p of [1, -0.1, NaN]) {
      assert.throws(
        () => T.scaledDotProductAttention(q, q, q, { dropout: { p, rng } }),
        /dropout probability out of range/,
      );
    }
  });
});
