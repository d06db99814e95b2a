/**
 * safetensors reader/writer: round trips, the dtype conversions against a file written by
 * tools/reference/make_goldens.py (PyTorch), byte-identical re-serialisation of the golden
 * fixtures, every malformed-input case, a corruption fuzz, and atomic file writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/index.js';
import { Tensor, transpose } from '../../src/tensor/index.js';
import { FormatError } from '../../src/util/errors.js';
import {
  parseSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
} from '../../src/io/index.js';

/** test/golden in the source tree, found from test/io or dist/test/io. */
const golden = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'test', 'golden', 'manifest.json'))) {
    if (dirname(dir) === dir) throw new Error('test/golden/manifest.json not found above the test file');
    dir = dirname(dir);
  }
  return join(dir, 'test', 'golden');
})();

/** A file from a raw header object (or text) and data bytes, as a hostile writer could make it. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bitsEqual(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

test('round trip keeps dtype, shape, every bit and the metadata', () => {
  const f32 = Tensor.fromArray(new Float32Array([1.5, -0, NaN, Infinity, -Infinity, 1e-45]), [2, 3]);
  const f64 = Tensor.fromArray(new Float64Array([Math.PI, -1e300, 5e-324]), [3]);
  const i32 = Tensor.fromArray(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, 7]), [2, 1, 2]);
  const scalar = Tensor.fromArray(new Float32Array([2.5]), []);
  const empty = Tensor.fromArray(new Float32Array(0), [0, 4]);
  const metadata = { format: 'pt', 'ünïcode ✓': 'value "quoted"' };
  const bytes = serializeSafetensors({ 'b.f32': f32, 'a.f64': f64, '0': i32, scalar, empty }, metadata);
  const parsed = parseSafetensors(bytes);
  assert.deepEqual(parsed.metadata, metadata);
  for (const [name, original] of [
    ['b.f32', f32],
    ['a.f64', f64],
    ['0', i32],
    ['scalar', scalar],
    ['empty', empty],
  ] as const) {
    const t = parsed.tensors.get(name);
    assert.ok(t, `missing ${name}`);
    assert.equal(t.dtype, original.dtype, name);
    assert.deepEqual(t.shape, original.shape, name);
    assert.ok(bitsEqual(t.values(), original.values()), `${name} values differ`);
  }
  // Re-serialising the parsed file reproduces it byte for byte.
  assert.deepEqual(serializeSafetensors(parsed.tensors, parsed.metadata), bytes);
});

test('layout follows the reference writer: 8-aligned header, widest dtype first, then by name', () => {
  const bytes = serializeSafetensors(
    new Map([
      ['z', Tensor.fromArray(new Float32Array([1]), [1])],
      ['ids', Tensor.fromArray(new Int32Array([1, 2, 3]), [3])],
      ['a', Tensor.fromArray(new Float32Array([2]), [1])],
      ['w', Tensor.fromArray(new Float64Array([3]), [1])],
    ]),
  );
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  assert.equal(
    header.trimEnd(),
    '{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
      '"z":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"ids":{"dtype":"I32","shape":[3],"data_offsets":[16,28]}}',
  );
  assert.match(header, /^[^ ]* *$/, 'padding is trailing spaces');
});

test('non-contiguous tensors are written in logical (row-major) order', () => {
  const x = Tensor.fromArray(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  const parsed = parseSafetensors(serializeSafetensors({ xt: transpose(x) })).tensors.get('xt')!;
  assert.deepEqual(parsed.shape, [3, 2]);
  assert.deepEqual([...parsed.values()], [1, 4, 2, 5, 3, 6]);
});

test('aligned tensors are views on the file buffer; misaligned ones are copied', () => {
  const bytes = serializeSafetensors({ x: Tensor.fromArray(new Float32Array([1, 2, 3]), [3]) });
  const view = parseSafetensors(bytes).tensors.get('x')!;
  assert.equal(view.data.buffer, bytes.buffer, 'expected zero-copy');
  // The same file one byte into a buffer: the float32 data is no longer 4-aligned.
  const shifted = new Uint8Array(bytes.length + 1).subarray(1);
  shifted.set(bytes);
  const copy = parseSafetensors(shifted).tensors.get('x')!;
  assert.notEqual(copy.data.buffer, shifted.buffer);
  assert.deepEqual([...copy.values()], [1, 2, 3]);
});

const loadedAs: Record<string, string> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float32',
  BF16: 'float32',
  I64: 'int32',
  I32: 'int32',
  U8: 'int32',
  BOOL: 'int32',
};

interface FormatCheck {
  file: string;
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
}

test('reads every dtype from the PyTorch-written file (F16/BF16 to float32, I64/U8/BOOL to int32)', () => {
  const manifest = JSON.parse(readFileSync(join(golden, 'manifest.json'), 'utf8')) as {
    formatCheck: FormatCheck;
  };
  const check = manifest.formatCheck;
  const parsed = parseSafetensors(readFileSync(join(golden, check.file)));
  assert.deepEqual(parsed.metadata, check.metadata);
  assert.deepEqual([...parsed.tensors.keys()].sort(), Object.keys(check.tensors).sort());
  for (const [name, expected] of Object.entries(check.tensors)) {
    const t = parsed.tensors.get(name)!;
    assert.equal(parsed.dtypes.get(name), expected.dtype, name);
    assert.equal(t.dtype, loadedAs[expected.dtype], name);
    assert.deepEqual(t.shape, expected.shape, name);
    // Every value is exactly representable in the loaded dtype (halves and bfloats are floats).
    const want = t.dtype === 'float32' ? [...Float32Array.from(expected.values)] : expected.values;
    assert.ok(
      bitsEqual(t.values(), want),
      `${name}: got ${[...t.values()].join(', ')}, want ${want.join(', ')}`,
    );
  }
});

test('re-serialising the float fixtures reproduces the PyTorch-side writer byte for byte', () => {
  const fixtures = readdirSync(join(golden, 'fixtures')).filter((f) => f.endsWith('.safetensors'));
  assert.ok(fixtures.length > 50, `expected the golden fixtures, found ${fixtures.length}`);
  let compared = 0;
  for (const file of fixtures) {
    const bytes = readFileSync(join(golden, 'fixtures', file));
    const parsed = parseSafetensors(bytes);
    // I64/BOOL/F16... load as other dtypes, so only files of F32/F64/I32 can round trip exactly.
    if ([...parsed.dtypes.values()].some((d) => d !== 'F32' && d !== 'F64' && d !== 'I32')) continue;
    assert.deepEqual(serializeSafetensors(parsed.tensors, parsed.metadata), new Uint8Array(bytes), file);
    compared++;
  }
  assert.ok(compared > 40, `only ${compared} fixtures compared`);
});

test('converts F16 edge cases (subnormal, infinity, NaN) and rejects out-of-range I64 and non-0/1 BOOL', () => {
  const halves = new Uint16Array([0x0001, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3c00, 0x7bff]);
  const f16 = parseSafetensors(
    rawFile({ h: { dtype: 'F16', shape: [7], data_offsets: [0, 14] } }, new Uint8Array(halves.buffer)),
  ).tensors.get('h')!;
  assert.ok(bitsEqual(f16.values(), Float32Array.from([2 ** -24, -0, Infinity, -Infinity, NaN, 1, 65504])));

  const big = new BigInt64Array([1n, 2n ** 31n]);
  assert.throws(
    () =>
      parseSafetensors(
        rawFile({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(big.buffer)),
      ),
    (e: unknown) =>
      e instanceof FormatError && /'ids' element 1/.test(e.message) && /2147483648/.test(e.message),
  );
  assert.throws(
    () =>
      parseSafetensors(
        rawFile({ m: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] } }, new Uint8Array([1, 2])),
      ),
    (e: unknown) => e instanceof FormatError && /'m' element 1/.test(e.message),
  );
});

test('malformed files give a FormatError naming the field', () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const eight = new Uint8Array(8);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['shorter than 8 bytes', new Uint8Array(5), /shorter than the 8-byte header length/],
    ['header length past the end', rawFile({ x: ok }, eight, 1000), /header length is larger than the file/],
    ['header length of 2^60', rawFile({ x: ok }, eight, 2 ** 60), /header length is larger than the file/],
    ['header not starting with {', rawFile('[1, 2]'), /does not start with a JSON object/],
    ['empty header', rawFile(''), /does not start with a JSON object/],
    ['header not JSON', rawFile('{"x": '), /not valid UTF-8 JSON/],
    ['header not UTF-8', rawFile('{"ab":1}').map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8 JSON/],
    ['entry not an object', rawFile({ x: 3 }), /'x': header entry is not an object/],
    ['unknown dtype', rawFile({ x: { ...ok, dtype: 'F8_E4M3' } }, eight), /'x'.dtype: unsupported dtype/],
    ['missing dtype', rawFile({ x: { shape: [2], data_offsets: [0, 8] } }, eight), /'x'.dtype/],
    ['negative dim', rawFile({ x: { ...ok, shape: [-2] } }, eight), /'x'.shape/],
    ['fractional dim', rawFile({ x: { ...ok, shape: [2.5] } }, eight), /'x'.shape/],
    ['shape not a list', rawFile({ x: { ...ok, shape: '2' } }, eight), /'x'.shape/],
    ['offsets of length 3', rawFile({ x: { ...ok, data_offsets: [0, 4, 8] } }, eight), /'x'.data_offsets/],
    [
      'begin after end',
      rawFile({ x: { ...ok, data_offsets: [8, 0] } }, eight),
      /'x'.data_offsets: data_offsets out of range/,
    ],
    [
      'end past the data',
      rawFile({ x: { ...ok, data_offsets: [0, 16] } }, eight),
      /'x'.data_offsets: data_offsets out of range/,
    ],
    [
      'shape/offset size mismatch',
      rawFile({ x: { ...ok, shape: [3] } }, eight),
      /'x': shape and data_offsets disagree/,
    ],
    [
      'shape with overflowing size',
      rawFile({ x: { ...ok, shape: [1e9, 1e9, 1e9, 1e9] } }, eight),
      /'x': shape and data_offsets disagree/,
    ],
    [
      'overlapping tensors',
      rawFile({ x: ok, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
      /tensor data overlaps the previous tensor/,
    ],
    [
      'gap between tensors',
      rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight),
      /'x'.data_offsets: gap before tensor data/,
    ],
    ['trailing bytes', rawFile({ x: ok }, new Uint8Array(12)), /does not cover the file/],
    ['metadata not an object', rawFile({ __metadata__: [1], x: ok }, eight), /__metadata__ is not an object/],
    [
      'metadata value not a string',
      rawFile({ __metadata__: { n: 1 }, x: ok }, eight),
      /__metadata__.n: metadata values must be strings/,
    ],
  ];
  for (const [what, bytes, pattern] of cases) {
    assert.throws(
      () => parseSafetensors(bytes),
      (e: unknown) => {
        assert.ok(e instanceof FormatError, `${what}: expected FormatError, got ${String(e)}`);
        assert.match(e.message, pattern, what);
        return true;
      },
      what,
    );
  }
});

test('a truncated file is rejected at every cut point', () => {
  const bytes = serializeSafetensors(
    { a: Tensor.fromArray(new Float32Array([1, 2, 3]), [3]), b: Tensor.fromArray(new Int32Array([4]), [1]) },
    { k: 'v' },
  );
  for (let length = 0; length < bytes.length; length++) {
    assert.throws(() => parseSafetensors(bytes.subarray(0, length)), FormatError, `cut at ${length}`);
  }
});

test('random corruption never escapes as anything but FormatError', () => {
  const bytes = serializeSafetensors(
    {
      a: Tensor.fromArray(new Float32Array([1, 2, 3]), [3]),
      ids: Tensor.fromArray(new Int32Array([4, 5]), [2]),
    },
    { k: 'v' },
  );
  let seed = 12345;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let trial = 0; trial < 3000; trial++) {
    const corrupt = bytes.slice();
    for (let k = 1 + next(3); k > 0; k--) corrupt[next(corrupt.length)] = next(256);
    try {
      parseSafetensors(corrupt);
    } catch (e) {
      assert.ok(e instanceof FormatError, `trial ${trial}: ${String(e)}`);
    }
  }
});

test('writeSafetensorsFile writes atomically, replaces an existing file, and leaves no temporary files', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'lmforge-st-'));
  try {
    const path = join(folder, 'model.safetensors');
    await writeSafetensorsFile(path, { w: Tensor.fromArray(new Float32Array([1, 2]), [2]) }, { step: '1' });
    await writeSafetensorsFile(
      path,
      { w: Tensor.fromArray(new Float32Array([3, 4, 5]), [3]) },
      { step: '2' },
    );
    assert.deepEqual(readdirSync(folder), ['model.safetensors']);
    const read = await readSafetensorsFile(path);
    assert.deepEqual(read.metadata, { step: '2' });
    assert.deepEqual([...read.tensors.get('w')!.values()], [3, 4, 5]);

    await assert.rejects(writeSafetensorsFile(join(folder, 'missing', 'x.safetensors'), {}), /ENOENT/);
    assert.deepEqual(readdirSync(folder), ['model.safetensors']);

    const bad = join(folder, 'bad.safetensors');
    await writeSafetensorsFile(bad, {});
    const truncated = readFileSync(bad).subarray(0, 5);
    writeFileSync(bad, truncated);
    await assert.rejects(
      readSafetensorsFile(bad),
      (e: unknown) => e instanceof FormatError && e.message.includes(bad),
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
});
