/**
 * One raw -> resolved field reader for configs (STYLE.md: configs are parsed once from raw
 * input into a readonly, fully resolved object; parse errors list every bad field). A
 * FieldReader reads fields of a raw object (user options, a converted config.json) with a
 * fallback for each absent one and collects a problem per bad field, under the name the
 * user wrote (a config.json key); `throwIfAny` then raises one ConfigError listing them all.
 */
import { ConfigError } from './errors.js';
import { previewJson } from './preview.js';

export type RawFields = Readonly<Record<string, unknown>>;

/**
 * @example
 * const read = new FieldReader(raw, (key) => names[key] ?? key);
 * const layers = read.integer('nLayer', 6, 1, 4096);
 * const act = read.oneOf('activation', 'relu', ['relu', 'gelu']);
 * read.throwIfAny('MarianConfig'); // one ConfigError: "2 invalid fields" listing each
 */
export class FieldReader {
  readonly problems: string[] = [];
  readonly #raw: RawFields;
  readonly #label: (key: string) => string;

  constructor(raw: RawFields, label: (key: string) => string = (key) => key) {
    this.#raw = raw;
    this.#label = label;
  }

  /** The raw value of `key`, or `fallback` when it is absent (undefined). */
  value(key: string, fallback: unknown): unknown {
    const value = this.#raw[key];
    return value === undefined ? fallback : value;
  }

  /** Records a problem with `key`: "<label>: expected <expected>, got <value>". */
  bad(key: string, expected: string, value: unknown = this.#raw[key]): void {
    this.problems.push(`${this.#label(key)}: expected ${expected}, got ${previewJson(value, 200)}`);
  }

  /** Records a free-form problem naming `key`. */
  problem(key: string, what: string): void {
    this.problems.push(`${this.#label(key)}: ${what}`);
  }

  /** An integer in [min, max]; NaN (and a problem) when it is not. */
  integer(key: string, fallback: number | undefined, min: number, max: number): number {
    const value = this.value(key, fallback);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.bad(key, `an integer in [${min}, ${max}]`, value);
      return NaN;
    }
    return value;
  }

  /** An integer in [min, max], or null (the field may say "none"). */
  integerOrNull(key: string, fallback: number | null, min: number, max: number): number | null {
    const value = this.value(key, fallback);
    if (value === null) return null;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.bad(key, `an integer in [${min}, ${max}] or null`, value);
      return NaN;
    }
    return value;
  }

  /** A finite number for which `ok` holds (`range` says which, for the message). */
  real(key: string, fallback: number, ok: (v: number) => boolean, range: string): number {
    const value = this.value(key, fallback);
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      this.bad(key, `a number ${range}`, value);
      return NaN;
    }
    return value;
  }

  /** One of `allowed`; `fallback` (and a problem) when it is not. */
  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.value(key, fallback);
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.bad(key, `one of ${allowed.join(' | ')}`, value);
      return fallback;
    }
    return value as T;
  }

  flag(key: string, fallback: boolean): boolean {
    const value = this.value(key, fallback);
    if (typeof value !== 'boolean') {
      this.bad(key, 'true or false', value);
      return fallback;
    }
    return value;
  }

  /** Throws one ConfigError at `where` listing every problem collected so far. */
  throwIfAny(where: string): void {
    // Each once: two fields set by one flag (--n-layer) report the same problem.
    const problems = [...new Set(this.problems)];
    const n = problems.length;
    if (n === 0) return;
    throw new ConfigError(`${n} invalid field${n === 1 ? '' : 's'}`, { where, actual: problems.join('; ') });
  }
}
