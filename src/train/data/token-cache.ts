/**
 * The cached token file: a corpus is tokenized once and the ids are stored on disk, keyed
 * by a SHA-256 of the text and of the tokenizer's JSON, so the next run with the same data
 * and tokenizer skips tokenization. Layout (little-endian):
 *
 *   bytes 0..7   magic "LMFTOK1\0"
 *   bytes 8..15  token count n (uint64; a float64-safe integer)
 *   bytes 16..   n int32 ids
 *
 * A file whose length does not match its header is rejected (and re-made by the caller).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../util/errors.js';
import { writeFileAtomic } from '../../util/atomic-file.js';

const magic = 'LMFTOK1\0';
const headerBytes = 16;

/** The cache key: a hash over every input that changes the ids. */
export function tokenCacheKey(text: string, tokenizerJson: object): string {
  const hash = createHash('sha256');
  hash.update('lmforge-tokens-v1\0');
  hash.update(JSON.stringify(tokenizerJson));
  hash.update('\0');
  hash.update(text);
  return hash.digest('hex').slice(0, 32);
}

export function tokenCachePath(cacheDir: string, key: string): string {
  return join(cacheDir, `tokens-${key}.bin`);
}

export function encodeTokenFile(ids: Int32Array): Uint8Array {
  const out = new Uint8Array(headerBytes + ids.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = magic.charCodeAt(i);
  view.setUint32(8, ids.length % 2 ** 32, true);
  view.setUint32(12, Math.floor(ids.length / 2 ** 32), true);
  for (let i = 0; i < ids.length; i++) view.setInt32(headerBytes + 4 * i, ids[i]!, true);
  return out;
}

export function decodeTokenFile(bytes: Uint8Array, where: string): Int32Array {
  const ok = bytes.length >= headerBytes && [...magic].every((c, i) => bytes[i] === c.charCodeAt(0));
  if (!ok)
    throw new FormatError('not an lmforge token file', { where, expected: `magic ${JSON.stringify(magic)}` });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(8, true) + view.getUint32(12, true) * 2 ** 32;
  if (bytes.length !== headerBytes + count * 4) {
    throw new FormatError('token file is truncated or has trailing bytes', {
      where,
      expected: `${headerBytes + count * 4} bytes for ${count} tokens`,
      actual: `${bytes.length} bytes`,
    });
  }
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) ids[i] = view.getInt32(headerBytes + 4 * i, true);
  return ids;
}

/** Reads the cached ids for `key`, or null when there is no (valid) cache file. */
export async function readTokenCache(cacheDir: string, key: string): Promise<Int32Array | null> {
  const path = tokenCachePath(cacheDir, key);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    return null;
  }
  try {
    return decodeTokenFile(bytes, path);
  } catch (error) {
    // A damaged cache is a cache miss: it is rebuilt (and replaced atomically) from the text.
    if (error instanceof FormatError) return null;
    throw error;
  }
}

export async function writeTokenCache(cacheDir: string, key: string, ids: Int32Array): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  const path = tokenCachePath(cacheDir, key);
  await writeFileAtomic(path, encodeTokenFile(ids));
  return path;
}
