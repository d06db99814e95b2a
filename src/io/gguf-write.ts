/**
 * GGUF v3 writing, laid out as llama.cpp's gguf writer does (gguf_write_to_buf): header,
 * metadata in the order given, tensor infos, zero padding to `general.alignment` (default
 * 32), then each tensor's bytes at the next aligned offset, in the order given, so offsets
 * are consecutive (llama.cpp's reader insists on it). The checks ./gguf-read.ts makes on a
 * file are made here on what is written, so lmforge never writes a file it (or llama.cpp)
 * would refuse.
 */
import { writeFileAtomicStream } from '../util/atomic-file.js';
import { FormatError } from '../util/errors.js';
import { alignUp } from './gguf-read.js';
import {
  alignmentKey,
  defaultAlignment,
  ggufTypeIds,
  maxKeyBytes,
  maxTensorDims,
  maxTensorNameBytes,
  type GgmlType,
  type GgufScalarType,
  type GgufValue,
} from './gguf-types.js';

/** A tensor to write: its bytes are produced when its turn comes (see writeGgufFile). */
export interface GgufTensorSource {
  readonly name: string;
  /** ggml order: dims[0] varies fastest. */
  readonly dims: readonly number[];
  readonly type: GgmlType;
  /** The tensor's bytes in `type` (checked against dims and type). */
  data(): Uint8Array;
}

const encoder = new TextEncoder();

function fail(message: string, where: string, expected?: unknown, actual?: unknown): never {
  throw new FormatError(message, {
    where,
    ...(expected === undefined ? {} : { expected }),
    ...(actual === undefined ? {} : { actual }),
  });
}

/** Little-endian bytes appended to a growing list. */
class ByteWriter {
  readonly parts: Uint8Array[] = [];
  length = 0;

  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  fixed(size: number, set: (view: DataView) => void): void {
    const bytes = new Uint8Array(size);
    set(new DataView(bytes.buffer));
    this.push(bytes);
  }

  u32(value: number): void {
    this.fixed(4, (v) => v.setUint32(0, value, true));
  }

  u64(value: number | bigint): void {
    this.fixed(8, (v) => v.setBigUint64(0, BigInt(value), true));
  }

  string(value: string): void {
    const bytes = encoder.encode(value);
    this.u64(bytes.length);
    this.push(bytes);
  }

  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, value: unknown, where: string): void {
  const check = (ok: boolean, expected: string): void => {
    if (!ok) fail('metadata value does not fit its type', where, expected, String(value));
  };
  const int = (min: number, max: number): number => {
    check(
      typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max,
      `${type} in [${min}, ${max}]`,
    );
    return value as number;
  };
  switch (type) {
    case 'uint8':
      return w.fixed(1, (v) => v.setUint8(0, int(0, 255)));
    case 'int8':
      return w.fixed(1, (v) => v.setInt8(0, int(-128, 127)));
    case 'uint16':
      return w.fixed(2, (v) => v.setUint16(0, int(0, 65535), true));
    case 'int16':
      return w.fixed(2, (v) => v.setInt16(0, int(-32768, 32767), true));
    case 'uint32':
      return w.fixed(4, (v) => v.setUint32(0, int(0, 2 ** 32 - 1), true));
    case 'int32':
      return w.fixed(4, (v) => v.setInt32(0, int(-(2 ** 31), 2 ** 31 - 1), true));
    case 'float32':
    case 'float64':
      check(typeof value === 'number', 'a number');
      return type === 'float32'
        ? w.fixed(4, (v) => v.setFloat32(0, value as number, true))
        : w.fixed(8, (v) => v.setFloat64(0, value as number, true));
    case 'bool':
      check(typeof value === 'boolean' || value === 0 || value === 1, 'true or false');
      return w.fixed(1, (v) => v.setUint8(0, value === true || value === 1 ? 1 : 0));
    case 'string':
      check(typeof value === 'string', 'a string');
      return w.string(value as string);
    case 'uint64':
    case 'int64': {
      const unsigned = type === 'uint64';
      check(
        typeof value === 'bigint' &&
          (unsigned ? value >= 0n && value < 2n ** 64n : value >= -(2n ** 63n) && value < 2n ** 63n),
        `${type} as a bigint in range`,
      );
      return w.fixed(8, (v) =>
        unsigned ? v.setBigUint64(0, value as bigint, true) : v.setBigInt64(0, value as bigint, true),
      );
    }
  }
}

function writeValue(w: ByteWriter, key: string, value: GgufValue): void {
  const where = `GGUF metadata '${key}'`;
  if (value.type !== 'array') {
    w.u32(ggufTypeIds[value.type]);
    writeScalar(w, value.type, value.value, where);
    return;
  }
  w.u32(ggufTypeIds.array);
  w.u32(ggufTypeIds[value.itemType]);
  const values = value.values as ArrayLike<unknown>;
  w.u64(values.length);
  for (let i = 0; i < values.length; i++) writeScalar(w, value.itemType, values[i], `${where}[${i}]`);
}

interface PlannedTensor {
  readonly source: GgufTensorSource;
  readonly offset: number;
  readonly byteLength: number;
}

/** The bytes of header, metadata and tensor infos, padded to the alignment, and where each tensor goes. */
function planGguf(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorSource[],
): { head: Uint8Array; planned: PlannedTensor[]; alignment: number } {
  const alignmentValue = metadata.get(alignmentKey);
  let alignment = defaultAlignment;
  if (alignmentValue !== undefined) {
    const a = alignmentValue.type === 'uint32' ? alignmentValue.value : NaN;
    if (!(a > 0 && (a & (a - 1)) === 0)) {
      fail(
        'alignment must be a uint32 power of two',
        `GGUF metadata '${alignmentKey}'`,
        'uint32 power of two',
        JSON.stringify(alignmentValue, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
      );
    }
    alignment = a;
  }
  const w = new ByteWriter();
  w.push(encoder.encode('GGUF'));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(metadata.size);
  for (const [key, value] of metadata) {
    const keyBytes = encoder.encode(key).length;
    if (keyBytes === 0 || keyBytes > maxKeyBytes)
      fail('metadata key length out of range', 'GGUF metadata key', `1 to ${maxKeyBytes} bytes`, keyBytes);
    w.string(key);
    writeValue(w, key, value);
  }
  const planned: PlannedTensor[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const tensor of tensors) {
    const where = `GGUF tensor '${tensor.name}'`;
    const nameBytes = encoder.encode(tensor.name).length;
    if (nameBytes > maxTensorNameBytes)
      fail('tensor name is too long for ggml', where, `at most ${maxTensorNameBytes} bytes`, nameBytes);
    if (names.has(tensor.name)) fail('duplicate tensor name', where);
    names.add(tensor.name);
    const { dims, type } = tensor;
    if (dims.length > maxTensorDims || !dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail('bad dimensions', where, `at most ${maxTensorDims} non-negative integers`, `[${dims.join(', ')}]`);
    }
    if ((dims[0] ?? 1) % type.blockSize !== 0) {
      fail(
        `rows are not whole ${type.name} blocks`,
        where,
        `dimension 0 a multiple of ${type.blockSize}`,
        dims[0],
      );
    }
    const elements = dims.reduce((a, b) => a * b, 1);
    const byteLength = (elements / type.blockSize) * type.typeSize;
    w.string(tensor.name);
    w.u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(type.id);
    w.u64(offset);
    planned.push({ source: tensor, offset, byteLength });
    offset = alignUp(offset + byteLength, alignment);
  }
  w.push(new Uint8Array(alignUp(w.length, alignment) - w.length));
  return { head: w.concat(), planned, alignment };
}

/** A tensor's bytes, checked against what its info says. */
function tensorBytes(tensor: PlannedTensor): Uint8Array {
  const data = tensor.source.data();
  if (data.length !== tensor.byteLength) {
    fail(
      'tensor data has the wrong size',
      `GGUF tensor '${tensor.source.name}'`,
      `${tensor.byteLength} bytes`,
      data.length,
    );
  }
  return data;
}

/**
 * The whole file in memory (for small files and tests).
 *
 * @example
 * const bytes = serializeGguf(new Map([['general.architecture', { type: 'string', value: 'llama' }]]), []);
 */
export function serializeGguf(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorSource[],
): Uint8Array {
  const { head, planned, alignment } = planGguf(metadata, tensors);
  const last = planned[planned.length - 1];
  const total = head.length + (last === undefined ? 0 : alignUp(last.offset + last.byteLength, alignment));
  const out = new Uint8Array(total);
  out.set(head, 0);
  for (const tensor of planned) out.set(tensorBytes(tensor), head.length + tensor.offset);
  return out;
}

export interface WriteGgufOptions {
  /** Called after each tensor is written (for a progress bar). */
  readonly onTensor?: (done: number, total: number, name: string) => void;
}

/**
 * Writes a GGUF file atomically (a temporary file renamed over `path`), producing and
 * writing one tensor at a time, so no more than one tensor's bytes are held at once.
 *
 * @example
 * await writeGgufFile('out.gguf', metadata, [{ name: 'token_embd.weight', dims: [64, 256], type: ggmlType('F32'), data: () => bytes }]);
 */
export async function writeGgufFile(
  path: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorSource[],
  options: WriteGgufOptions = {},
): Promise<void> {
  const { head, planned, alignment } = planGguf(metadata, tensors);
  await writeFileAtomicStream(path, async (write) => {
    await write(head);
    let at = 0;
    for (const [i, tensor] of planned.entries()) {
      if (tensor.offset > at) await write(new Uint8Array(tensor.offset - at));
      await write(tensorBytes(tensor));
      at = tensor.offset + tensor.byteLength;
      options.onTensor?.(i + 1, planned.length, tensor.source.name);
    }
    const end = alignUp(at, alignment);
    if (end > at) await write(new Uint8Array(end - at));
  });
}
