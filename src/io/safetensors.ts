/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of JSON header, then the raw tensor bytes.
 *
 *   header = { "__metadata__"?: { string: string },
 *              name: { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
 *
 * Offsets are relative to the first byte after the header. Reading validates the file as
 * the reference implementation does (offsets contiguous and covering the data exactly),
 * checking every length before allocating, so a malformed or hostile file gives a
 * FormatError naming the tensor and field, never a crash or a huge allocation. Writing
 * follows the reference byte for byte: compact JSON, header padded with spaces to a
 * multiple of 8, tensors ordered by dtype alignment (widest first) then name, so every
 * tensor starts aligned to its element size.
 *
 * Float32/float64/int32 tensors are views on the file buffer when aligned (zero-copy);
 * F16/BF16 become float32, I64/U8/BOOL become int32 (I64 values outside int32 rejected).
 */
import { readFile } from 'node:fs/promises';
import { Tensor } from '../tensor/index.js';
import type { DType, TypedArray } from '../tensor/index.js';
import { FormatError, type ErrorDetails } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

/** Element types this reader understands (the format defines more: I8, I16, U16, U32, U64, F8_*). */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

const itemBytes: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
};

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

/** The reference implementation's limit; also bounds what a hostile length can make us decode. */
const maxHeaderBytes = 100_000_000;

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsFile {
  /** Tensors by name, in file (data offset) order. */
  readonly tensors: Map<string, Tensor>;
  /** The `__metadata__` string map ({} when absent). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The dtype each tensor had in the file (F16/BF16/I64/... before conversion). */
  readonly dtypes: Map<string, SafetensorsDType>;
}

interface Entry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

function fail(message: string, details: ErrorDetails): never {
  throw new FormatError(message, details);
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(itemBytes, value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Validates one header entry (dtype, shape, data_offsets) against the data length. */
function parseEntry(name: string, raw: unknown, dataBytes: number): Entry {
  const where = `safetensors tensor '${name}'`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail('header entry is not an object', {
      where: where,
      expected: '{ dtype, shape, data_offsets }',
      actual: JSON.stringify(raw),
    });
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDType(dtype)) {
    fail('unsupported dtype', {
      where: `${where}.dtype`,
      expected: Object.keys(itemBytes).join('|'),
      actual: JSON.stringify(dtype),
    });
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail('shape must be a list of non-negative integers', {
      where: `${where}.shape`,
      expected: 'e.g. [2, 3]',
      actual: JSON.stringify(shape),
    });
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail('data_offsets must be [begin, end]', {
      where: `${where}.data_offsets`,
      expected: '[begin, end]',
      actual: JSON.stringify(offsets),
    });
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataBytes) {
    fail('data_offsets out of range', {
      where: `${where}.data_offsets`,
      expected: `0 <= begin <= end <= ${dataBytes}`,
      actual: `[${begin}, ${end}]`,
    });
  }
  // The byte count the shape implies, stopping once it passes the real one. Every dim is a
  // safe integer and JS numbers do not wrap, so a huge shape cannot alias a small size.
  let bytes = itemBytes[dtype];
  for (const d of shape) {
    bytes *= d;
    if (bytes > end - begin) break;
  }
  if (bytes !== end - begin) {
    fail('shape and data_offsets disagree', {
      where: where,
      expected: `${end - begin} bytes (data_offsets [${begin}, ${end}])`,
      actual: `${dtype} shape [${shape.join(', ')}]`,
    });
  }
  return { name, dtype, shape, begin, end };
}

/** Reads the JSON header and checks every entry; nothing is allocated per tensor yet. */
function parseHeader(bytes: Uint8Array): {
  entries: Entry[];
  metadata: Record<string, string>;
  dataStart: number;
} {
  if (bytes.length < 8)
    fail('file is shorter than the 8-byte header length', {
      where: 'safetensors',
      expected: '>= 8 bytes',
      actual: bytes.length,
    });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerBytes = high * 2 ** 32 + low;
  if (headerBytes > bytes.length - 8 || headerBytes > maxHeaderBytes) {
    fail('header length is larger than the file', {
      where: 'safetensors header length',
      expected: `at most ${Math.min(bytes.length - 8, maxHeaderBytes)}`,
      actual: headerBytes,
      hint: 'the file is truncated or not a safetensors file',
    });
  }
  if (headerBytes < 2 || bytes[8] !== 0x7b /* '{' */) {
    fail('header does not start with a JSON object', {
      where: 'safetensors header',
      expected: "'{'",
      actual: `${headerBytes}-byte header`,
    });
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (cause) {
    throw new FormatError('header is not valid UTF-8 JSON', {
      where: 'safetensors header',
      actual: cause instanceof Error ? cause.message : String(cause),
      cause,
    });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('header is not a JSON object', {
      where: 'safetensors header',
      expected: 'an object',
      actual: JSON.stringify(header).slice(0, 80),
    });
  }
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        fail('__metadata__ is not an object', {
          where: 'safetensors __metadata__',
          expected: 'a string-to-string map',
          actual: JSON.stringify(raw),
        });
      }
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          fail('metadata values must be strings', {
            where: `safetensors __metadata__.${key}`,
            expected: 'a string',
            actual: JSON.stringify(value),
          });
        }
        metadata[key] = value;
      }
      continue;
    }
    entries.push(parseEntry(name, raw, dataBytes));
  }
  // As the reference: sorted by offset, each tensor starts where the previous one ended,
  // and the last ends at the end of the file. This rules out overlaps, gaps and trailing bytes.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const entry of entries) {
    if (entry.begin !== expectedBegin) {
      fail(
        entry.begin < expectedBegin ? 'tensor data overlaps the previous tensor' : 'gap before tensor data',
        {
          where: `safetensors tensor '${entry.name}'.data_offsets`,
          expected: `begin ${expectedBegin}`,
          actual: entry.begin,
        },
      );
    }
    expectedBegin = entry.end;
  }
  if (expectedBegin !== dataBytes) {
    fail('tensor data does not cover the file', {
      where: 'safetensors data',
      expected: `${expectedBegin} data bytes`,
      actual: `${dataBytes} (file truncated or has trailing bytes)`,
    });
  }
  return { entries, metadata, dataStart };
}

/** IEEE half-precision bits to a number (exact: every half is a float32). */
function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** The elements of one entry in its in-memory dtype; a view on `bytes` when possible. */
function decode(bytes: Uint8Array, at: number, entry: Entry): TypedArray {
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
      return Float32Array.from({ length: count }, (_, i) => halfToNumber(view.getUint16(2 * i, true)));
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(2 * i, true) << 16;
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
  const { entries, metadata, dataStart } = parseHeader(bytes);
  const tensors = new Map<string, Tensor>();
  const dtypes = new Map<string, SafetensorsDType>();
  for (const entry of entries) {
    const data = decode(bytes, dataStart + entry.begin, entry);
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

/** Reads and parses a safetensors file (tensors are views on the file's buffer where aligned). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  try {
    return parseSafetensors(bytes);
  } catch (error) {
    if (error instanceof FormatError) {
      throw new FormatError(error.message, { where: path, cause: error });
    }
    throw error;
  }
}

/**
 * Writes a safetensors file atomically: the bytes go to a temporary file in the same
 * folder, are flushed to disk, and the file is renamed over `path`, so a crash leaves
 * either the old file or the complete new one, never a torn one.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: TensorCollection,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
