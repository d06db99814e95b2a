/**
 * The safetensors header (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian length N, then N bytes of JSON
 *
 *   { "__metadata__"?: { string: string },
 *     name: { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] }, ... }
 *
 * with offsets relative to the first byte after the header. Parsing validates it as the
 * reference implementation does: no duplicate keys, offsets in range, agreeing with the
 * shape, contiguous and covering the data exactly. Only the header is needed, so a
 * caller can check a file against what it expects before reading (or allocating) any
 * tensor data.
 */
import { FormatError, type ErrorDetails } from '../util/errors.js';
import { findDuplicateKey } from './json-duplicate-key.js';
import { jsonText, previewJson } from '../util/preview.js';

/** Element types this reader understands (the format defines more: I8, I16, U16, U32, U64, F8_*). */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export const itemBytes: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
};

/** The dtypes that hold floating-point values (the others load as int32). */
export const floatDTypes: ReadonlySet<SafetensorsDType> = new Set(['F64', 'F32', 'F16', 'BF16']);

/** The reference implementation's limit; also bounds what a hostile length can make us decode. */
export const maxHeaderBytes = 100_000_000;

/** One tensor of the header, validated against the data length. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte range relative to the start of the data. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** Tensors in data (offset) order. */
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Readonly<Record<string, string>>;
  /** File offset of the first data byte (8 + header length). */
  readonly dataStart: number;
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
function parseEntry(name: string, raw: unknown, dataBytes: number): SafetensorsEntry {
  const where = `safetensors tensor '${name}'`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail('header entry is not an object', {
      where: where,
      expected: '{ dtype, shape, data_offsets }',
      actual: jsonText(raw),
    });
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDType(dtype)) {
    fail('unsupported dtype', {
      where: `${where}.dtype`,
      expected: Object.keys(itemBytes).join('|'),
      actual: jsonText(dtype),
    });
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    fail('shape must be a list of non-negative integers', {
      where: `${where}.shape`,
      expected: 'e.g. [2, 3]',
      actual: jsonText(shape),
    });
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    fail('data_offsets must be [begin, end]', {
      where: `${where}.data_offsets`,
      expected: '[begin, end]',
      actual: jsonText(offsets),
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
  // A zero dimension anywhere makes the tensor empty, even after the loop stopped early.
  if (shape.includes(0)) bytes = 0;
  if (bytes !== end - begin) {
    fail('shape and data_offsets disagree', {
      where: where,
      expected: `${end - begin} bytes (data_offsets [${begin}, ${end}])`,
      actual: `${dtype} shape [${shape.join(', ')}]`,
    });
  }
  return { name, dtype, shape, begin, end };
}

/**
 * The header length from the first 8 bytes of a file of `fileBytes` bytes, checked to fit
 * in the file and under the reference limit.
 */
export function headerLength(prefix: Uint8Array, fileBytes: number): number {
  if (fileBytes < 8 || prefix.length < 8)
    fail('file is shorter than the 8-byte header length', {
      where: 'safetensors',
      expected: '>= 8 bytes',
      actual: fileBytes,
    });
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (length > fileBytes - 8 || length > maxHeaderBytes) {
    fail('header length is larger than the file', {
      where: 'safetensors header length',
      expected: `at most ${Math.min(fileBytes - 8, maxHeaderBytes)}`,
      actual: length,
      hint: 'the file is truncated or not a safetensors file',
    });
  }
  return length;
}

/**
 * Parses and checks the JSON header `json` (the N bytes after the length) of a file whose
 * data part is `dataBytes` long; nothing is allocated per tensor.
 */
export function parseHeader(json: Uint8Array, dataBytes: number): SafetensorsHeader {
  if (json.length < 2 || json[0] !== 0x7b /* '{' */) {
    fail('header does not start with a JSON object', {
      where: 'safetensors header',
      expected: "'{'",
      actual: `${json.length}-byte header`,
    });
  }
  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
    header = JSON.parse(text);
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
      actual: previewJson(header),
    });
  }
  // JSON.parse kept the last of two equal keys; the reference reader rejects the file.
  const duplicate = findDuplicateKey(text);
  if (duplicate !== null) {
    fail('duplicate key in the header', {
      where: `safetensors header '${duplicate}'`,
      expected: 'each tensor (and field) named once',
      actual: `'${duplicate}' twice`,
    });
  }
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        fail('__metadata__ is not an object', {
          where: 'safetensors __metadata__',
          expected: 'a string-to-string map',
          actual: jsonText(raw),
        });
      }
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') {
          fail('metadata values must be strings', {
            where: `safetensors __metadata__.${key}`,
            expected: 'a string',
            actual: jsonText(value),
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
  return { entries, metadata, dataStart: 8 + json.length };
}
