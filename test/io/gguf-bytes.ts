/**
 * A GGUF byte builder for tests, written from ggml's docs/gguf.md and independent of
 * lmforge's writer: it lays files out the way llama.cpp's gguf-py GGUFWriter does (header,
 * key/value pairs, tensor infos, zero padding to the alignment, tensors at consecutive
 * aligned offsets) and also builds the broken files the hostile-parser tests need (any
 * count, length, type id or offset can be given raw).
 */

/** GGUF value type ids (gguf.h). */
export const T = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  str: 8,
  arr: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** Little-endian bytes, appended. */
export class Bytes {
  readonly parts: number[] = [];

  get length(): number {
    return this.parts.length;
  }

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]! & 0xff);
    return this;
  }

  private fixed(size: number, set: (view: DataView) => void): this {
    const buffer = new DataView(new ArrayBuffer(size));
    set(buffer);
    return this.raw(new Uint8Array(buffer.buffer));
  }

  u8(v: number): this {
    return this.raw([v]);
  }
  u16(v: number): this {
    return this.fixed(2, (d) => d.setUint16(0, v, true));
  }
  u32(v: number): this {
    return this.fixed(4, (d) => d.setUint32(0, v >>> 0, true));
  }
  i32(v: number): this {
    return this.fixed(4, (d) => d.setInt32(0, v, true));
  }
  u64(v: number | bigint): this {
    return this.fixed(8, (d) => d.setBigUint64(0, BigInt(v), true));
  }
  f32(v: number): this {
    return this.fixed(4, (d) => d.setFloat32(0, v, true));
  }
  f64(v: number): this {
    return this.fixed(8, (d) => d.setFloat64(0, v, true));
  }
  /** A string: u64 byte length (or `length` given raw), then its UTF-8 bytes. */
  str(text: string, length?: number | bigint): this {
    const bytes = new TextEncoder().encode(text);
    return this.u64(length ?? bytes.length).raw(bytes);
  }
  pad(alignment: number): this {
    while (this.parts.length % alignment !== 0) this.parts.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One key/value: the key, then `value` writes the type id(s) and the value. */
export interface RawKv {
  readonly key: string;
  readonly value: (b: Bytes) => void;
}

export const kv = {
  u32: (key: string, v: number): RawKv => ({ key, value: (b) => b.u32(T.u32).u32(v) }),
  f32: (key: string, v: number): RawKv => ({ key, value: (b) => b.u32(T.f32).f32(v) }),
  bool: (key: string, v: boolean): RawKv => ({ key, value: (b) => b.u32(T.bool).u8(v ? 1 : 0) }),
  str: (key: string, v: string): RawKv => ({ key, value: (b) => b.u32(T.str).str(v) }),
  strs: (key: string, vs: readonly string[]): RawKv => ({
    key,
    value: (b) => {
      b.u32(T.arr).u32(T.str).u64(vs.length);
      for (const v of vs) b.str(v);
    },
  }),
  f32s: (key: string, vs: ArrayLike<number>): RawKv => ({
    key,
    value: (b) => {
      b.u32(T.arr).u32(T.f32).u64(vs.length);
      for (let i = 0; i < vs.length; i++) b.f32(vs[i]!);
    },
  }),
  i32s: (key: string, vs: ArrayLike<number>): RawKv => ({
    key,
    value: (b) => {
      b.u32(T.arr).u32(T.i32).u64(vs.length);
      for (let i = 0; i < vs.length; i++) b.i32(vs[i]!);
    },
  }),
};

export interface RawTensor {
  readonly name: string;
  /** ggml ne order (fastest first). */
  readonly dims: readonly (number | bigint)[];
  readonly type: number;
  readonly data: Uint8Array;
  /** Override the offset written (default: the next aligned one). */
  readonly offset?: number | bigint;
}

export interface RawFile {
  readonly version?: number;
  readonly kvs: readonly RawKv[];
  readonly tensors?: readonly RawTensor[];
  readonly alignment?: number;
  /** Override the counts written (default: the list lengths). */
  readonly tensorCount?: number | bigint;
  readonly kvCount?: number | bigint;
}

/** A whole GGUF file. */
export function buildGguf(file: RawFile): Uint8Array {
  const alignment = file.alignment ?? 32;
  const tensors = file.tensors ?? [];
  const b = new Bytes().raw([0x47, 0x47, 0x55, 0x46]).u32(file.version ?? 3);
  b.u64(file.tensorCount ?? tensors.length).u64(file.kvCount ?? file.kvs.length);
  for (const { key, value } of file.kvs) {
    b.str(key);
    value(b);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    b.str(t.name).u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type).u64(t.offset ?? offset);
    offsets.push(Number(t.offset ?? offset));
    offset = Math.ceil((offset + t.data.length) / alignment) * alignment;
  }
  if (tensors.length > 0) b.pad(alignment);
  const start = b.length;
  tensors.forEach((t, i) => {
    // A given offset may point anywhere (tests of broken files): the data is then just appended.
    if (t.offset === undefined) while (b.length < start + offsets[i]!) b.u8(0);
    b.raw(t.data);
  });
  if (tensors.length > 0) b.pad(alignment);
  return b.bytes();
}

/** Float32 values as little-endian bytes. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values as ArrayLike<number>).buffer);
}
