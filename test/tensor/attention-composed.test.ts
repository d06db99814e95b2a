/**
 * The composed attention path against the fused op (output and every gradient, float64,
 * on the JS reference kernel) over the mask kinds — causal with an offset, padding-shaped
 * and full additive masks with fully masked rows, cross-attention (Tq != Tk), grouped-query
 * heads, dropout — its probabilities against softmax computed by hand, and both against
 * finite differences for cross-attention and an additive mask.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  Tensor,
  backward,
  composedAttention,
  mul,
  noGrad,
  randn,
  scaledDotProductAttention,
  scope,
  sum,
  type AttentionOptions,
} from '../../src/index.js';
import { useBackend } from '../../src/backend/index.js';
import { assertClose } from '../util/close.js';
import { gradcheck, leaf } from './gradcheck.js';

useBackend('js');

/** (B, nH, Tq, Tk)-broadcastable float64 constant from a function of its index. */
function constant(shape: readonly number[], fill: (index: number[]) => number): Tensor {
  const t = Tensor.empty(shape, 'float64', false);
  const data = t.values();
  const index = shape.map(() => 0);
  for (let i = 0; i < data.length; i++) {
    data[i] = fill(index);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  return t;
}

/** Keys from `lengths[b]` on (right padding) or before Tk - lengths[b] (left padding) get -Infinity. */
function padding(lengths: readonly number[], Tk: number, side: 'left' | 'right'): Tensor {
  return constant([lengths.length, 1, 1, Tk], ([b, , , j]) => {
    const n = lengths[b!]!;
    const valid = side === 'left' ? j! >= Tk - n : j! < n;
    return valid ? 0 : -Infinity;
  });
}

interface Case {
  readonly name: string;
  readonly shape: readonly [B: number, nH: number, nKV: number, Tq: number, Tk: number, hs: number];
  readonly options: (rng: Rng) => AttentionOptions;
}

const cases: readonly Case[] = [
  { name: 'causal', shape: [2, 2, 2, 5, 5, 4], options: () => ({ causal: true }) },
  {
    name: 'causal, offset into a longer buffer',
    shape: [1, 2, 1, 2, 7, 3],
    options: () => ({ causal: true, causalOffset: 3 }),
  },
  { name: 'bidirectional GQA', shape: [2, 4, 2, 4, 4, 3], options: () => ({}) },
  { name: 'cross-attention Tq != Tk', shape: [2, 2, 2, 3, 6, 4], options: () => ({}) },
  {
    name: 'cross-attention with encoder padding, GQA',
    shape: [2, 4, 1, 3, 6, 4],
    options: () => ({ mask: padding([4, 6], 6, 'right') }),
  },
  {
    name: 'left padding + causal (pad queries fully masked)',
    shape: [2, 2, 2, 5, 5, 4],
    options: () => ({ causal: true, mask: padding([3, 5], 5, 'left') }),
  },
  {
    name: 'full additive mask with a fully masked row',
    shape: [1, 2, 2, 4, 5, 3],
    options: (rng) => {
      const values = randn([1, 2, 4, 5], rng, { dtype: 'float64' }).toArray();
      return {
        mask: constant([1, 2, 4, 5], ([, h, i, j]) =>
          h === 1 && i === 2 ? -Infinity : j === 1 ? -Infinity : values[(h! * 4 + i!) * 5 + j!]!,
        ),
      };
    },
  },
  {
    name: 'dropout 0.3, causal, GQA',
    shape: [2, 4, 2, 6, 6, 3],
    options: () => ({ causal: true, dropout: { p: 0.3, rng: new Rng(9) } }),
  },
];

function run(
  fn: (q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions) => Tensor,
  c: Case,
): { out: number[]; grads: number[][] } {
  const [B, nH, nKV, Tq, Tk, hs] = c.shape;
  const rng = new Rng(42);
  const q = leaf([B, nH, Tq, hs], rng);
  const k = leaf([B, nKV, Tk, hs], rng);
  const v = leaf([B, nKV, Tk, hs], rng);
  const weights = randn([B, nH, Tq, hs], rng, { dtype: 'float64' });
  const options = c.options(new Rng(7));
  const out = scope(() => {
    const y = fn(q, k, v, options);
    backward(sum(mul(y, weights)));
    return y.toArray();
  });
  return { out, grads: [q, k, v].map((t) => t.grad!.toArray()) };
}

test('composed attention equals the fused op: output and dq, dk, dv, over every mask kind', () => {
  for (const c of cases) {
    const fused = run((q, k, v, o) => scaledDotProductAttention(q, k, v, o), c);
    const composed = run((q, k, v, o) => composedAttention(q, k, v, o).output, c);
    const tolerance = { atol: 1e-12, rtol: 1e-10, finite: true };
    assertClose(`${c.name}: out`, composed.out, fused.out, tolerance);
    ['dq', 'dk', 'dv'].forEach((name, i) =>
      assertClose(`${c.name}: ${name}`, composed.grads[i]!, fused.grads[i]!, tolerance),
    );
  }
});

test('composed probabilities equal softmax(q k^T * scale + mask) computed by hand; fully masked rows are 0', () => {
  const [B, nH, nKV, Tq, Tk, hs] = [2, 4, 2, 3, 5, 2];
  const rng = new Rng(3);
  const q = randn([B, nH, Tq, hs], rng, { dtype: 'float64' });
  const k = randn([B, nKV, Tk, hs], rng, { dtype: 'float64' });
  const v = randn([B, nKV, Tk, hs], rng, { dtype: 'float64' });
  const bias = randn([B, 1, Tq, Tk], rng, { dtype: 'float64' }).toArray();
  // Batch 1, query 0 sees nothing; key 4 of batch 0 is padding.
  const maskAt = (b: number, i: number, j: number): number =>
    (b === 1 && i === 0) || (b === 0 && j === 4) ? -Infinity : bias[(b * Tq + i) * Tk + j]!;
  const mask = constant([B, 1, Tq, Tk], ([b, , i, j]) => maskAt(b!, i!, j!));
  const scale = 0.7;
  const { probabilities } = noGrad(() =>
    composedAttention(q, k, v, { mask, scale, causal: true, causalOffset: 2 }),
  );
  assert.deepEqual(probabilities.shape, [B, nH, Tq, Tk]);
  const [qa, ka] = [q.toArray(), k.toArray()];
  const want: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nH; h++) {
      const kv = Math.floor(h / (nH / nKV));
      for (let i = 0; i < Tq; i++) {
        const scores: number[] = [];
        for (let j = 0; j < Tk; j++) {
          let dot = 0;
          for (let d = 0; d < hs; d++)
            dot += qa[((b * nH + h) * Tq + i) * hs + d]! * ka[((b * nKV + kv) * Tk + j) * hs + d]!;
          scores.push(j > i + 2 ? -Infinity : dot * scale + maskAt(b, i, j));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => (max === -Infinity ? 0 : Math.exp(s - max)));
        const total = exps.reduce((a, e) => a + e, 0);
        want.push(...exps.map((e) => (total === 0 ? 0 : e / total)));
      }
    }
  }
  assertClose('probabilities', probabilities, want, { atol: 1e-14, rtol: 1e-12, finite: true });
});

test('cross-attention and additive masks: fused and composed gradients against finite differences (float64)', () => {
  const rng = new Rng(12);
  const [B, nH, nKV, Tq, Tk, hs] = [2, 2, 1, 3, 5, 3];
  const mask = padding([3, 5], Tk, 'right');
  const additive = constant([1, nH, Tq, Tk], ([, h, i, j]) =>
    j === 0 && i === 1 ? -Infinity : 0.3 * (h! - j!),
  );
  for (const [name, options] of [
    ['cross + encoder padding', { mask }],
    ['additive per head', { mask: additive }],
  ] as const) {
    const inputs = [leaf([B, nH, Tq, hs], rng), leaf([B, nKV, Tk, hs], rng), leaf([B, nKV, Tk, hs], rng)];
    gradcheck(`fused ${name}`, ([q, k, v]) => scaledDotProductAttention(q!, k!, v!, options), inputs, {
      rtol: 1e-5,
      atol: 1e-8,
    });
    gradcheck(`composed ${name}`, ([q, k, v]) => composedAttention(q!, k!, v!, options).output, inputs, {
      rtol: 1e-5,
      atol: 1e-8,
    });
  }
});
