/**
 * ggml tensor types to float32 and back, bit for bit as ggml's reference code
 * (ggml-quants.c: dequantize_row_*, quantize_row_q8_0_ref, quantize_row_q4_0_ref). Block
 * layouts (little-endian, fp16 scales):
 *
 *   Q8_0  34 bytes / 32 values:  d (fp16), qs[32] int8;             x = d * q
 *   Q4_0  18 bytes / 32 values:  d (fp16), qs[16] nibbles;          x[j] = d * ((qs[j] & 15) - 8),
 *                                                                   x[j + 16] = d * ((qs[j] >> 4) - 8)
 *   Q4_K 144 bytes / 256 values: d, dmin (fp16), scales[12] (8 6-bit scale/min pairs), qs[128];
 *                                each 64 values: 32 low nibbles then 32 high nibbles of 32 bytes,
 *                                x = d * scale * q - dmin * min
 *   Q6_K 210 bytes / 256 values: ql[128] low 4 bits, qh[64] high 2 bits, scales[16] int8, d (fp16);
 *                                x = d * scale * (q - 32), a scale per 16 values
 *
 * Arithmetic is float32 as in C: every product and difference is rounded with Math.fround
 * where ggml rounds it.
 */
import { FormatError } from '../util/errors.js';
import { bfloat16ToNumber, halfToNumber, numberToHalf } from './half.js';
import { QK_K, type GgmlType, type GgmlTypeName } from './gguf-types.js';

const f = Math.fround;

/** The tensor types lmforge turns into float32. */
export const dequantizableTypes: readonly GgmlTypeName[] = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_K',
  'Q6_K',
];

/** The tensor types lmforge writes. */
export type GgufWriteType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

/**
 * The `elements` values stored in `bytes` as `type`, as float32 (into `into` when given).
 * `where` names the tensor in errors. The byte length must be the type's size for that
 * many elements (the header parser has checked it for tensors of a file).
 *
 * @example
 * const values = dequantize(ggmlType('Q8_0'), blockBytes, 32); // Float32Array(32)
 */
export function dequantize(
  type: GgmlType,
  bytes: Uint8Array,
  elements: number,
  into: Float32Array = new Float32Array(elements),
  where = 'dequantize',
): Float32Array {
  const blocks = elements / type.blockSize;
  if (!Number.isInteger(blocks) || bytes.length !== blocks * type.typeSize || into.length !== elements) {
    throw new FormatError('tensor bytes do not match its type and size', {
      where,
      expected: `${elements} ${type.name} values in ${blocks * type.typeSize} bytes`,
      actual: `${bytes.length} bytes, ${into.length} outputs`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (type.name) {
    case 'F32':
      for (let i = 0; i < elements; i++) into[i] = view.getFloat32(4 * i, true);
      return into;
    case 'F16':
      for (let i = 0; i < elements; i++) into[i] = halfToNumber(view.getUint16(2 * i, true));
      return into;
    case 'BF16':
      for (let i = 0; i < elements; i++) into[i] = bfloat16ToNumber(view.getUint16(2 * i, true));
      return into;
    case 'Q8_0':
      for (let b = 0; b < blocks; b++) {
        const at = 34 * b;
        const d = halfToNumber(view.getUint16(at, true));
        for (let j = 0; j < 32; j++) into[32 * b + j] = f(view.getInt8(at + 2 + j) * d);
      }
      return into;
    case 'Q4_0':
      for (let b = 0; b < blocks; b++) {
        const at = 18 * b;
        const d = halfToNumber(view.getUint16(at, true));
        for (let j = 0; j < 16; j++) {
          const q = bytes[at + 2 + j]!;
          into[32 * b + j] = f(((q & 0x0f) - 8) * d);
          into[32 * b + j + 16] = f(((q >> 4) - 8) * d);
        }
      }
      return into;
    case 'Q4_K':
      for (let b = 0; b < blocks; b++) dequantizeQ4K(bytes, view, 144 * b, into, QK_K * b);
      return into;
    case 'Q6_K':
      for (let b = 0; b < blocks; b++) dequantizeQ6K(bytes, view, 210 * b, into, QK_K * b);
      return into;
    default:
      throw new FormatError('tensor type is not supported', {
        where,
        expected: dequantizableTypes.join(' | '),
        actual: type.name,
        hint: 'requantize the file to one of these types with llama.cpp (llama-quantize)',
      });
  }
}

/**
 * The j-th (scale, min) pair of a K-quant's 12 scale bytes: pairs 0-3 are the low 6 bits of
 * bytes j and j + 4; pairs 4-7 take 4 bits from byte j + 4 and their top 2 bits from the
 * spare high bits of bytes j - 4 and j (ggml's get_scale_min_k4).
 */
function scaleMin(bytes: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [bytes[at + j]! & 63, bytes[at + j + 4]! & 63];
  const scale = (bytes[at + j + 4]! & 0x0f) | ((bytes[at + j - 4]! >> 6) << 4);
  const min = (bytes[at + j + 4]! >> 4) | ((bytes[at + j]! >> 6) << 4);
  return [scale, min];
}

function dequantizeQ4K(bytes: Uint8Array, view: DataView, at: number, out: Float32Array, o: number): void {
  const d = halfToNumber(view.getUint16(at, true));
  const dmin = halfToNumber(view.getUint16(at + 2, true));
  const scales = at + 4;
  let q = at + 16;
  for (let j = 0, pair = 0; j < QK_K; j += 64, pair += 2, q += 32) {
    const [s1, m1] = scaleMin(bytes, scales, pair);
    const [s2, m2] = scaleMin(bytes, scales, pair + 1);
    const d1 = f(d * s1);
    const min1 = f(dmin * m1);
    const d2 = f(d * s2);
    const min2 = f(dmin * m2);
    for (let l = 0; l < 32; l++) out[o + j + l] = f(f(d1 * (bytes[q + l]! & 0x0f)) - min1);
    for (let l = 0; l < 32; l++) out[o + j + 32 + l] = f(f(d2 * (bytes[q + l]! >> 4)) - min2);
  }
}

function dequantizeQ6K(bytes: Uint8Array, view: DataView, at: number, out: Float32Array, o: number): void {
  const d = halfToNumber(view.getUint16(at + 208, true));
  let ql = at;
  let qh = at + 128;
  let sc = at + 192;
  for (let n = 0; n < QK_K; n += 128, ql += 64, qh += 32, sc += 8) {
    for (let l = 0; l < 32; l++) {
      const is = l >> 4;
      const high = bytes[qh + l]!;
      const q1 = ((bytes[ql + l]! & 0x0f) | ((high & 3) << 4)) - 32;
      const q2 = ((bytes[ql + l + 32]! & 0x0f) | (((high >> 2) & 3) << 4)) - 32;
      const q3 = ((bytes[ql + l]! >> 4) | (((high >> 4) & 3) << 4)) - 32;
      const q4 = ((bytes[ql + l + 32]! >> 4) | (((high >> 6) & 3) << 4)) - 32;
      out[o + n + l] = f(f(d * view.getInt8(sc + is)) * q1);
      out[o + n + l + 32] = f(f(d * view.getInt8(sc + is + 2)) * q2);
      out[o + n + l + 64] = f(f(d * view.getInt8(sc + is + 4)) * q3);
      out[o + n + l + 96] = f(f(d * view.getInt8(sc + is + 6)) * q4);
    }
  }
}

/** C's roundf: halves away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** The largest magnitude of `values[from, from + n)`, and the value that has it (first on ties). */
function extreme(values: Float32Array, from: number, n: number): [number, number] {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = values[from + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return [amax, max];
}

/**
 * Float32 values to `type` (F32, F16, or ggml's round-to-nearest Q8_0 / Q4_0 reference
 * quantizers: scale amax/127, resp. the signed extreme / -8). The length must be a
 * multiple of the block size (32) for the quantized types; values must be finite.
 *
 * @example
 * const bytes = quantize('Q8_0', weights); // weights.length / 32 * 34 bytes
 */
export function quantize(type: GgufWriteType, values: Float32Array, where = 'quantize'): Uint8Array {
  const blockSize = type === 'Q8_0' || type === 'Q4_0' ? 32 : 1;
  if (values.length % blockSize !== 0) {
    throw new FormatError(`${type} needs whole blocks of ${blockSize} values`, {
      where,
      expected: `a multiple of ${blockSize} values`,
      actual: values.length,
    });
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new FormatError('value is not finite', { where: `${where} element ${i}`, actual: values[i] });
    }
  }
  const blocks = values.length / blockSize;
  switch (type) {
    case 'F32': {
      const out = new Uint8Array(4 * values.length);
      const view = new DataView(out.buffer);
      values.forEach((v, i) => view.setFloat32(4 * i, v, true));
      return out;
    }
    case 'F16': {
      const out = new Uint8Array(2 * values.length);
      const view = new DataView(out.buffer);
      values.forEach((v, i) => view.setUint16(2 * i, numberToHalf(v), true));
      return out;
    }
    case 'Q8_0': {
      const out = new Uint8Array(34 * blocks);
      const view = new DataView(out.buffer);
      for (let b = 0; b < blocks; b++) {
        const [amax] = extreme(values, 32 * b, 32);
        const d = f(amax / 127);
        const id = d !== 0 ? f(1 / d) : 0;
        view.setUint16(34 * b, numberToHalf(d), true);
        for (let j = 0; j < 32; j++) {
          const q = roundAway(f(values[32 * b + j]! * id));
          view.setInt8(34 * b + 2 + j, Math.max(-128, Math.min(127, q)));
        }
      }
      return out;
    }
    case 'Q4_0': {
      const out = new Uint8Array(18 * blocks);
      const view = new DataView(out.buffer);
      for (let b = 0; b < blocks; b++) {
        const [, max] = extreme(values, 32 * b, 32);
        const d = f(max / -8);
        const id = d !== 0 ? f(1 / d) : 0;
        view.setUint16(18 * b, numberToHalf(d), true);
        // (int8_t)(x * id + 8.5f) truncates toward zero; 16 (x = -max) is clamped to 15.
        const nibble = (x: number): number => Math.min(15, Math.trunc(f(f(x * id) + 8.5)));
        for (let j = 0; j < 16; j++) {
          const low = nibble(values[32 * b + j]!);
          const high = nibble(values[32 * b + 16 + j]!);
          out[18 * b + 2 + j] = low | (high << 4);
        }
      }
      return out;
    }
  }
}
