/**
 * Scores of generated answers, as the SQuAD evaluation script (v1.1) computes them: both
 * texts normalised (lower case, punctuation and the articles a, an, the removed, whitespace
 * collapsed), then exact match, and F1 over the words the two share (as a multiset). With
 * several accepted answers the best score counts.
 */

/** SQuAD's normalize_answer. */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter((word) => word !== '')
    .join(' ');
}

export function exactMatch(prediction: string, answers: readonly string[]): number {
  const p = normalizeAnswer(prediction);
  return answers.some((answer) => normalizeAnswer(answer) === p) ? 1 : 0;
}

/** Token F1 of the prediction against its best answer. */
export function tokenF1(prediction: string, answers: readonly string[]): number {
  const words = normalizeAnswer(prediction)
    .split(' ')
    .filter((w) => w !== '');
  let best = 0;
  for (const answer of answers) {
    const gold = normalizeAnswer(answer)
      .split(' ')
      .filter((w) => w !== '');
    if (words.length === 0 || gold.length === 0) {
      best = Math.max(best, words.length === gold.length ? 1 : 0);
      continue;
    }
    const counts = new Map<string, number>();
    for (const w of gold) counts.set(w, (counts.get(w) ?? 0) + 1);
    let common = 0;
    for (const w of words) {
      const left = counts.get(w) ?? 0;
      if (left > 0) {
        common++;
        counts.set(w, left - 1);
      }
    }
    if (common === 0) continue;
    const precision = common / words.length;
    const recall = common / gold.length;
    best = Math.max(best, (2 * precision * recall) / (precision + recall));
  }
  return best;
}

/** The standard error of a mean of n values (sample standard deviation / sqrt(n)), as lm-evaluation-harness reports it. */
export function standardError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return Math.sqrt(variance / n);
}
