/**
 * Typed access to GGUF metadata: each getter checks the value's type and range and names
 * the key (and the file) when it is wrong, so a mapping reads `llama.block_count` as a
 * count in one call. Integer keys are accepted in any integer type whose value fits
 * (writers differ: llama.cpp's gguf-py writes uint32, others int32 or uint64); float keys
 * as float32 or float64.
 */
import { FormatError } from '../util/errors.js';
import type { GgufScalarType, GgufValue } from './gguf-types.js';

const integerTypes: ReadonlySet<GgufScalarType> = new Set([
  'uint8',
  'int8',
  'uint16',
  'int16',
  'uint32',
  'int32',
  'uint64',
  'int64',
]);

/** A human form of a value's type: `uint32`, `array[string]`. */
function typeName(value: GgufValue): string {
  return value.type === 'array' ? `array[${value.itemType}]` : value.type;
}

/** The shortest decimal whose float32 rounding is `value` (a float32). */
export function shortestFloat32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

export class GgufMetadata {
  constructor(
    readonly entries: ReadonlyMap<string, GgufValue>,
    /** The file, named in errors. */
    readonly source: string,
  ) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  #fail(key: string, expected: string, actual: string): never {
    throw new FormatError(`metadata '${key}' is not ${expected}`, {
      where: `${this.source}: ${key}`,
      expected,
      actual,
    });
  }

  #required<T>(key: string, value: T | undefined, expected: string): T {
    if (value === undefined) {
      throw new FormatError('required metadata key missing', { where: `${this.source}: ${key}`, expected });
    }
    return value;
  }

  /** An integer in [min, max] (default [0, 2^53 - 1]); undefined when the key is absent. */
  integer(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    const range = `an integer in [${min}, ${max}]`;
    if (value.type === 'array' || !integerTypes.has(value.type)) this.#fail(key, range, typeName(value));
    const n = value.value as number | bigint;
    if (n < min || n > max) this.#fail(key, range, String(n));
    return Number(n);
  }

  requiredInteger(key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    return this.#required(key, this.integer(key, min, max), `an integer in [${min}, ${max}]`);
  }

  /**
   * A finite float32/float64; undefined when absent. A float32 is given as the shortest
   * decimal that rounds to it (1e-5, not 9.999999747378752e-6), the number its writer meant.
   */
  float(key: string): number | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type !== 'float32' && value.type !== 'float64') this.#fail(key, 'a float', typeName(value));
    if (!Number.isFinite(value.value)) this.#fail(key, 'a finite float', String(value.value));
    return value.type === 'float32' ? shortestFloat32(value.value) : value.value;
  }

  requiredFloat(key: string): number {
    return this.#required(key, this.float(key), 'a float');
  }

  string(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type !== 'string') this.#fail(key, 'a string', typeName(value));
    return value.value;
  }

  requiredString(key: string): string {
    return this.#required(key, this.string(key), 'a string');
  }

  bool(key: string): boolean | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type !== 'bool') this.#fail(key, 'a bool', typeName(value));
    return value.value;
  }

  /** An array of strings; undefined when absent. */
  strings(key: string): readonly string[] | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type !== 'array' || value.itemType !== 'string')
      this.#fail(key, 'an array of strings', typeName(value));
    return value.values;
  }

  /** An array of float32 (int32 arrays are accepted as llama.cpp does for scores); undefined when absent. */
  floats(key: string): Float32Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type === 'array' && value.itemType === 'float32') return value.values;
    if (value.type === 'array' && value.itemType === 'int32') return Float32Array.from(value.values);
    return this.#fail(key, 'an array of float32', typeName(value));
  }

  /** An array of int32; undefined when absent. */
  int32s(key: string): Int32Array | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (value.type !== 'array' || value.itemType !== 'int32')
      this.#fail(key, 'an array of int32', typeName(value));
    return value.values;
  }
}
