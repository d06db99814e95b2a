/**
 * The Python string semantics sacreBLEU's metrics rest on, so that scores match it on any
 * text: `str.split()` / `str.rstrip()` (Python's whitespace is not JavaScript's `\s`: it
 * adds U+001C..U+001F and U+0085 and leaves out U+FEFF), strings indexed by code point (a
 * JavaScript string is indexed by UTF-16 unit, which would split an emoji into two
 * "characters"), `collections.Counter`, and `f"{x:.2f}"` (round half to even on the exact
 * binary value, where `Number.prototype.toFixed` rounds exact ties up).
 */

/** The characters for which Python's `str.isspace()` is true (Python 3.11, Unicode 14). */
const pythonWhitespace =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const whitespaceRun = new RegExp(`[${pythonWhitespace}]+`, 'u');
const trailingWhitespace = new RegExp(`[${pythonWhitespace}]+$`, 'u');

/** Python's `line.split()`: the words between runs of whitespace, none empty. */
export function pythonSplit(line: string): string[] {
  return line.split(whitespaceRun).filter((word) => word !== '');
}

/** Python's `line.rstrip()`. */
export function pythonRstrip(line: string): string {
  return line.replace(trailingWhitespace, '');
}

/** n-gram counts, Python's `collections.Counter` of n-gram keys. */
export type Counts = Map<string, number>;

export function countInto(counts: Counts, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** The sum of all counts (`sum(counter.values())`). */
export function totalCount(counts: Counts): number {
  let total = 0;
  for (const count of counts.values()) total += count;
  return total;
}

/**
 * Python's `f"{value:.{digits}f}"` for finite values below 1e21: the exact binary value
 * rounded half to even (toFixed picks the larger candidate on an exact tie: 0.125 -> "0.13"
 * where Python gives "0.12").
 */
export function formatFixed(value: number, digits: number): string {
  const rounded = value.toFixed(digits);
  // toFixed(100) is the exact decimal expansion for the magnitudes scores have.
  const exact = Math.abs(value).toFixed(100);
  const point = exact.indexOf('.');
  const tail = exact.slice(point + 1 + digits);
  if (!/^50*$/.test(tail)) return rounded;
  // An exact tie: keep the even neighbour, which is the truncated value when its last digit is even.
  const kept = exact.slice(0, point + 1 + digits).replace(/\.$/, '');
  const lastDigit = Number(kept[kept.length - 1]);
  if (lastDigit % 2 !== 0) return rounded;
  return value < 0 ? `-${kept}` : kept;
}
