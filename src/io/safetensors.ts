/**
 * The safetensors format (https://github.com/huggingface/safetensors) in memory: an 8-byte
 * little-endian header length N, N bytes of JSON header (validated in
 * ./safetensors-header.ts before anything is allocated), then the raw tensor bytes. Files
 * on disk are read in pieces by ./safetensors-file.ts. Writing follows the reference byte
 * for byte: compact JSON, header padded with spaces to a multiple of 8, tensors ordered by
 * dtype alignment (widest first) then name, so every tensor starts aligned to its element
 * size.
 *
 * Float32/float64/int32 tensors are views on the buffer when aligned (zero-copy);
 * F16/BF16 become float32, I64/U8/BOOL become int32 (I64 values outside int32 rejected).
 */
import { Tensor } from '../tensor/index.js';
import type { DType, TypedArray } from '../tensor/index.js';
import { FormatError, type ErrorDetails } from '../util/errors.js';
import { halfToNumber } from '../util/half.js';
import {
  headerLength,
  itemBytes,
  parseHeader,
  type SafetensorsDType,
  type SafetensorsEntry,
} from './safetensors-header.js';

export type { SafetensorsDType } from './safetensors-header.js';

/** The dtype written for each tensor dtype. */
const writtenAs: Readonly<Record<DType, SafetensorsDType>> = { float64: 'F64', float32: 'F32', int32: 'I32' };

/**
 * The reference writer orders tensors by dtype, widest first (its Dtype enum order,
 * descending), so with an 8-aligned header every tensor is aligned to its element size.
 */
const writeRank: Readonly<Record<SafetensorsDType, number>> = {
  I64: 7,
  F64: 6,
  F32: 5,
  I32: 4,
  BF16: 3,
  F16: 2,
  U8: 1,
  BOOL: 0,
};

export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsFile {
  /** Tensors by name, in file (data offset) order. */
  readonly tensors: Map<string, Tensor>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The dtype each tensor had in the file (F16/BF16/I64/... before conversion). */
  readonly dtypes: Map<string, SafetensorsDType>;
}

function fail(message: string, details: ErrorDetails): never {
  throw new FormatError(message, details);
}

let halfTable: Float32Array | null = null;

/** Every one of the 65536 half-precision values as float32 (256 KiB, built on first use). */
function halfToFloatTable(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToNumber(h);
  }
  return halfTable;
}

/** The `count` little-endian 16-bit words at bytes[at]: a view when aligned, else a copy. */
function words16(bytes: Uint8Array, at: number, count: number): Uint16Array {
  const absolute = bytes.byteOffset + at;
  if (hostIsLittleEndian && absolute % 2 === 0) return new Uint16Array(bytes.buffer, absolute, count);
  const out = new Uint16Array(count);
  const view = new DataView(bytes.buffer, absolute, 2 * count);
  for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true);
  return out;
}

/**
 * F16 / BF16 words to float32, exactly (every half and every bfloat16 is a float32), into
 * `out`: a table lookup per half, a shift per bfloat16 (its bits are a float32's top half).
 */
function decode16(words: Uint16Array, dtype: 'F16' | 'BF16', out: Float32Array): void {
  if (dtype === 'F16') {
    const table = halfToFloatTable();
    for (let i = 0; i < words.length; i++) out[i] = table[words[i]!]!;
    return;
  }
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < words.length; i++) bits[i] = words[i]! << 16;
}

/**
 * The elements of one entry in its in-memory dtype (F32/F64/I32 as stored, F16/BF16 to
 * float32, I64/U8/BOOL to int32), from its bytes at `bytes[at]`; a view on `bytes` when
 * the dtype is stored as is and aligned. F16/BF16 go straight into `into` when it is a
 * Float32Array of the element count.
 */
export function decodeEntry(
  bytes: Uint8Array,
  at: number,
  entry: SafetensorsEntry,
  into?: TypedArray,
): TypedArray {
  const count = (entry.end - entry.begin) / itemBytes[entry.dtype];
  const absolute = bytes.byteOffset + at;
  const view = new DataView(bytes.buffer, absolute, entry.end - entry.begin);
  const direct = (size: number): boolean => hostIsLittleEndian && absolute % size === 0;
  switch (entry.dtype) {
    case 'F64':
      if (direct(8)) return new Float64Array(bytes.buffer, absolute, count);
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(8 * i, true));
    case 'F32':
      if (direct(4)) return new Float32Array(bytes.buffer, absolute, count);
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(4 * i, true));
    case 'I32':
      if (direct(4)) return new Int32Array(bytes.buffer, absolute, count);
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(4 * i, true));
    case 'F16':
    case 'BF16': {
      const out = into instanceof Float32Array && into.length === count ? into : new Float32Array(count);
      decode16(words16(bytes, at, count), entry.dtype, out);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const low = view.getInt32(8 * i, true);
        const high = view.getInt32(8 * i + 4, true);
        // The value fits in int32 exactly when the high word is the sign extension of the low one.
        if (high !== low >> 31) {
          fail('int64 value does not fit in int32', {
            where: `safetensors tensor '${entry.name}' element ${i}`,
            expected: `[${-(2 ** 31)}, ${2 ** 31 - 1}]`,
            actual: (BigInt(high) * 2n ** 32n + BigInt(low >>> 0)).toString(),
          });
        }
        out[i] = low;
      }
      return out;
    }
    case 'U8':
      return Int32Array.from(bytes.subarray(at, at + count));
    case 'BOOL': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const b = bytes[at + i]!;
        if (b > 1)
          fail('bool byte is not 0 or 1', {
            where: `safetensors tensor '${entry.name}' element ${i}`,
            expected: '0 or 1',
            actual: b,
          });
        out[i] = b;
      }
      return out;
    }
  }
}

/**
 * Parses a safetensors file held in memory. Float32/float64/int32 tensors whose data is
 * aligned in `bytes` are views on it (no copy): keep `bytes` unmodified while they live.
 *
 * @example
 * const { tensors, metadata } = parseSafetensors(await readFile('model.safetensors'));
 * const wte = tensors.get('wte.weight'); // Tensor (V, C) float32
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  const length = headerLength(bytes, bytes.length);
  const { entries, metadata, dataStart } = parseHeader(
    bytes.subarray(8, 8 + length),
    bytes.length - 8 - length,
  );
  const tensors = new Map<string, Tensor>();
  const dtypes = new Map<string, SafetensorsDType>();
  for (const entry of entries) {
    const data = decodeEntry(bytes, dataStart + entry.begin, entry);
    const tensor = Tensor.fromArray(data, entry.shape);
    tensor.name = entry.name;
    tensors.set(entry.name, tensor);
    dtypes.set(entry.name, entry.dtype);
  }
  return { tensors, metadata, dtypes };
}

export type TensorCollection = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

function entriesOf(tensors: TensorCollection): Array<[string, Tensor]> {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, Tensor>);
}

const arrayType = { float64: Float64Array, float32: Float32Array, int32: Int32Array } as const;

/** The bytes of a tensor's elements, little-endian, in row-major order. */
function tensorBytes(tensor: Tensor): Uint8Array {
  const values = tensor.isContiguous() ? tensor.values() : arrayType[tensor.dtype].from(tensor.toArray());
  if (hostIsLittleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (values instanceof Float64Array) view.setFloat64(8 * i, v, true);
    else if (values instanceof Float32Array) view.setFloat32(4 * i, v, true);
    else view.setInt32(4 * i, v, true);
  });
  return out;
}

/**
 * Serialises tensors (float32 -> F32, float64 -> F64, int32 -> I32) with optional
 * string metadata, laid out as the reference writer does.
 *
 * @example
 * const bytes = serializeSafetensors({ 'wte.weight': wte }, { format: 'pt' });
 */
export function serializeSafetensors(
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const items = entriesOf(tensors).map(([name, tensor]) => ({
    name,
    tensor,
    dtype: writtenAs[tensor.dtype],
  }));
  for (const { name } of items) {
    if (name === '__metadata__')
      fail('a tensor cannot be named __metadata__', {
        where: 'serializeSafetensors',
        expected: 'another name',
        actual: name,
      });
  }
  items.sort(
    (a, b) => writeRank[b.dtype] - writeRank[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  // The JSON is assembled in order by hand: a JS object would move integer-like names first.
  const fields: string[] = [];
  if (metadata !== undefined) {
    const pairs = Object.keys(metadata)
      .sort()
      .map((key) => {
        const value = metadata[key];
        if (typeof value !== 'string') {
          fail('metadata values must be strings', {
            where: `serializeSafetensors metadata.${key}`,
            expected: 'a string',
            actual: typeof value,
          });
        }
        return `${JSON.stringify(key)}:${JSON.stringify(value)}`;
      });
    fields.push(`"__metadata__":{${pairs.join(',')}}`);
  }
  let offset = 0;
  for (const { name, tensor, dtype } of items) {
    const size = tensor.size * itemBytes[dtype];
    const info = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + size] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += size;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  // Spaces pad the header to a multiple of 8 so that the data starts 8-aligned.
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded % 2 ** 32, true);
  view.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const { tensor } of items) {
    const data = tensorBytes(tensor);
    out.set(data, at);
    at += data.length;
  }
  return out;
}
