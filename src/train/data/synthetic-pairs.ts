/**
 * Built-in synthetic sequence-to-sequence tasks, the classic check that an encoder-decoder
 * learns at all (the copy and reverse tasks of the sequence-to-sequence literature):
 * - `copy`: a random sequence of symbols -> the same sequence;
 * - `reverse`: a random sequence of symbols -> the sequence reversed.
 *
 * A sequence is `minLength` to `maxLength` symbols (uniform) drawn uniformly with
 * replacement from the first `symbols` lower-case letters, written with a space between
 * them (`q f a k`), so that a byte-level BPE makes each symbol one token and sacreBLEU's 13a
 * tokenizer one word. Validation sequences are held out: no training source equals a
 * validation source. The same options give the same pairs (the training pairs from `seed`,
 * the validation pairs from `seed + 1`). A pair's `where` is `copy train #12` / `reverse
 * validation #3`.
 */
import { Rng } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';
import type { TextPair } from './pairs.js';

export type SyntheticPairTaskName = 'copy' | 'reverse';

export const syntheticPairTaskNames: readonly SyntheticPairTaskName[] = Object.freeze(['copy', 'reverse']);

export interface SyntheticPairTaskOptions {
  /** Training pairs (default 20000). */
  readonly limit?: number;
  /** Validation pairs (default 500). */
  readonly validationLimit?: number;
  /** Distinct symbols, 2 to 26 (default 26: a to z). */
  readonly symbols?: number;
  /** Shortest sequence, in symbols (default 3). */
  readonly minLength?: number;
  /** Longest sequence, in symbols (default 12). */
  readonly maxLength?: number;
  /** Seed of the draw (default 0). */
  readonly seed?: number;
}

export interface SyntheticPairTask {
  readonly name: SyntheticPairTaskName;
  readonly train: readonly TextPair[];
  readonly validation: readonly TextPair[];
}

interface Resolved {
  readonly limit: number;
  readonly validationLimit: number;
  readonly symbols: number;
  readonly minLength: number;
  readonly maxLength: number;
  readonly seed: number;
}

function resolveOptions(name: SyntheticPairTaskName, options: SyntheticPairTaskOptions): Resolved {
  const problems: string[] = [];
  if (!syntheticPairTaskNames.includes(name))
    problems.push(`task: expected ${syntheticPairTaskNames.join(' | ')}, got ${JSON.stringify(name)}`);
  const integer = (
    field: keyof SyntheticPairTaskOptions,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    const value = options[field] ?? fallback;
    if (!(Number.isSafeInteger(value) && value >= min && value <= max))
      problems.push(`${field}: expected an integer in [${min}, ${max}], got ${value}`);
    return value;
  };
  const resolved = {
    limit: integer('limit', 20000, 1, 10_000_000),
    validationLimit: integer('validationLimit', 500, 1, 1_000_000),
    symbols: integer('symbols', 26, 2, 26),
    minLength: integer('minLength', 3, 1, 1000),
    maxLength: integer('maxLength', 12, 1, 1000),
    seed: integer('seed', 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1),
  };
  if (resolved.maxLength < resolved.minLength)
    problems.push(
      `maxLength: expected at least minLength (${resolved.minLength}), got ${resolved.maxLength}`,
    );
  if (problems.length === 0) {
    // The distinct sequences there are must cover both splits, which share none.
    let distinct = 0;
    for (let n = resolved.minLength; n <= resolved.maxLength && distinct < 2 ** 53; n++)
      distinct += resolved.symbols ** n;
    if (distinct < resolved.limit + resolved.validationLimit) {
      problems.push(
        `limit + validationLimit: expected at most the ${distinct} distinct sequences of ${resolved.symbols} symbols ` +
          `and ${resolved.minLength} to ${resolved.maxLength} long, got ${resolved.limit + resolved.validationLimit}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} invalid option${problems.length === 1 ? '' : 's'}`, {
      where: 'syntheticPairTask',
      actual: problems.join('; '),
    });
  }
  return resolved;
}

/**
 * @example
 * const { train, validation } = syntheticPairTask('reverse', { limit: 5000 });
 * train[0]; // { source: 'q f a k', target: 'k a f q', where: 'reverse train #1' }
 */
export function syntheticPairTask(
  name: SyntheticPairTaskName,
  options: SyntheticPairTaskOptions = {},
): SyntheticPairTask {
  const { limit, validationLimit, symbols, minLength, maxLength, seed } = resolveOptions(name, options);
  const sequence = (rng: Rng): string[] =>
    Array.from({ length: rng.randint(minLength, maxLength + 1) }, () =>
      String.fromCharCode(97 + rng.randint(0, symbols)),
    );
  const pair = (symbolsOf: readonly string[], where: string): TextPair => ({
    source: symbolsOf.join(' '),
    target: (name === 'copy' ? [...symbolsOf] : [...symbolsOf].reverse()).join(' '),
    where,
  });
  // Validation first, so that training can skip its sources.
  const heldOut = new Set<string>();
  const validation: TextPair[] = [];
  const validationRng = new Rng(seed + 1);
  while (validation.length < validationLimit) {
    const symbolsOf = sequence(validationRng);
    const source = symbolsOf.join(' ');
    if (heldOut.has(source)) continue;
    heldOut.add(source);
    validation.push(pair(symbolsOf, `${name} validation #${validation.length + 1}`));
  }
  const train: TextPair[] = [];
  const trainRng = new Rng(seed);
  while (train.length < limit) {
    const symbolsOf = sequence(trainRng);
    if (heldOut.has(symbolsOf.join(' '))) continue;
    train.push(pair(symbolsOf, `${name} train #${train.length + 1}`));
  }
  return { name, train, validation };
}
