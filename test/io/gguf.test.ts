/**
 * The GGUF format: every metadata value type (arrays included) and tensor layout round-trip
 * through lmforge's writer and reader; alignment and padding follow the spec; the files
 * lmforge writes read the same in @huggingface/gguf; and the hostile-file parser turns each
 * kind of broken or malicious header (the llama.cpp GGUF CVE patterns) into a FormatError
 * naming the offset and the key or tensor, before allocating for it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gguf as hfGguf } from '@huggingface/gguf';
import {
  ggmlType,
  ggufFromBytes,
  openGgufFile,
  parseGgufHeader,
  quantize,
  serializeGguf,
  writeGgufFile,
  type GgufTensorSource,
  type GgufValue,
} from '../../src/io/index.js';
import { FormatError } from '../../src/util/errors.js';
import { Bytes, T, buildGguf, f32Bytes, kv, type RawFile } from './gguf-bytes.js';

const work = mkdtempSync(join(tmpdir(), 'lmforge-gguf-'));

/** One value of every type, and an array of every element type. */
const everyType: Array<[string, GgufValue]> = [
  ['t.u8', { type: 'uint8', value: 255 }],
  ['t.i8', { type: 'int8', value: -128 }],
  ['t.u16', { type: 'uint16', value: 65535 }],
  ['t.i16', { type: 'int16', value: -32768 }],
  ['t.u32', { type: 'uint32', value: 4294967295 }],
  ['t.i32', { type: 'int32', value: -2147483648 }],
  ['t.f32', { type: 'float32', value: 0.25 }],
  ['t.bool', { type: 'bool', value: true }],
  ['t.str', { type: 'string', value: 'héllo ▁ 🦙' }],
  ['t.u64', { type: 'uint64', value: 18446744073709551615n }],
  ['t.i64', { type: 'int64', value: -9223372036854775808n }],
  ['t.f64', { type: 'float64', value: 1e-300 }],
  ['a.u8', { type: 'array', itemType: 'uint8', values: Uint8Array.of(0, 1, 255) }],
  ['a.i8', { type: 'array', itemType: 'int8', values: Int8Array.of(-1, 127) }],
  ['a.u16', { type: 'array', itemType: 'uint16', values: Uint16Array.of(7, 65535) }],
  ['a.i16', { type: 'array', itemType: 'int16', values: Int16Array.of(-7) }],
  ['a.u32', { type: 'array', itemType: 'uint32', values: Uint32Array.of(1, 2, 3) }],
  ['a.i32', { type: 'array', itemType: 'int32', values: Int32Array.of(-1, 5) }],
  ['a.f32', { type: 'array', itemType: 'float32', values: Float32Array.of(1.5, -0) }],
  ['a.bool', { type: 'array', itemType: 'bool', values: Uint8Array.of(1, 0, 1) }],
  ['a.str', { type: 'array', itemType: 'string', values: ['', 'a b', 'ü'] }],
  ['a.u64', { type: 'array', itemType: 'uint64', values: BigUint64Array.of(2n ** 63n) }],
  ['a.i64', { type: 'array', itemType: 'int64', values: BigInt64Array.of(-5n) }],
  ['a.f64', { type: 'array', itemType: 'float64', values: Float64Array.of(Math.PI) }],
  ['a.empty', { type: 'array', itemType: 'string', values: [] }],
];

const tensors: GgufTensorSource[] = [
  { name: 'w', dims: [3, 2], type: ggmlType('F32'), data: () => f32Bytes([1, 2, 3, 4, 5, 6]) },
  {
    name: 'q',
    dims: [32, 2],
    type: ggmlType('Q8_0'),
    data: () =>
      quantize(
        'Q8_0',
        new Float32Array(64).map((_, i) => i / 7),
      ),
  },
  {
    name: 'h',
    dims: [5],
    type: ggmlType('F16'),
    data: () => quantize('F16', Float32Array.of(1, 2, 3, 4, 5)),
  },
  { name: 'empty', dims: [0, 4], type: ggmlType('F32'), data: () => new Uint8Array(0) },
];

const plain = (value: GgufValue): unknown =>
  value.type === 'array'
    ? { itemType: value.itemType, values: Array.from(value.values as ArrayLike<unknown>) }
    : value;

describe('GGUF round trip', () => {
  it('every metadata type and array type, and tensors of F32/Q8_0/F16 and zero elements', async () => {
    const metadata = new Map(everyType);
    const bytes = serializeGguf(metadata, tensors);
    const file = ggufFromBytes(bytes, 'mem.gguf');
    assert.equal(file.header.version, 3);
    assert.deepEqual([...file.header.metadata.keys()], [...metadata.keys()]);
    for (const [key, value] of metadata)
      assert.deepEqual(plain(file.header.metadata.get(key)!), plain(value), key);
    const [w, q, h, empty] = file.header.tensors;
    assert.deepEqual(Array.from(await file.readFloat32(w!)), [1, 2, 3, 4, 5, 6]);
    const qv = await file.readFloat32(q!);
    assert.ok(
      qv.every((v, i) => Math.abs(v - i / 7) <= (63 / 7 / 127) * 0.5 + 1e-6),
      'Q8_0 within half a step',
    );
    assert.deepEqual(Array.from(await file.readFloat32(h!)), [1, 2, 3, 4, 5]);
    assert.equal(empty!.elements, 0);
    // The file on disk reads the same.
    const path = join(work, 'round.gguf');
    await writeGgufFile(path, metadata, tensors);
    assert.deepEqual(readFileSync(path), Buffer.from(bytes));
    const opened = await openGgufFile(path);
    assert.deepEqual(Array.from(await opened.readFloat32(opened.header.tensors[0]!)), [1, 2, 3, 4, 5, 6]);
    await opened.close();
  });

  it('aligns the data section and every tensor to general.alignment, zero-padded', () => {
    for (const alignment of [32, 64, 8, 1]) {
      const metadata = new Map<string, GgufValue>([
        ['general.alignment', { type: 'uint32', value: alignment }],
      ]);
      const bytes = serializeGguf(metadata, tensors);
      const header = parseGgufHeader(bytes, bytes.length);
      assert.equal(header.alignment, alignment);
      assert.equal(header.dataStart % alignment, 0);
      let end = 0;
      for (const t of header.tensors) {
        assert.equal(t.offset % alignment, 0, `${t.name} aligned to ${alignment}`);
        assert.ok(
          bytes.subarray(header.dataStart + end, header.dataStart + t.offset).every((b) => b === 0),
          'zero padding',
        );
        end = t.offset + t.byteLength;
      }
      assert.equal(
        bytes.length,
        header.dataStart + Math.ceil(end / alignment) * alignment,
        'the last tensor padded too',
      );
    }
  });

  it('the writer refuses what the reader would: bad alignment, long or duplicate names, partial blocks, wrong sizes', () => {
    const bad = (metadata: Map<string, GgufValue>, list: GgufTensorSource[], pattern: RegExp): void => {
      assert.throws(
        () => serializeGguf(metadata, list),
        (e: unknown) => e instanceof FormatError && pattern.test(e.message),
      );
    };
    bad(new Map([['general.alignment', { type: 'uint32', value: 48 }]]), [], /power of two/);
    bad(new Map([['general.alignment', { type: 'uint64', value: 32n }]]), [], /power of two/);
    bad(new Map(), [{ ...tensors[0]!, name: 'x'.repeat(64) }], /too long for ggml/);
    bad(new Map(), [tensors[0]!, tensors[0]!], /duplicate tensor name/);
    bad(new Map(), [{ ...tensors[1]!, dims: [16, 4] }], /whole Q8_0 blocks/);
    bad(new Map(), [{ ...tensors[0]!, dims: [4, 2] }], /wrong size/);
    bad(new Map([['k', { type: 'uint8', value: 256 }]]), [], /does not fit its type/);
  });

  it('@huggingface/gguf reads the same metadata and tensor infos from a file lmforge wrote', async () => {
    const path = join(work, 'hf.gguf');
    const metadata = new Map<string, GgufValue>([
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['llama.context_length', { type: 'uint32', value: 128 }],
      ['llama.rope.freq_base', { type: 'float32', value: 10000 }],
      ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', values: ['<unk>', '▁a'] }],
      ['tokenizer.ggml.scores', { type: 'array', itemType: 'float32', values: Float32Array.of(0, -1.5) }],
      ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
      ['x.u64', { type: 'uint64', value: 2n ** 40n }],
    ]);
    await writeGgufFile(path, metadata, tensors);
    const theirs = await hfGguf(path, { allowLocalFile: true });
    const m = theirs.metadata as unknown as Record<string, unknown>;
    assert.equal(m['version'], 3);
    assert.equal(m['general.architecture'], 'llama');
    assert.equal(m['llama.context_length'], 128);
    assert.equal(m['llama.rope.freq_base'], 10000);
    assert.deepEqual(m['tokenizer.ggml.tokens'], ['<unk>', '▁a']);
    assert.deepEqual(m['tokenizer.ggml.scores'], [0, -1.5]);
    assert.equal(m['tokenizer.ggml.add_bos_token'], false);
    assert.equal(m['x.u64'], 2n ** 40n);
    const ours = (await openGgufFile(path)).header;
    assert.deepEqual(
      theirs.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype, Number(t.offset)]),
      ours.tensors.map((t) => [t.name, [...t.dims], t.type.id, t.offset]),
    );
    assert.equal(theirs.tensorDataOffset, BigInt(ours.dataStart));
  });
});

/** The smallest valid file, with one tensor, as raw parts the cases below break. */
const validFile: RawFile = {
  kvs: [kv.str('general.architecture', 'llama'), kv.u32('k', 1)],
  tensors: [{ name: 'w', dims: [4, 2], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6, 7, 8]) }],
};

function rejects(bytes: Uint8Array, message: RegExp, where?: RegExp): void {
  assert.throws(
    () => parseGgufHeader(bytes, bytes.length, 'bad.gguf'),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `a FormatError, got ${String(e)}`);
      assert.match(e.message, message);
      assert.match(e.where, /^bad\.gguf offset \d+: /);
      if (where !== undefined) assert.match(e.where, where);
      return true;
    },
  );
}

describe('the hostile-file parser', () => {
  it('reads the valid base file', () => {
    const bytes = buildGguf(validFile);
    assert.equal(parseGgufHeader(bytes, bytes.length).tensors[0]!.byteLength, 32);
  });

  it('rejects a wrong magic, GGUF v1, a big-endian file and an unknown version', () => {
    const bytes = buildGguf(validFile);
    rejects(Uint8Array.of(0x47, 0x47, 0x4d, 0x4c, ...bytes.subarray(4)), /not a GGUF file/, /magic/);
    rejects(buildGguf({ ...validFile, version: 1 }), /v1 is obsolete/, /version/);
    rejects(buildGguf({ ...validFile, version: 0x03000000 }), /big-endian/);
    rejects(buildGguf({ ...validFile, version: 4 }), /unsupported GGUF version/);
  });

  it('bounds counts by what the rest of the file can hold (huge tensor, key and array counts)', () => {
    rejects(
      buildGguf({ ...validFile, tensorCount: 2n ** 63n }),
      /count is larger than the file can hold/,
      /tensor count/,
    );
    rejects(
      buildGguf({ ...validFile, kvCount: 2n ** 40n }),
      /count is larger than the file can hold/,
      /metadata count/,
    );
    const array = {
      key: 'big',
      value: (b: Bytes) =>
        b
          .u32(T.arr)
          .u32(T.u64)
          .u64(2n ** 61n),
    };
    rejects(
      buildGguf({ ...validFile, kvs: [array] }),
      /count is larger than the file can hold/,
      /'big' element count/,
    );
    const strings = { key: 'strs', value: (b: Bytes) => b.u32(T.arr).u32(T.str).u64(1e9) };
    rejects(buildGguf({ ...validFile, kvs: [strings] }), /count is larger than the file can hold/);
  });

  it('bounds string lengths (CVE-2024-21825: a huge key or value length), and decodes strict UTF-8', () => {
    const longKey = new Bytes()
      .raw([0x47, 0x47, 0x55, 0x46])
      .u32(3)
      .u64(0)
      .u64(1)
      .str('k', 2n ** 62n)
      .raw(new Uint8Array(32))
      .bytes();
    rejects(longKey, /string is longer than the rest of the file/, /metadata key 0/);
    const longValue = { key: 'v', value: (b: Bytes) => b.u32(T.str).str('abc', 1n << 40n) };
    rejects(
      buildGguf({ ...validFile, kvs: [longValue] }),
      /string is longer than the rest of the file/,
      /key 'v'/,
    );
    const badUtf8 = { key: 'v', value: (b: Bytes) => b.u32(T.str).u64(2).raw([0xc3, 0x28]) };
    rejects(buildGguf({ ...validFile, kvs: [badUtf8] }), /not valid UTF-8/, /key 'v'/);
    rejects(buildGguf({ ...validFile, kvs: [kv.u32('', 1)] }), /empty metadata key/);
  });

  it('rejects duplicate keys, unknown types, nested arrays, bools other than 0/1, a bad alignment', () => {
    rejects(
      buildGguf({ ...validFile, kvs: [kv.u32('k', 1), kv.u32('k', 2)] }),
      /duplicate metadata key/,
      /'k'/,
    );
    rejects(
      buildGguf({ ...validFile, kvs: [{ key: 'k', value: (b) => b.u32(13).u32(0) }] }),
      /unknown metadata type/,
    );
    rejects(
      buildGguf({ ...validFile, kvs: [{ key: 'k', value: (b) => b.u32(T.arr).u32(T.arr).u64(0) }] }),
      /arrays of arrays/,
    );
    rejects(
      buildGguf({ ...validFile, kvs: [{ key: 'k', value: (b) => b.u32(T.bool).u8(2) }] }),
      /bool is not 0 or 1/,
    );
    rejects(
      buildGguf({ ...validFile, kvs: [kv.u32('general.alignment', 24)] }),
      /not a power of two/,
      /general\.alignment/,
    );
    rejects(buildGguf({ ...validFile, kvs: [kv.str('general.alignment', '32')] }), /must be a uint32/);
  });

  it('rejects bad tensor infos: dimensions (count, negative, overflowing product), type, blocks, names', () => {
    const t = validFile.tensors![0]!;
    const withTensor = (changes: object): Uint8Array =>
      buildGguf({ ...validFile, tensors: [{ ...t, ...changes }] });
    rejects(withTensor({ dims: [1, 1, 1, 1, 1] }), /too many dimensions/, /tensor 'w'/);
    rejects(withTensor({ dims: [2n ** 63n + 4n, 2] }), /dimension out of range/);
    // 2^32 * 2^32 overflows int64 in ggml's ne products (the Talos n_dims/ne overflow).
    rejects(withTensor({ dims: [2 ** 32, 2 ** 32] }), /element count overflows/);
    rejects(withTensor({ dims: [2 ** 26, 2 ** 26] }), /byte size overflows|past the end/);
    rejects(withTensor({ type: 43 }), /unknown tensor type/);
    rejects(withTensor({ type: 4 }), /unknown tensor type/);
    rejects(withTensor({ type: 8 }), /rows are not whole Q8_0 blocks/);
    rejects(withTensor({ name: 'n'.repeat(64) }), /string is too long/);
    const two = buildGguf({ ...validFile, tensors: [t, { ...t }] });
    rejects(two, /duplicate tensor name/, /tensor 'w'/);
  });

  it('rejects unaligned, out-of-file and overlapping tensor data', () => {
    const t = validFile.tensors![0]!;
    rejects(buildGguf({ ...validFile, tensors: [{ ...t, offset: 4 }] }), /offset is not aligned/);
    rejects(
      buildGguf({ ...validFile, tensors: [{ ...t, offset: 2n ** 60n }] }),
      /offset is past the end of the file/,
    );
    rejects(
      buildGguf({ ...validFile, tensors: [{ ...t, dims: [4, 3] }] }),
      /tensor data is past the end of the file/,
    );
    const overlap = buildGguf({
      ...validFile,
      tensors: [t, { ...t, name: 'v', offset: 0 }, { ...t, name: 'u', offset: 32 }],
    });
    rejects(overlap, /tensors overlap/);
  });

  it('every truncation of a valid file is a FormatError (never a RangeError or a partial result)', () => {
    const bytes = buildGguf(validFile);
    for (let n = 0; n < bytes.length; n++) {
      assert.throws(
        () => parseGgufHeader(bytes.subarray(0, n), n),
        (e: unknown) => e instanceof FormatError,
        `truncated to ${n} bytes`,
      );
    }
  });

  it('reads no more than maxHeaderBytes: a larger header is an error naming the limit', async () => {
    const big = buildGguf({ ...validFile, kvs: [kv.strs('tokens', new Array(5000).fill('token'))] });
    assert.throws(
      () => ggufFromBytes(big, 'big.gguf', { limits: { maxHeaderBytes: 4096 } }),
      (e: unknown) =>
        e instanceof FormatError &&
        /header is larger than the limit/.test(e.message) &&
        /4096/.test(String(e.expected)),
    );
    const path = join(work, 'big.gguf');
    writeFileSync(path, big);
    await assert.rejects(
      openGgufFile(path, { limits: { maxHeaderBytes: 4096 } }),
      /header is larger than the limit/,
    );
    const file = await openGgufFile(path);
    assert.equal(file.header.metadata.size, 1);
    await file.close();
  });

  it('names the file for an fs error', async () => {
    await assert.rejects(
      openGgufFile(join(work, 'missing.gguf')),
      (e: unknown) => e instanceof FormatError && /ENOENT/.test(String(e.actual)),
    );
  });
});
