/**
 * GGUF tensor codecs: Q4_K and Q6_K super-blocks built by hand from known scales, mins and
 * quants (packed here by the layout of ggml-common.h, independently of the reader), and
 * bit-exact agreement with llama.cpp's gguf-py (tools/reference/make_gguf_goldens.py) for
 * dequantising Q8_0 / Q4_0 / Q4_K / Q6_K, quantising Q8_0 / Q4_0, and float32 -> fp16.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { dequantize, ggmlType, numberToHalf, quantize, halfToNumber } from '../../src/io/index.js';
import { FormatError } from '../../src/util/errors.js';
import { REPO_ROOT } from '../util/repo-root.js';

interface Golden {
  readonly dequantize: ReadonlyArray<{
    type: 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q6_K';
    bytes: string;
    values: number[];
  }>;
  readonly quantize: ReadonlyArray<{ type: 'Q8_0' | 'Q4_0'; values: number[]; bytes: string }>;
  readonly f16: { values: number[]; bits: number[] };
}

const golden = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test', 'golden', 'gguf-quants.json'), 'utf8'),
) as Golden;
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));

/** The first index where two arrays differ, with both values (for a readable failure). */
function firstDifference(actual: ArrayLike<number>, expected: ArrayLike<number>): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) return `index ${i}: ${actual[i]} vs ${expected[i]}`;
  }
  return null;
}

function half(value: number): [number, number] {
  const bits = numberToHalf(value);
  return [bits & 0xff, bits >> 8];
}

describe('Q4_K and Q6_K from hand-built super-blocks', () => {
  it('Q4_K: x = d * scale_j * q - dmin * min_j, 8 groups of 32 with 6-bit scales and mins', () => {
    const d = 0.5;
    const dmin = 0.25;
    // Pairs 4-7 use values >= 16, so their top 2 bits land in the spare bits of bytes 0-7.
    const scales = [1, 2, 3, 63, 17, 40, 5, 33];
    const mins = [0, 7, 63, 1, 50, 2, 31, 16];
    const packed = new Uint8Array(12);
    for (let j = 0; j < 4; j++) {
      packed[j] = scales[j]! | ((scales[j + 4]! >> 4) << 6);
      packed[j + 4] = mins[j]! | ((mins[j + 4]! >> 4) << 6);
      packed[j + 8] = (scales[j + 4]! & 15) | ((mins[j + 4]! & 15) << 4);
    }
    const q = Array.from({ length: 256 }, (_, i) => (i * 7 + 3) % 16);
    const qs = new Uint8Array(128);
    // Each 64 values: 32 in the low nibbles of 32 bytes, then 32 in their high nibbles.
    for (let chunk = 0; chunk < 4; chunk++) {
      for (let l = 0; l < 32; l++) qs[32 * chunk + l] = q[64 * chunk + l]! | (q[64 * chunk + 32 + l]! << 4);
    }
    const block = Uint8Array.from([...half(d), ...half(dmin), ...packed, ...qs]);
    const values = dequantize(ggmlType('Q4_K'), block, 256);
    const expected = q.map((v, i) => {
      const group = Math.floor(i / 32);
      return Math.fround(Math.fround(d * scales[group]!) * v - Math.fround(dmin * mins[group]!));
    });
    assert.equal(firstDifference(values, expected), null);
    assert.equal(values[32 * 5 + 1], 0.5 * 40 * q[161]! - 0.25 * 2); // spot check, exact in binary
  });

  it('Q6_K: x = d * scale * (q - 32), a signed 8-bit scale per 16 values, 4 + 2 bits per quant', () => {
    const d = 0.125;
    const scales = Int8Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? i + 1 : -(i + 3)));
    const q = Array.from({ length: 256 }, (_, i) => (i * 37 + 11) % 64);
    const ql = new Uint8Array(128);
    const qh = new Uint8Array(64);
    // Each half of 128: ql[l] holds values l and l + 64 (low, high nibble), ql[l + 32] values
    // l + 32 and l + 96; qh[l] their top two bits, 2 bits each.
    for (let half128 = 0; half128 < 2; half128++) {
      const base = 128 * half128;
      for (let l = 0; l < 32; l++) {
        const [a, b, c, e] = [q[base + l]!, q[base + l + 32]!, q[base + l + 64]!, q[base + l + 96]!];
        ql[64 * half128 + l] = (a & 15) | ((c & 15) << 4);
        ql[64 * half128 + l + 32] = (b & 15) | ((e & 15) << 4);
        qh[32 * half128 + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
    const block = Uint8Array.from([...ql, ...qh, ...new Uint8Array(scales.buffer), ...half(d)]);
    const values = dequantize(ggmlType('Q6_K'), block, 256);
    const expected = q.map((v, i) => Math.fround(Math.fround(d * scales[Math.floor(i / 16)]!) * (v - 32)));
    assert.equal(firstDifference(values, expected), null);
    assert.equal(values[16], 0.125 * -4 * (q[16]! - 32));
  });

  it('the byte length must match the type and element count', () => {
    assert.throws(() => dequantize(ggmlType('Q6_K'), new Uint8Array(209), 256), FormatError);
    assert.throws(() => dequantize(ggmlType('Q8_0'), new Uint8Array(34), 31), FormatError);
    assert.throws(
      () => dequantize(ggmlType('Q5_K'), new Uint8Array(176), 256),
      (e: unknown) => e instanceof FormatError && /tensor type is not supported/.test(e.message),
    );
  });
});

describe("bit for bit as llama.cpp's gguf-py", () => {
  for (const c of golden.dequantize) {
    it(`dequantize ${c.type} (${c.values.length} values of random blocks)`, () => {
      const values = dequantize(ggmlType(c.type), hex(c.bytes), c.values.length);
      assert.equal(firstDifference(values, Float32Array.from(c.values)), null);
    });
  }
  for (const c of golden.quantize) {
    it(`quantize ${c.type} (random, all-zero, exact-tie and mixed-magnitude blocks)`, () => {
      const bytes = quantize(c.type, Float32Array.from(c.values));
      assert.equal(Buffer.from(bytes).toString('hex'), c.bytes);
    });
  }
  it('float32 -> fp16 rounds to nearest even (overflow at 65520, subnormals, ties)', () => {
    const bits = golden.f16.values.map(numberToHalf);
    assert.equal(firstDifference(bits, golden.f16.bits), null);
    for (const b of golden.f16.bits) {
      if ((b & 0x7c00) !== 0x7c00) assert.equal(numberToHalf(halfToNumber(b)), b, `half ${b} round trip`);
    }
  });
});

describe('quantize input checks', () => {
  it('needs whole 32-value blocks and finite values', () => {
    assert.throws(() => quantize('Q8_0', new Float32Array(33)), FormatError);
    assert.throws(
      () => quantize('Q4_0', Float32Array.of(...new Array(31).fill(0), NaN)),
      (e: unknown) => e instanceof FormatError && /element 31/.test(e.message),
    );
  });
});
