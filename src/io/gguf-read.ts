/**
 * The GGUF header parser (ggml docs/gguf.md, versions 2 and 3), written for hostile files:
 * the llama.cpp GGUF advisories of 2024 (CVE-2024-21825 and the other Cisco Talos reports
 * on gguf.c: a huge string length or array count driving an allocation, an n_dims or
 * ne[] product that overflows, tensor data that lies past the end of the file or over
 * another tensor) are each a FormatError here, raised before anything is allocated:
 *
 * - the header is read into at most `maxHeaderBytes` (./gguf-types.ts GgufLimits);
 * - every count (tensors, key/value pairs, array elements) is checked against the bytes
 *   left, at the least number of bytes one element takes, so it cannot ask for more
 *   elements than the file could hold;
 * - every string length is checked against the bytes left, and decoded as strict UTF-8;
 * - a tensor has at most 4 dimensions, each a non-negative integer, their product (and the
 *   byte size) a safe integer, rows a multiple of the type's block, a known type id;
 * - offsets are multiples of the alignment (a power of two), tensor data lies inside the
 *   file, and no two tensors overlap.
 *
 * Errors name the byte offset in the file and the key or tensor at fault.
 */
import { FormatError } from '../util/errors.js';
import {
  alignmentKey,
  defaultAlignment,
  ggmlTypes,
  ggufTypeIds,
  ggufTypeOfId,
  ggufValueBytes,
  maxKeyBytes,
  maxTensorDims,
  maxTensorNameBytes,
  type GgufArray,
  type GgufHeader,
  type GgufScalarType,
  type GgufTensorInfo,
  type GgufValue,
} from './gguf-types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const maxSafe = BigInt(Number.MAX_SAFE_INTEGER);

/** The least bytes one key/value pair takes: key length, a 1-byte key, type, a 1-byte value. */
const minKvBytes = 8 + 1 + 4 + 1;
/** The least bytes one tensor info takes: name length, n_dims, type, offset. */
const minTensorInfoBytes = 8 + 4 + 4 + 8;

/** A read position in the header bytes, with the checks every read makes. */
class Cursor {
  at = 0;
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    /** Bytes in the whole file (the header buffer may be a prefix of it). */
    readonly fileBytes: number,
    readonly source: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string, what: string, expected?: unknown, actual?: unknown, at = this.at): never {
    throw new FormatError(message, {
      where: `${this.source} offset ${at}: ${what}`,
      ...(expected === undefined ? {} : { expected }),
      ...(actual === undefined ? {} : { actual }),
    });
  }

  /** Bytes left in the file after the cursor. */
  get left(): number {
    return this.fileBytes - this.at;
  }

  /** Checks that `n` more bytes exist, in the file and in the header buffer. */
  need(n: number, what: string): void {
    if (n <= this.bytes.length - this.at) return;
    if (n > this.left) this.fail('file ends inside the header', what, `${n} more bytes`, `${this.left} left`);
    this.fail(
      'header is larger than the limit',
      what,
      `a header of at most ${this.bytes.length} bytes (GgufLimits.maxHeaderBytes)`,
      `more than ${this.bytes.length}`,
    );
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const value = this.#view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }

  i32(what: string): number {
    this.need(4, what);
    const value = this.#view.getInt32(this.at, true);
    this.at += 4;
    return value;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const value = this.#view.getBigUint64(this.at, true);
    this.at += 8;
    return value;
  }

  /** A uint64 count of items of at least `itemBytes` each: at most what the rest of the file holds. */
  count(what: string, itemBytes: number): number {
    const start = this.at;
    const value = this.u64(what);
    const most = Math.floor(this.left / itemBytes);
    if (value > BigInt(most)) {
      this.fail('count is larger than the file can hold', what, `at most ${most}`, value.toString(), start);
    }
    return Number(value);
  }

  string(what: string, maxBytes = Infinity): string {
    const start = this.at;
    const length = this.u64(`${what} length`);
    if (length > BigInt(this.left)) {
      this.fail(
        'string is longer than the rest of the file',
        what,
        `at most ${this.left} bytes`,
        length.toString(),
        start,
      );
    }
    if (Number(length) > maxBytes) {
      this.fail('string is too long', what, `at most ${maxBytes} bytes`, length.toString(), start);
    }
    const n = Number(length);
    this.need(n, what);
    try {
      return utf8.decode(this.bytes.subarray(this.at, (this.at += n)));
    } catch {
      return this.fail('string is not valid UTF-8', what, undefined, undefined, start);
    }
  }

  /** A copy of the next `n` bytes (a fresh buffer, so typed arrays over it are aligned). */
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    // Uint8Array's slice copies; a Node Buffer's (readFileSync's) would be a view on the
    // whole file, and the typed arrays made from its .buffer would read from byte 0.
    const copy = Uint8Array.prototype.slice.call(this.bytes, this.at, this.at + n);
    this.at += n;
    return copy;
  }

  get view(): DataView {
    return this.#view;
  }
}

function readScalar(c: Cursor, type: GgufScalarType, what: string): GgufValue {
  const v = c.view;
  switch (type) {
    case 'uint8':
      return { type, value: c.u8(what) };
    case 'int8':
      c.need(1, what);
      return { type, value: v.getInt8(c.at++) };
    case 'uint16':
    case 'int16': {
      c.need(2, what);
      const value = type === 'uint16' ? v.getUint16(c.at, true) : v.getInt16(c.at, true);
      c.at += 2;
      return { type, value };
    }
    case 'uint32':
      return { type, value: c.u32(what) };
    case 'int32':
      return { type, value: c.i32(what) };
    case 'float32':
    case 'float64': {
      const size = ggufValueBytes[type];
      c.need(size, what);
      const value = type === 'float32' ? v.getFloat32(c.at, true) : v.getFloat64(c.at, true);
      c.at += size;
      return { type, value };
    }
    case 'bool':
      return { type, value: readBool(c, what) };
    case 'string':
      return { type, value: c.string(what) };
    case 'uint64':
      return { type, value: c.u64(what) };
    case 'int64': {
      c.need(8, what);
      const value = v.getBigInt64(c.at, true);
      c.at += 8;
      return { type, value };
    }
  }
}

/** The spec: a bool is one byte, 0 or 1; anything else marks a broken file. */
function readBool(c: Cursor, what: string): boolean {
  const at = c.at;
  const byte = c.u8(what);
  if (byte > 1) c.fail('bool is not 0 or 1', what, '0 or 1', byte, at);
  return byte === 1;
}

function readArray(c: Cursor, what: string): GgufArray {
  const typeAt = c.at;
  const itemId = c.u32(`${what} element type`);
  if (itemId === ggufTypeIds.array) {
    c.fail(
      'arrays of arrays are not supported (llama.cpp rejects them too)',
      what,
      undefined,
      undefined,
      typeAt,
    );
  }
  const itemType = ggufTypeOfId.get(itemId);
  if (itemType === undefined)
    c.fail('unknown array element type', what, 'a type id in [0, 12]', itemId, typeAt);
  const n = c.count(`${what} element count`, ggufValueBytes[itemType]);
  switch (itemType) {
    case 'string': {
      const values: string[] = [];
      for (let i = 0; i < n; i++) values.push(c.string(`${what}[${i}]`));
      return { type: 'array', itemType, values };
    }
    case 'bool': {
      const start = c.at;
      const values = c.take(n, what);
      const bad = values.findIndex((b) => b > 1);
      if (bad >= 0) c.fail('bool is not 0 or 1', `${what}[${bad}]`, '0 or 1', values[bad], start + bad);
      return { type: 'array', itemType, values };
    }
    case 'uint8':
      return { type: 'array', itemType, values: c.take(n, what) };
    case 'int8':
      return { type: 'array', itemType, values: new Int8Array(c.take(n, what).buffer) };
    case 'uint16':
      return { type: 'array', itemType, values: numbers(c, n, what, Uint16Array, 'getUint16') };
    case 'int16':
      return { type: 'array', itemType, values: numbers(c, n, what, Int16Array, 'getInt16') };
    case 'uint32':
      return { type: 'array', itemType, values: numbers(c, n, what, Uint32Array, 'getUint32') };
    case 'int32':
      return { type: 'array', itemType, values: numbers(c, n, what, Int32Array, 'getInt32') };
    case 'float32':
      return { type: 'array', itemType, values: numbers(c, n, what, Float32Array, 'getFloat32') };
    case 'float64':
      return { type: 'array', itemType, values: numbers(c, n, what, Float64Array, 'getFloat64') };
    case 'uint64':
      return { type: 'array', itemType, values: numbers(c, n, what, BigUint64Array, 'getBigUint64') };
    case 'int64':
      return { type: 'array', itemType, values: numbers(c, n, what, BigInt64Array, 'getBigInt64') };
  }
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type NumberArray =
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/**
 * `n` little-endian numbers as a typed array: a view on a fresh (so aligned) copy of their
 * bytes, or on a big-endian host, read one by one.
 */
function numbers<A extends NumberArray>(
  c: Cursor,
  n: number,
  what: string,
  Type: { readonly BYTES_PER_ELEMENT: number; new (buffer: ArrayBuffer): A; new (length: number): A },
  getter:
    | 'getUint16'
    | 'getInt16'
    | 'getUint32'
    | 'getInt32'
    | 'getFloat32'
    | 'getFloat64'
    | 'getBigUint64'
    | 'getBigInt64',
): A {
  const bytes = c.take(n * Type.BYTES_PER_ELEMENT, what);
  if (littleEndianHost) return new Type(bytes.buffer as ArrayBuffer);
  const view = new DataView(bytes.buffer);
  const out = new Type(n);
  const get = view[getter].bind(view) as (at: number, le: boolean) => number & bigint;
  for (let i = 0; i < n; i++) out[i] = get(i * Type.BYTES_PER_ELEMENT, true);
  return out;
}

/** `value` rounded up to a multiple of `alignment` (a power of two). */
export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function readTensorInfo(c: Cursor, index: number, alignment: number): Omit<GgufTensorInfo, never> {
  const name = c.string(`tensor ${index} name`, maxTensorNameBytes);
  const what = `tensor '${name}'`;
  const dimsAt = c.at;
  const nDims = c.u32(`${what} dimension count`);
  if (nDims > maxTensorDims) c.fail('too many dimensions', what, `at most ${maxTensorDims}`, nDims, dimsAt);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const at = c.at;
    const size = c.u64(`${what} dimension ${d}`);
    // ggml reads ne as int64: the top bit set is a negative dimension.
    if (size > maxSafe)
      c.fail('dimension out of range', `${what} dimension ${d}`, `at most 2^53 - 1`, size.toString(), at);
    const n = Number(size);
    dims.push(n);
    elements *= n;
    if (elements > Number.MAX_SAFE_INTEGER) {
      c.fail(
        'element count overflows',
        what,
        'a product of dimensions below 2^53',
        `[${dims.join(', ')}, ...]`,
        at,
      );
    }
  }
  const typeAt = c.at;
  const typeId = c.i32(`${what} type`);
  const type = ggmlTypes.get(typeId);
  if (type === undefined)
    c.fail('unknown tensor type', what, 'a ggml type id (0-3, 6-30, 34, 35, 39-42)', typeId, typeAt);
  const rowLength = dims[0] ?? 1;
  if (rowLength % type.blockSize !== 0) {
    c.fail(
      `rows are not whole ${type.name} blocks`,
      what,
      `dimension 0 a multiple of ${type.blockSize}`,
      rowLength,
      dimsAt,
    );
  }
  const blocks = elements / type.blockSize;
  if (blocks > Number.MAX_SAFE_INTEGER / type.typeSize) {
    c.fail(
      'byte size overflows',
      what,
      'fewer than 2^53 bytes',
      `${blocks} blocks of ${type.typeSize} bytes`,
      dimsAt,
    );
  }
  const offsetAt = c.at;
  const offset = c.u64(`${what} offset`);
  if (offset > BigInt(c.fileBytes))
    c.fail('offset is past the end of the file', what, `at most ${c.fileBytes}`, offset.toString(), offsetAt);
  if (Number(offset) % alignment !== 0) {
    c.fail(
      'offset is not aligned',
      what,
      `a multiple of ${alignment} (general.alignment)`,
      offset.toString(),
      offsetAt,
    );
  }
  return { name, dims, type, offset: Number(offset), byteLength: blocks * type.typeSize, elements };
}

/** `general.alignment`: a uint32 power of two when given, else 32. */
function alignmentOf(metadata: ReadonlyMap<string, GgufValue>, c: Cursor, at: number): number {
  const value = metadata.get(alignmentKey);
  if (value === undefined) return defaultAlignment;
  if (value.type !== 'uint32') c.fail('alignment must be a uint32', alignmentKey, 'uint32', value.type, at);
  const alignment = value.value;
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) {
    c.fail('alignment is not a power of two', alignmentKey, 'a power of two', alignment, at);
  }
  return alignment;
}

/**
 * Parses and checks the header of a GGUF file of `fileBytes` bytes whose first bytes are
 * `bytes` (the whole file, or a prefix of at most maxHeaderBytes). Nothing is read from
 * the tensor data. `source` names the file in errors.
 *
 * @example
 * const header = parseGgufHeader(bytes, bytes.length, 'model.gguf');
 * header.metadata.get('general.architecture'); // { type: 'string', value: 'llama' }
 */
export function parseGgufHeader(bytes: Uint8Array, fileBytes: number, source = 'gguf'): GgufHeader {
  const c: Cursor = new Cursor(bytes, fileBytes, source);
  c.need(4, 'magic');
  if (bytes[0] !== 0x47 || bytes[1] !== 0x47 || bytes[2] !== 0x55 || bytes[3] !== 0x46) {
    c.fail(
      'not a GGUF file',
      'magic',
      '"GGUF"',
      JSON.stringify(String.fromCharCode(...bytes.subarray(0, 4))),
    );
  }
  c.at = 4;
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    const hint =
      (version & 0xffff) === 0 ? ' (a big-endian file?)' : version === 1 ? ' (GGUF v1 is obsolete)' : '';
    c.fail(`unsupported GGUF version${hint}`, 'version', '2 or 3', version, 4);
  }
  const tensorCount = c.count('tensor count', minTensorInfoBytes);
  const kvCount = c.count('metadata count', minKvBytes);
  const metadata = new Map<string, GgufValue>();
  let alignmentAt = 0;
  for (let i = 0; i < kvCount; i++) {
    const keyAt = c.at;
    const key = c.string(`metadata key ${i}`, maxKeyBytes);
    if (key.length === 0) c.fail('empty metadata key', `metadata key ${i}`, undefined, undefined, keyAt);
    if (metadata.has(key)) c.fail('duplicate metadata key', `key '${key}'`, 'each key once', 'twice', keyAt);
    const typeAt = c.at;
    const typeId = c.u32(`key '${key}' type`);
    if (key === alignmentKey) alignmentAt = typeAt;
    let value: GgufValue;
    if (typeId === ggufTypeIds.array) value = readArray(c, `key '${key}'`);
    else {
      const type = ggufTypeOfId.get(typeId);
      if (type === undefined)
        c.fail('unknown metadata type', `key '${key}'`, 'a type id in [0, 12]', typeId, typeAt);
      value = readScalar(c, type, `key '${key}'`);
    }
    metadata.set(key, value);
  }
  const alignment = alignmentOf(metadata, c, alignmentAt);
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.at;
    const info = readTensorInfo(c, i, alignment);
    if (names.has(info.name))
      c.fail('duplicate tensor name', `tensor '${info.name}'`, 'each name once', 'twice', at);
    names.add(info.name);
    tensors.push(info);
  }
  const dataStart = tensorCount > 0 ? alignUp(c.at, alignment) : c.at;
  if (dataStart > fileBytes)
    c.fail('file ends before the tensor data', 'data section', `at least ${dataStart} bytes`, fileBytes);
  checkTensorData(tensors, fileBytes - dataStart, c, dataStart);
  return { version, metadata, tensors, alignment, dataStart };
}

/** Every tensor inside the data section of `dataBytes` bytes, and no two overlapping. */
function checkTensorData(
  tensors: readonly GgufTensorInfo[],
  dataBytes: number,
  c: Cursor,
  dataStart: number,
): void {
  for (const t of tensors) {
    if (t.byteLength > dataBytes - t.offset) {
      c.fail(
        'tensor data is past the end of the file',
        `tensor '${t.name}'`,
        `${t.byteLength} bytes at data offset ${t.offset} within ${dataBytes} data bytes`,
        `the file ends ${t.offset + t.byteLength - dataBytes} bytes short`,
        dataStart + t.offset,
      );
    }
  }
  const order = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let i = 1; i < order.length; i++) {
    const previous = order[i - 1]!;
    const tensor = order[i]!;
    if (tensor.offset < previous.offset + previous.byteLength) {
      c.fail(
        'tensors overlap',
        `tensor '${tensor.name}'`,
        `data from offset ${previous.offset + previous.byteLength} on (after '${previous.name}')`,
        `data offset ${tensor.offset}`,
        dataStart + tensor.offset,
      );
    }
  }
}
