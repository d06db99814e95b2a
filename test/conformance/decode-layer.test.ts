/**
 * The fused decode step (manifest kernel `decodeLayer`, native/decode.c) on every backend and
 * ISA against the JS reference (src/backend/js/decode.ts), over several positions so that
 * the cache the kernel writes is read back by the next step: within float32 rounding (the
 * native kernels it calls sum in vector order; bit equality with the unfused blocks on the
 * same backend is test/models/fused-decode.test.ts); the float32 reference close to the
 * float64 one; and the native wrapper's checks (sizes, position, short weights).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, randn } from '../../src/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { RotaryEmbedding } from '../../src/nn/index.js';
import type { DecodeLayerParams, F } from '../../src/tensor/backend.js';
import { BackendError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';
import { assertThrowsAt } from '../util/throws.js';
import { backendsUnderTest } from './backends.js';

type Shape = {
  C: number;
  nH: number;
  nKV: number;
  hs: number;
  hidden: number;
  maxT: number;
  biases: boolean;
};

// multi-head without biases; grouped-query with q/k/v/o biases and vector tails (hs 6, C 20)
const shapes: Shape[] = [
  { C: 32, nH: 4, nKV: 4, hs: 8, hidden: 48, maxT: 9, biases: false },
  { C: 20, nH: 6, nKV: 2, hs: 6, hidden: 37, maxT: 7, biases: true },
];

function layer(s: Shape, seed: number, dtype: 'float32' | 'float64'): Omit<DecodeLayerParams, 'pos'> {
  const rng = new Rng(seed);
  const rand = (n: number, scale = 0.3): F => {
    const x = randn([n], rng).values() as Float32Array;
    const out = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = x[i]! * scale;
    return out;
  };
  const { C, nH, nKV, hs, hidden } = s;
  const rope = new RotaryEmbedding(hs, s.maxT, 10000, dtype);
  return {
    C,
    nH,
    nKV,
    hs,
    hidden,
    maxT: s.maxT,
    eps: 1e-5,
    scale: 1 / Math.sqrt(hs),
    norm1: rand(C),
    wq: rand(nH * hs * C),
    bq: s.biases ? rand(nH * hs) : null,
    wk: rand(nKV * hs * C),
    bk: s.biases ? rand(nKV * hs) : null,
    wv: rand(nKV * hs * C),
    bv: s.biases ? rand(nKV * hs) : null,
    wo: rand(C * nH * hs),
    bo: s.biases ? rand(C) : null,
    norm2: rand(C),
    wGate: rand(hidden * C),
    wUp: rand(hidden * C),
    wDown: rand(C * hidden),
    cos: rope.cos.values() as F,
    sin: rope.sin.values() as F,
  };
}

/** x after each of maxT steps, and the final caches, from `run`. */
function steps(
  p: Omit<DecodeLayerParams, 'pos'>,
  x0: F,
  run: (x: F, keys: F, values: F, p: DecodeLayerParams) => void,
): { xs: F[]; keys: F; values: F } {
  const n = p.nKV * p.maxT * p.hs;
  const keys = x0 instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
  const values = x0 instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
  const x = x0.slice();
  const xs: F[] = [];
  for (let pos = 0; pos < p.maxT; pos++) {
    for (let i = 0; i < p.C; i++) x[i] = x[i]! + x0[(i + pos) % p.C]!; // a new token's embedding each step
    run(x, keys, values, { ...p, pos });
    xs.push(x.slice());
  }
  return { xs, keys, values };
}

for (const target of backendsUnderTest()) {
  for (const [i, s] of shapes.entries()) {
    test(`decodeLayer equals the JS reference: shape ${i} (${target.label})`, () => {
      target.select();
      const p = layer(s, 40 + i, 'float32');
      const x0 = randn([s.C], new Rng(i)).values() as Float32Array;
      const want = steps(p, x0, jsBackend.decodeLayer);
      const before = target.calls();
      const got = steps(p, x0, (x, k, v, q) => target.backend.decodeLayer(x, k, v, q));
      const close = { atol: 1e-5, rtol: 1e-5, finite: true };
      got.xs.forEach((x, pos) => assertClose(`x after position ${pos}`, x, want.xs[pos]!, close));
      assertClose('keys', got.keys, want.keys, close);
      assertClose('values', got.values, want.values, close);
      if (before !== null) assert.ok(target.calls()! > before, 'the native kernel ran');
    });
  }
}

test('decodeLayer: the float32 reference is float64 within rounding', () => {
  for (const [i, s] of shapes.entries()) {
    const x32 = randn([s.C], new Rng(i)).values() as Float32Array;
    const got = steps(layer(s, 40 + i, 'float32'), x32, jsBackend.decodeLayer);
    const want = steps(layer(s, 40 + i, 'float64'), Float64Array.from(x32), jsBackend.decodeLayer);
    got.xs.forEach((x, pos) =>
      assertClose(`x after position ${pos}`, x, want.xs[pos]!, { atol: 1e-5, rtol: 1e-5 }),
    );
  }
});

test('decodeLayer: the native wrapper rejects sizes, positions and short weights', (t) => {
  const native = backendsUnderTest().find((b) => b.label.startsWith('native'));
  if (native === undefined) return t.skip('no native backend');
  native.select();
  const s = shapes[1]!;
  const p = layer(s, 1, 'float32');
  const x = new Float32Array(s.C);
  const cache = (): Float32Array => new Float32Array(4 * s.maxT * s.hs); // room for nKV 4
  const call = (q: DecodeLayerParams): void => native.backend.decodeLayer(x, cache(), cache(), q);
  const where = 'native.decodeLayer';
  assertThrowsAt(() => call({ ...p, pos: 0, nKV: 4 }), BackendError, where, /sizes out of range/);
  assertThrowsAt(() => call({ ...p, pos: s.maxT }), BackendError, where, /position outside/);
  assertThrowsAt(() => call({ ...p, pos: 0, wUp: new Float32Array(3) }), BackendError, where, /p\.wUp/);
});
