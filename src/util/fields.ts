/**
 * The raw -> resolved field validator of configs: reads the fields of a raw object (typed
 * options, or a config.json already mapped to lmforge's field names) with their defaults,
 * and collects every problem under the field's display name (its config.json key when the
 * raw object came from one), so that one ConfigError lists every bad field.
 *
 * @example
 * const fields = new FieldReader(raw, (key) => hfNames[key] ?? key);
 * const nLayer = fields.int('nLayer', undefined, 1, 4096);
 * const eps = fields.real('normEps', 1e-12, (v) => v > 0, '> 0');
 * fields.throwIfAny('config.json'); // "2 invalid fields": each named, in one error
 */
import { ConfigError } from './errors.js';
import { previewJson } from './preview.js';

export class FieldReader<Key extends string = string> {
  readonly problems: string[];
  readonly #raw: Readonly<Record<string, unknown>>;
  readonly #label: (key: Key) => string;

  /** `problems` may hold what a mapping found before (an HF name it cannot map). */
  constructor(
    raw: Readonly<Record<string, unknown>>,
    label: (key: Key) => string = (key) => key,
    problems: string[] = [],
  ) {
    this.#raw = raw;
    this.#label = label;
    this.problems = problems;
  }

  /** The display name of a field. */
  label(key: Key): string {
    return this.#label(key);
  }

  /** The raw value, or `fallback` when it is absent (undefined). */
  value(key: Key, fallback?: unknown): unknown {
    const value = this.#raw[key];
    return value === undefined ? fallback : value;
  }

  problem(key: Key, message: string): void {
    this.problems.push(`${this.label(key)}: ${message}`);
  }

  /** Reports every raw key that is not in `known`. */
  rejectUnknown(known: readonly string[]): void {
    for (const key of Object.keys(this.#raw)) {
      if (!known.includes(key)) this.problems.push(`${key}: unknown field`);
    }
  }

  /** An integer in [min, max]; NaN (and a problem) otherwise. */
  int(key: Key, fallback: number | undefined, min: number, max: number): number {
    const value = this.value(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problem(key, `expected an integer in [${min}, ${max}], got ${previewJson(value, 200)}`);
      return NaN;
    }
    return value;
  }

  /** A finite number passing `ok` (described by `range`); NaN (and a problem) otherwise. */
  real(key: Key, fallback: number, ok: (value: number) => boolean, range: string): number {
    const value = this.value(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      this.problem(key, `expected a number ${range}, got ${previewJson(value, 200)}`);
      return NaN;
    }
    return value;
  }

  /** One of `allowed`; `fallback` (and a problem) otherwise. */
  oneOf<T extends string>(key: Key, fallback: T, allowed: readonly T[]): T {
    const value = this.value(key, fallback);
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.problem(key, `expected one of ${allowed.join(' | ')}, got ${previewJson(value, 200)}`);
      return fallback;
    }
    return value as T;
  }

  flag(key: Key, fallback: boolean): boolean {
    const value = this.value(key, fallback);
    if (typeof value !== 'boolean') {
      this.problem(key, `expected true or false, got ${previewJson(value, 200)}`);
      return fallback;
    }
    return value;
  }

  /** One ConfigError at `where` listing every problem (in `actual`), if there is any. */
  throwIfAny(where: string): void {
    const n = this.problems.length;
    if (n === 0) return;
    throw new ConfigError(`${n} invalid field${n === 1 ? '' : 's'}`, {
      where,
      actual: this.problems.join('; '),
    });
  }
}
