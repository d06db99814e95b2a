/**
 * The quantized matrix product (manifest kernel `quantMatmul`) on every backend and ISA
 * against the JS reference (src/backend/js/quant.ts):
 * - exact integer sums: weights and activations whose scales are powers of two make every
 *   block term sumi * dW * dX exact in float32, so every backend must equal the reference
 *   bit for bit (a wrong integer anywhere shows);
 * - random data: equal to float rounding of the accumulation, |y - ref| <= 1e-6 * S with
 *   S = sum over k of |W[n, k] x[k]| (the float terms differ only in summation order);
 * - the native wrapper's checks (short or wrongly typed weight bytes, k not whole blocks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, randn } from '../../src/index.js';
import { jsBackend } from '../../src/backend/index.js';
import { dequantize, ggmlType, quantize } from '../../src/io/index.js';
import type { QuantOp } from '../../src/tensor/backend.js';
import { numberToHalf } from '../../src/util/half.js';
import { BackendError } from '../../src/util/errors.js';
import { assertBitEqual } from '../util/close.js';
import { backendsUnderTest } from './backends.js';

const rng = new Rng(18);
const rand = (n: number): Float32Array => randn([n], rng).values() as Float32Array;
const ggml = { q8_0: 'Q8_0', q4_0: 'Q4_0' } as const;
const types: QuantOp[] = ['q8_0', 'q4_0'];

// (m, n, k): one block, GEMV tails (n not a multiple of the 4-row group), the decode shape of
// stories15M's projections, a prefill GEMM split across threads
const shapes: [number, number, number][] = [
  [1, 1, 32],
  [1, 7, 64],
  [3, 13, 96],
  [1, 301, 288],
  [17, 66, 256],
  [40, 96, 768],
];

/**
 * Weight blocks with scale 2^-e (e in 0..2) and quants in [-31, 31] (Q4_0: any nibble), and
 * activations whose every block holds +-127 * 2^-f (f in 0..2) and integers in [-15, 15]
 * times 2^-f: every scale is exact in fp16, every quantization exact, and every partial sum
 * a multiple of 2^-4 below 2^19 (24 blocks of at most 31 * (127 + 31 * 15)), so exact in float32.
 */
function exactCase(type: QuantOp, n: number, k: number, m: number): { w: Uint8Array; x: Float32Array } {
  const bytes = type === 'q8_0' ? 34 : 18;
  const w = new Uint8Array((n * k * bytes) / 32);
  for (let b = 0; b < w.length / bytes; b++) {
    const at = b * bytes;
    const h = numberToHalf(2 ** -Math.floor(rng.uniform() * 3));
    w[at] = h & 0xff;
    w[at + 1] = h >> 8;
    for (let j = 2; j < bytes; j++) {
      w[at + j] =
        type === 'q4_0' ? Math.floor(rng.uniform() * 256) : Math.floor(rng.uniform() * 63 - 31) & 0xff;
    }
  }
  const x = new Float32Array(m * k);
  for (let b = 0; b < (m * k) / 32; b++) {
    const scale = 2 ** -Math.floor(rng.uniform() * 3);
    for (let j = 0; j < 32; j++) x[32 * b + j] = Math.round(rng.uniform() * 30 - 15) * scale;
    x[32 * b + Math.floor(rng.uniform() * 32)] = (rng.uniform() < 0.5 ? -127 : 127) * scale;
  }
  return { w, x };
}

for (const entry of backendsUnderTest()) {
  test(`${entry.label}: quantMatmul equals the reference bit for bit when every term is exact`, () => {
    entry.select();
    for (const type of types) {
      for (const [m, n, k] of shapes) {
        const { w, x } = exactCase(type, n, k, m);
        const y = new Float32Array(m * n);
        const before = entry.calls();
        entry.backend.quantMatmul(type, w, x, y, m, n, k);
        if (before !== null)
          assert.ok(entry.calls()! > before, `${entry.label}: native quantMatmul did not run`);
        const ref = new Float32Array(m * n);
        jsBackend.quantMatmul(type, w, x, ref, m, n, k);
        assertBitEqual(`${entry.label} ${type} exact m${m} n${n} k${k}`, y, ref);
      }
    }
  });

  test(`${entry.label}: quantMatmul on random data, to float rounding of the reference, on 1 and 2 threads`, () => {
    entry.select();
    for (const threads of [1, 2]) {
      entry.backend.setThreads(threads);
      for (const type of types) {
        for (const [m, n, k] of shapes) {
          const weights = rand(n * k);
          const w = quantize(ggml[type], weights);
          const deq = dequantize(ggmlType(ggml[type]), w, n * k);
          const x = rand(m * k);
          const y = new Float32Array(m * n);
          entry.backend.quantMatmul(type, w, x, y, m, n, k);
          const ref = new Float32Array(m * n);
          jsBackend.quantMatmul(type, w, x, ref, m, n, k);
          for (let r = 0; r < m; r++) {
            for (let c = 0; c < n; c++) {
              let scale = 0;
              for (let i = 0; i < k; i++) scale += Math.abs(deq[c * k + i]! * x[r * k + i]!);
              const at = r * n + c;
              const err = Math.abs(y[at]! - ref[at]!);
              assert.ok(
                err <= 1e-6 * scale + 1e-30,
                `${entry.label} ${type} m${m} n${n} k${k} threads ${threads}: y[${at}] = ${y[at]}, reference ${ref[at]} (|diff| ${err}, bound ${1e-6 * scale})`,
              );
            }
          }
        }
      }
    }
    entry.backend.setThreads(1);
  });
}

test('the reference is close to the float product of the dequantized weights (activation quantization error only)', () => {
  const [m, n, k] = [2, 16, 256];
  const x = rand(m * k);
  for (const type of types) {
    const w = quantize(ggml[type], rand(n * k));
    const deq = dequantize(ggmlType(ggml[type]), w, n * k);
    const y = new Float32Array(m * n);
    jsBackend.quantMatmul(type, w, x, y, m, n, k);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < n; c++) {
        let exact = 0;
        let scale = 0;
        for (let i = 0; i < k; i++) {
          exact += deq[c * k + i]! * x[r * k + i]!;
          scale += Math.abs(deq[c * k + i]!) * Math.abs(x[r * k + i]!);
        }
        // Q8_0 activations: each value off by at most d/2 = amax/254 of its block.
        assert.ok(Math.abs(y[r * n + c]! - exact) <= scale / 50, `${type}: ${y[r * n + c]} vs ${exact}`);
      }
    }
  }
});

const native = backendsUnderTest().find((entry) => entry.label.startsWith('native'));
test(
  'native quantMatmul rejects short or wrongly typed weights and k not whole blocks',
  { skip: native === undefined },
  () => {
    native!.select();
    const w = new Uint8Array(34 * 2);
    const x = new Float32Array(64);
    const y = new Float32Array(1);
    const rejects = (what: string, call: () => void, message: string): void =>
      assert.throws(
        call,
        (error: unknown) =>
          error instanceof BackendError &&
          error.where === 'native.quantMatmul' &&
          error.message.includes(message),
        what,
      );
    assert.doesNotThrow(() => native!.backend.quantMatmul('q8_0', w, x, y, 1, 1, 64));
    rejects(
      'short w',
      () => native!.backend.quantMatmul('q8_0', w.subarray(1), x, y, 1, 1, 64),
      'w of at least 68',
    );
    rejects(
      'float weights',
      () =>
        native!.backend.quantMatmul('q8_0', new Float32Array(68) as unknown as Uint8Array, x, y, 1, 1, 64),
      'w: a Uint8Array',
    );
    rejects(
      'k of 48',
      () => native!.backend.quantMatmul('q4_0', w, x, y, 1, 1, 48),
      'whole number of 32-value blocks',
    );
  },
);
