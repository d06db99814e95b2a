/** nn layers: Module bookkeeping, Linear layouts, RoPE (formula and gradient), positions, KV cache errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  ShapeError,
  backward,
  matmul,
  mul,
  noGrad,
  randn,
  scope,
  sum,
  transpose,
  contiguous,
  narrow,
  type Tensor,
} from '../../src/index.js';
import { KVCache, Linear, Module, ModuleList, RotaryEmbedding, sinusoidalTable } from '../../src/nn/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';
import { gradcheck, leaf } from '../tensor/gradcheck.js';

class Pair extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(rng: Rng) {
    super();
    this.a = this.addChild('a', new Linear(3, 4, { bias: true, std: 1, rng }));
    this.b = this.addChild('b', new Linear(4, 2, { bias: false, layout: 'inOut', std: 1, rng }));
  }
}

test('Module: dotted paths, tied tensors listed once, train/eval reach every child, parameters survive scopes', () => {
  const rng = new Rng(1);
  const list = scope(() => new ModuleList([new Pair(rng), new Pair(rng)]));
  assert.deepEqual(
    list.namedParameters().map(([path, t]) => `${path} (${t.shape.join(',')})`),
    [
      '0.a.weight (4,3)',
      '0.a.bias (4)',
      '0.b.weight (4,2)',
      '1.a.weight (4,3)',
      '1.a.bias (4)',
      '1.b.weight (4,2)',
    ],
  );
  assert.ok(list.parameters().every((p) => p.requiresGrad && !p.disposed));
  list.eval();
  assert.ok(!list.items[1]!.b.training);
  list.train();
  assert.ok(list.items[0]!.a.training);
  class Tied extends Module {
    constructor(shared: Tensor) {
      super();
      this.addParameter('first', shared);
      this.addParameter('second', shared);
    }
  }
  const tied = new Tied(list.items[0]!.a.weight);
  assert.deepEqual(
    tied.namedParameters().map(([p]) => p),
    ['first'],
  );
  assert.equal(list.parameterCount(), 2 * (12 + 4 + 8));
});

test('Linear: (out, in) and Conv1D (in, out) layouts compute the same map', () => {
  const rng = new Rng(2);
  const linear = new Linear(5, 3, { bias: true, std: 1, rng });
  const conv = new Linear(5, 3, { bias: true, layout: 'inOut', std: 1, rng });
  noGrad(() => {
    conv.loadStateDict({ weight: contiguous(transpose(linear.weight)), bias: linear.bias! });
    const x = randn([2, 4, 5], rng);
    // Both sides are lmforge computations: matching NaNs would be a shared bug, not agreement.
    assertClose('same output', conv.forward(x), linear.forward(x), { atol: 1e-6, rtol: 1e-6, finite: true });
    assertClose('x W^T', linear.forward(x), matmul(x, contiguous(transpose(linear.weight))), {
      atol: 1e-6,
      rtol: 0,
      finite: true,
    });
  });
});

/** HF's formula, element by element in float64: x * cos + rotate_half(x) * sin. */
function ropeReference(x: number[], shape: number[], offset: number, theta: number): number[] {
  const [B, H, T, hs] = shape as [number, number, number, number];
  const half = hs / 2;
  const out = new Array<number>(x.length);
  for (let b = 0; b < B * H; b++) {
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < hs; i++) {
        const base = (b * T + t) * hs;
        const j = i % half;
        const angle = (offset + t) / Math.pow(theta, (2 * j) / hs);
        const rotated = i < half ? -x[base + i + half]! : x[base + i - half]!;
        out[base + i] = x[base + i]! * Math.cos(angle) + rotated * Math.sin(angle);
      }
    }
  }
  return out;
}

test('RoPE matches the HF rotate_half formula, with a position offset', () => {
  const rope = new RotaryEmbedding(8, 32, 10000);
  const x = randn([2, 3, 5, 8], new Rng(3));
  for (const offset of [0, 7]) {
    const y = noGrad(() => rope.apply(x, offset));
    const expected = ropeReference(x.toArray(), [...x.shape], offset, 10000);
    assertClose(`RoPE offset ${offset}`, y, expected, { atol: 1e-5, rtol: 0 });
  }
  assert.throws(() => rope.apply(x, 28), ShapeError);
});

test('RoPE backward passes a finite-difference check (float64)', () => {
  const rope = new RotaryEmbedding(6, 16, 500, 'float64');
  gradcheck('rope', ([x]) => rope.apply(x!, 3), [leaf([2, 2, 4, 6], new Rng(4))]);
  // and through a permuted (non-contiguous) view, as attention feeds it
  gradcheck('rope on a view', ([x]) => rope.apply(transpose(x!, 1, 2), 0), [leaf([1, 4, 2, 6], new Rng(5))]);
});

test('sinusoidal table follows Vaswani et al.', () => {
  const table = sinusoidalTable(10, 6).toArray();
  assert.ok(Math.abs(table[3 * 6 + 2]! - Math.sin(3 / Math.pow(10000, 2 / 6))) < 1e-7);
  assert.ok(Math.abs(table[3 * 6 + 3]! - Math.cos(3 / Math.pow(10000, 2 / 6))) < 1e-7);
});

test('KVCache rejects overflow and wrong shapes', () => {
  const cache = new KVCache({ nLayer: 1, batch: 1, nKvHead: 2, maxT: 4, headSize: 3 });
  const k = randn([1, 2, 3, 3], new Rng(6));
  cache.append(0, k, k);
  const keys = narrow(cache.buffers(0).keys, 2, 0, 3);
  assert.deepEqual([...keys.shape], [1, 2, 3, 3]);
  assertBitEqual('stored keys', contiguous(keys), k);
  cache.advance(3);
  assert.throws(
    () => cache.append(0, k, k),
    (e: unknown) => e instanceof ShapeError && /full/.test(e.message),
  );
  assert.throws(() => cache.append(0, randn([1, 1, 1, 3], new Rng(7)), k), ShapeError);
  cache.dispose();
});

test('gradients flow through Linear into both layouts', () => {
  const rng = new Rng(8);
  const conv = new Linear(4, 3, { bias: true, layout: 'inOut', std: 1, rng });
  scope(() => {
    const x = randn([2, 4], rng);
    backward(sum(mul(conv.forward(x), conv.forward(x))));
  });
  assert.deepEqual([...conv.weight.grad!.shape], [4, 3]);
  assert.deepEqual([...conv.bias!.grad!.shape], [3]);
});
