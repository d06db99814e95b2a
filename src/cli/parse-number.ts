/**
 * Commander argument parsers for numeric flags. Each accepts plain decimal text only and
 * the flag's real range, and rejects anything else with the range and the text given:
 * `expected an integer >= 1, got "0"`. Hex (`0x10`), `Infinity`, `NaN`, `1e400` (which
 * overflows to Infinity), empty text and, for integers, `1.5` and `1e3` are all rejected:
 * `Number()` would quietly turn several of them into numbers nobody meant.
 *
 * @example
 * command.option('--batch-size <n>', 'blocks per forward pass', integer({ min: 1 }), 8);
 * command.option('--top-p <x>', 'nucleus mass', real({ above: 0, max: 1 }));
 */
import { InvalidArgumentError } from 'commander';

/** The bounds a number may take; `min`/`max` are inclusive, `above`/`below` exclusive. */
export interface NumberRange {
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  readonly below?: number;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** `>= 1`, `> 0`, `in [0, 1)`, `in (0, 1]`, or '' for no bounds. */
function describeRange(range: NumberRange): string {
  const low = range.min ?? range.above;
  const high = range.max ?? range.below;
  if (low !== undefined && high !== undefined) {
    return `in ${range.min !== undefined ? '[' : '('}${low}, ${high}${range.max !== undefined ? ']' : ')'}`;
  }
  if (range.min !== undefined) return `>= ${range.min}`;
  if (range.above !== undefined) return `> ${range.above}`;
  if (range.max !== undefined) return `<= ${range.max}`;
  if (range.below !== undefined) return `< ${range.below}`;
  return '';
}

function inRange(n: number, range: NumberRange): boolean {
  return (
    (range.min === undefined || n >= range.min) &&
    (range.above === undefined || n > range.above) &&
    (range.max === undefined || n <= range.max) &&
    (range.below === undefined || n < range.below)
  );
}

function reject(kind: string, range: NumberRange, value: string): never {
  const bounds = describeRange(range);
  throw new InvalidArgumentError(`expected ${kind}${bounds === '' ? '' : ' ' + bounds}, got "${value}"`);
}

/**
 * A parser for an integer flag in `range` (and always within ±(2^53 - 1), where every
 * integer is exact; beyond that the message names the safe range).
 */
export function integer(range: NumberRange = {}): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!INTEGER.test(value)) reject('an integer', range, value);
    if (!Number.isSafeInteger(n)) {
      // Past 2^53 the range is the safe one, where the flag has no tighter bound of its own.
      const safe = Number.MAX_SAFE_INTEGER;
      const low = range.min === undefined && range.above === undefined ? { min: -safe } : {};
      const high = range.max === undefined && range.below === undefined ? { max: safe } : {};
      reject('an integer', { ...range, ...low, ...high }, value);
    }
    if (!inRange(n, range)) reject('an integer', range, value);
    return n;
  };
}

/** A parser for a finite decimal number flag in `range`. */
export function real(range: NumberRange = {}): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!DECIMAL.test(value)) reject('a number', range, value);
    if (!Number.isFinite(n)) reject('a finite number', range, value);
    if (!inRange(n, range)) reject('a number', range, value);
    return n;
  };
}
