/**
 * Reading the binary answer of `POST /api/attention` (attention-format.ts writes it; the
 * layout is in docs/studio.md): the header, and each map as a Float32Array. Pure (no Node
 * APIs): the web app, the tests and the benchmark's client import it.
 */
import type { AttentionBinaryHeader, AttentionKind } from './api-types.js';

export interface DecodedAttentionMap {
  readonly attention: AttentionKind;
  readonly layer: number;
  readonly head: number;
  readonly rows: number;
  readonly cols: number;
  /** rows x cols, row-major. */
  readonly values: Float32Array;
}

export interface DecodedAttention {
  readonly header: AttentionBinaryHeader;
  readonly maps: readonly DecodedAttentionMap[];
}

let halfTable: Float32Array | null = null;

/** The value of every binary16 bit pattern (a lookup beats decoding each one). */
function halves(): Float32Array {
  if (halfTable === null) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      halfTable[h] =
        exponent === 0
          ? sign * mantissa * 2 ** -24
          : exponent === 0x1f
            ? mantissa === 0
              ? sign * Infinity
              : NaN
            : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
    }
  }
  return halfTable;
}

const magic = [0x4c, 0x4d, 0x46, 0x41]; // "LMFA"

/**
 * @example
 * const response = await fetch('/api/attention', { method: 'POST', body: JSON.stringify({ text, format: 'binary' }) });
 * const { header, maps } = decodeAttentionBinary(await response.arrayBuffer());
 */
export function decodeAttentionBinary(buffer: ArrayBuffer): DecodedAttention {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    throw new Error('not a binary attention answer (no LMFA header)');
  }
  const length = new DataView(buffer).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as AttentionBinaryHeader;
  const start = 8 + length;
  const table = header.dtype === 'float16' ? halves() : null;
  const maps = header.maps.map((info) => {
    const count = info.rows * info.cols;
    let values: Float32Array;
    if (table === null)
      values = new Float32Array(buffer.slice(start + info.offset, start + info.offset + count * 4));
    else {
      const bits = new Uint16Array(buffer, start + info.offset, count);
      values = new Float32Array(count);
      for (let k = 0; k < count; k++) values[k] = table[bits[k]!]!;
    }
    return { ...info, values };
  });
  return { header, maps };
}
