/**
 * safetensors on disk: duplicate header keys (which JSON.parse would hide), files over
 * 2 GiB (readFile's limit) read by positioned pieces, and fs errors as FormatErrors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../../src/index.js';
import { FormatError } from '../../src/util/errors.js';
import { openSafetensorsFile, parseSafetensors, readSafetensorsFile } from '../../src/io/index.js';
import { findDuplicateKey } from '../../src/io/json-duplicate-key.js';

/** 8-byte length + header text padded to 8 bytes. */
function headerBytes(header: string): Buffer {
  const json = Buffer.from(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json]);
}

test('findDuplicateKey: nested objects, arrays of objects, escaped keys, keys in strings', () => {
  const cases: Array<[string, string | null]> = [
    ['{"a":1,"b":2}', null],
    ['{"a":1,"a":2}', 'a'],
    ['{"w":{"dtype":"F32","dtype":"I32"}}', 'w.dtype'],
    ['{"x":[{"k":1},{"k":2}]}', null],
    ['{"x":[{"k":1,"k":2}]}', 'x.k'],
    ['{"a\\u0062":1,"ab":2}', 'ab'],
    ['{"s":"\\"a\\":1","a":1}', null],
    ['{ "a" : 1 , "b" : { "a" : 2 } }', null],
  ];
  for (const [text, expected] of cases) assert.equal(findDuplicateKey(text), expected, text);
});

test('a duplicate tensor key in the header is a FormatError naming it (JSON.parse keeps the last)', () => {
  const header =
    '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
  const bytes = Buffer.concat([headerBytes(header), Buffer.alloc(4)]);
  assert.throws(
    () => parseSafetensors(bytes),
    (e: unknown) =>
      e instanceof FormatError &&
      e.message ===
        "safetensors header 'w': duplicate key in the header; expected each tensor (and field) named once, got 'w' twice",
  );
});

test('a file over 2 GiB opens and reads by positioned pieces (readFile would throw ERR_FS_FILE_TOO_LARGE)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-big-'));
  try {
    // A sparse 2 GiB + 16-byte file: one big zero tensor, then a small one past the 2 GiB mark.
    const big = 2 ** 29; // float32 elements, 2 GiB
    const header = JSON.stringify({
      big: { dtype: 'F32', shape: [big], data_offsets: [0, 4 * big] },
      tail: { dtype: 'F32', shape: [4], data_offsets: [4 * big, 4 * big + 16] },
    });
    const prefix = headerBytes(header);
    const path = join(dir, 'model.safetensors');
    const fd = openSync(path, 'w');
    writeSync(fd, prefix);
    ftruncateSync(fd, prefix.length + 4 * big);
    writeSync(
      fd,
      new Uint8Array(new Float32Array([1.5, -2, 3, 4e-3]).buffer),
      0,
      16,
      prefix.length + 4 * big,
    );
    closeSync(fd);
    await assert.rejects(readFile(path), { code: 'ERR_FS_FILE_TOO_LARGE' });

    const file = await openSafetensorsFile(path, { pieceBytes: 5 });
    try {
      assert.deepEqual(
        file.entries.map((e) => [e.name, e.shape]),
        [
          ['big', [big]],
          ['tail', [4]],
        ],
      );
      const tail = await file.read(file.entries[1]!);
      assert.deepEqual([...tail], [...new Float32Array([1.5, -2, 3, 4e-3])]);
      // Read into a caller's array, converting nothing (F32 into Float32Array).
      const into = new Float32Array(4);
      assert.equal(await file.read(file.entries[1]!, into), into);
      assert.deepEqual([...into], [...tail]);
    } finally {
      await file.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing file, a folder and a truncated file are FormatErrors naming the path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-st-'));
  try {
    const missing = join(dir, 'nope.safetensors');
    await assert.rejects(
      readSafetensorsFile(missing),
      (e: unknown) => e instanceof FormatError && e.message === `${missing}: cannot read file, got ENOENT`,
    );
    await assert.rejects(
      readSafetensorsFile(dir),
      (e: unknown) =>
        e instanceof FormatError && e.message.startsWith(`${dir}: cannot read file, got EISDIR`),
    );
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(
      cut,
      Buffer.concat([
        headerBytes('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
        Buffer.alloc(8),
      ]),
    );
    await assert.rejects(
      readSafetensorsFile(cut),
      (e: unknown) =>
        e instanceof FormatError &&
        e.message.startsWith(
          `${cut}: safetensors tensor 'w'.data_offsets: data_offsets out of range; expected 0 <= begin <= end <= 8`,
        ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
