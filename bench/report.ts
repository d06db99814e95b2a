/**
 * What the benchmark scripts share for their output: a flag's value, progress lines on
 * stderr, one JSON record per stdout line, rounding and the median of timed rounds.
 */

/** The value after `--name` on the command line, if given. */
export const argument = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};

/** A progress or result line for people (stderr). */
export const say = (text: string): void => void process.stderr.write(text + '\n');

/** A result record for machines: one JSON object a line (stdout). */
export const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');

export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** The upper median (an element of the list: a measured round, not an average of two). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
