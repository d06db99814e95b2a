/**
 * The recurrent cell kernels (manifest lstmCell*, gruCell*) and the lstm / gru ops
 * (src/tensor/ops/rnn.ts): the kernels on every backend and ISA against the float64 JS
 * reference (shapes with vector tails, rows split over threads); the ops, forward and every
 * input gradient, against the same recurrences composed from tensor ops (matmul, sigmoid,
 * tanh, mul, add per step) on every backend; finite differences in float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  add,
  backward,
  gru,
  lstm,
  matmulTransposed,
  mul,
  narrow,
  noGrad,
  randn,
  reshape,
  scope,
  sigmoid,
  stack,
  sub,
  sum,
  tanh,
  type Tensor,
} from '../../src/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { DTypeError, ShapeError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';
import { assertThrowsAt } from '../util/throws.js';
import { gradcheck, leaf } from '../tensor/gradcheck.js';
import { backendsUnderTest } from './backends.js';

const rng = new Rng(21);
const rand = (n: number, scale = 1): Float32Array =>
  (randn([n], rng).values() as Float32Array).map((v) => v * scale);
const f64 = (x: Float32Array): Float64Array => Float64Array.from(x);

// (B, H): vector tails of 1, 3, 17 and 33 lanes, and 40 x 200 rows (split across threads)
const shapes: Array<[number, number]> = [
  [1, 1],
  [3, 3],
  [2, 17],
  [5, 33],
  [4, 64],
  [40, 200],
];
// float32 sigmoid/tanh (native: polynomial exp) against float64: a few ulp of unit-sized values.
const kernelTolerance = { atol: 2e-6, rtol: 2e-5 };

for (const entry of backendsUnderTest()) {
  test(`${entry.label}: LSTM and GRU cell kernels against the float64 reference`, () => {
    entry.select();
    for (const [B, H] of shapes) {
      const before = entry.calls();
      // LSTM forward: gates in place.
      const pre = rand(B * 4 * H, 2);
      const cPrev = rand(B * H);
      const gates = pre.slice();
      const [c, h] = [new Float32Array(B * H), new Float32Array(B * H)];
      entry.backend.lstmCellForward(gates, cPrev, c, h, B, H);
      const refGates = f64(pre);
      const [refC, refH] = [new Float64Array(B * H), new Float64Array(B * H)];
      jsBackend.lstmCellForward(refGates, f64(cPrev), refC, refH, B, H);
      assertClose(`lstm gates B=${B} H=${H}`, gates, refGates, kernelTolerance);
      assertClose(`lstm c`, c, refC, kernelTolerance);
      assertClose(`lstm h`, h, refH, kernelTolerance);
      // LSTM backward, from the reference's saved values (rounded to float32).
      const [dhOut, dhNext, dcIn] = [rand(B * H), rand(B * H), rand(B * H)];
      const g32 = Float32Array.from(refGates);
      const c32 = Float32Array.from(refC);
      const [dc, dGates] = [dcIn.slice(), new Float32Array(B * 4 * H)];
      entry.backend.lstmCellBackward(g32, cPrev, c32, dhOut, dhNext, dc, dGates, B, H);
      const [refDc, refDGates] = [f64(dcIn), new Float64Array(B * 4 * H)];
      jsBackend.lstmCellBackward(
        f64(g32),
        f64(cPrev),
        f64(c32),
        f64(dhOut),
        f64(dhNext),
        refDc,
        refDGates,
        B,
        H,
      );
      assertClose(`lstm dGates B=${B} H=${H}`, dGates, refDGates, kernelTolerance);
      assertClose(`lstm dc`, dc, refDc, kernelTolerance);
      // GRU forward and backward.
      const [xg, hg, hPrev] = [rand(B * 3 * H, 2), rand(B * 3 * H, 2), rand(B * H)];
      const [gGates, gh] = [new Float32Array(B * 3 * H), new Float32Array(B * H)];
      entry.backend.gruCellForward(xg, hg, hPrev, gGates, gh, B, H);
      const [refGG, refGH] = [new Float64Array(B * 3 * H), new Float64Array(B * H)];
      jsBackend.gruCellForward(f64(xg), f64(hg), f64(hPrev), refGG, refGH, B, H);
      assertClose(`gru gates B=${B} H=${H}`, gGates, refGG, kernelTolerance);
      assertClose(`gru h`, gh, refGH, kernelTolerance);
      const gg32 = Float32Array.from(refGG);
      const [dxg, dhg, dhPrev] = [
        new Float32Array(B * 3 * H),
        new Float32Array(B * 3 * H),
        new Float32Array(B * H),
      ];
      entry.backend.gruCellBackward(gg32, hg, hPrev, dhOut, dhNext, dxg, dhg, dhPrev, B, H);
      const [rdxg, rdhg, rdhPrev] = [
        new Float64Array(B * 3 * H),
        new Float64Array(B * 3 * H),
        new Float64Array(B * H),
      ];
      jsBackend.gruCellBackward(
        f64(gg32),
        f64(hg),
        f64(hPrev),
        f64(dhOut),
        f64(dhNext),
        rdxg,
        rdhg,
        rdhPrev,
        B,
        H,
      );
      assertClose(`gru dxg B=${B} H=${H}`, dxg, rdxg, kernelTolerance);
      assertClose(`gru dhg`, dhg, rdhg, kernelTolerance);
      assertClose(`gru dhPrev`, dhPrev, rdhPrev, kernelTolerance);
      if (before !== null)
        assert.ok(entry.calls()! >= before + 4, `${entry.label}: the native cell kernels did not run`);
    }
  });
}

/** PyTorch's LSTM recurrence from tensor ops, one step at a time. */
function composedLstm(xProj: Tensor, w: Tensor, h0: Tensor, c0: Tensor): Tensor {
  const [T, B, G] = xProj.shape as [number, number, number];
  const H = G / 4;
  let h = h0;
  let c = c0;
  const outputs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const a = add(reshape(narrow(xProj, 0, t, 1), [B, G]), matmulTransposed(h, w)); // (B, 4H)
    const [i, f, g, o] = [0, 1, 2, 3].map((k) => narrow(a, 1, k * H, H));
    c = add(mul(sigmoid(f!), c), mul(sigmoid(i!), tanh(g!)));
    h = mul(sigmoid(o!), tanh(c));
    outputs.push(h);
  }
  return stack(outputs, 0); // (T, B, H)
}

/** PyTorch's GRU recurrence from tensor ops. */
function composedGru(xProj: Tensor, w: Tensor, bias: Tensor, h0: Tensor): Tensor {
  const [T, B, G] = xProj.shape as [number, number, number];
  const H = G / 3;
  let h = h0;
  const outputs: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const x = reshape(narrow(xProj, 0, t, 1), [B, G]);
    const hg = add(matmulTransposed(h, w), bias); // (B, 3H)
    const part = (v: Tensor, k: number): Tensor => narrow(v, 1, k * H, H);
    const r = sigmoid(add(part(x, 0), part(hg, 0)));
    const z = sigmoid(add(part(x, 1), part(hg, 1)));
    const n = tanh(add(part(x, 2), mul(r, part(hg, 2))));
    h = add(mul(sub(1, z), n), mul(z, h));
    outputs.push(h);
  }
  return stack(outputs, 0);
}

/** Output and every input gradient of <fn(inputs), w> for a fixed random w. */
function run(fn: (inputs: readonly Tensor[]) => Tensor, inputs: readonly Tensor[]): Tensor[] {
  for (const x of inputs) x.grad = null;
  return scope(() => {
    const y = fn(inputs);
    const weights = randn(y.shape, new Rng(5));
    backward(sum(mul(y, weights)));
    return [noGrad(() => y), ...inputs.map((x) => x.grad!)];
  });
}

const opShapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [4, 3, 5],
  [7, 2, 17],
];
// Composed float32 ops and the fused path round in different places over T steps.
const opTolerance = { atol: 2e-5, rtol: 2e-4 };

for (const entry of backendsUnderTest()) {
  test(`${entry.label}: lstm and gru ops equal the composed recurrences, forward and every gradient`, () => {
    entry.select();
    for (const [T, B, H] of opShapes) {
      const param = (shape: number[], scale = 0.5): Tensor => {
        const t = randn(shape, rng, { std: scale });
        t.requiresGrad = true;
        return t;
      };
      const lstmInputs = [param([T, B, 4 * H], 1), param([4 * H, H]), param([B, H]), param([B, H])];
      const fused = run(([x, w, h, c]) => lstm(x!, w!, h!, c!).output, lstmInputs);
      const composed = run(([x, w, h, c]) => composedLstm(x!, w!, h!, c!), lstmInputs);
      ['output', 'dxProj', 'dW_hh', 'dh0', 'dc0'].forEach((name, k) =>
        assertClose(`lstm ${name} T=${T} B=${B} H=${H}`, fused[k]!, composed[k]!, opTolerance),
      );
      const gruInputs = [param([T, B, 3 * H], 1), param([3 * H, H]), param([3 * H]), param([B, H])];
      const fusedGru = run(([x, w, b, h]) => gru(x!, w!, b!, h!).output, gruInputs);
      const composedG = run(([x, w, b, h]) => composedGru(x!, w!, b!, h!), gruInputs);
      ['output', 'dxProj', 'dW_hh', 'db_hh', 'dh0'].forEach((name, k) =>
        assertClose(`gru ${name} T=${T} B=${B} H=${H}`, fusedGru[k]!, composedG[k]!, opTolerance),
      );
    }
  });
}

test('lstm and gru: finite differences in float64 for every input', () => {
  const r = new Rng(3);
  const [T, B, H] = [3, 2, 3];
  gradcheck('lstm', ([x, w, h, c]) => lstm(x!, w!, h!, c!).output, [
    leaf([T, B, 4 * H], r),
    leaf([4 * H, H], r),
    leaf([B, H], r),
    leaf([B, H], r),
  ]);
  gradcheck('gru', ([x, w, b, h]) => gru(x!, w!, b!, h!).output, [
    leaf([T, B, 3 * H], r),
    leaf([3 * H, H], r),
    leaf([3 * H], r),
    leaf([B, H], r),
  ]);
});

test('lstm and gru: the last state, and bad shapes and dtypes', () => {
  const [T, B, H] = [4, 2, 3];
  const x = randn([T, B, 4 * H], rng);
  const w = randn([4 * H, H], rng);
  const h0 = randn([B, H], rng);
  const c0 = randn([B, H], rng);
  const result = lstm(x, w, h0, c0);
  assertClose('h is the last output', result.h, narrow(result.output, 0, T - 1, 1).toArray(), {
    atol: 0,
    rtol: 0,
  });
  // Running the second half from the first half's state equals running it whole.
  const first = lstm(narrow(x, 0, 0, 2), w, h0, c0);
  const second = lstm(narrow(x, 0, 2, 2), w, first.h, first.c!);
  assertClose('continued', second.output, narrow(result.output, 0, 2, 2), { atol: 0, rtol: 0 });
  assertThrowsAt(() => lstm(randn([T, B, 3 * H], rng), w, h0, c0), ShapeError, 'lstm');
  assertThrowsAt(() => lstm(x, w, randn([B + 1, H], rng), c0), ShapeError, 'lstm');
  assertThrowsAt(
    () => gru(randn([T, B, 3 * H], rng), randn([3 * H, H], rng), randn([H], rng), h0),
    ShapeError,
    'gru',
  );
  assertThrowsAt(() => lstm(x, w, randn([B, H], rng, { dtype: 'float64' }), c0), DTypeError, 'lstm');
});
