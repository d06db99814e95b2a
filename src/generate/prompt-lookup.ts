/**
 * Prompt-lookup (n-gram) drafting (Saxena 2023, "Prompt Lookup Decoding"; HF's
 * `prompt_lookup_num_tokens`): no draft model. The last n ids of the context are searched
 * for earlier in the context (prompt and output), and the ids that followed that
 * occurrence are the draft. Longer n-grams are tried first (from `maxNgram` down to
 * `minNgram`); among occurrences of one n-gram the most recent wins, since nearby text
 * predicts the continuation best in code, quotes and repeated structure; the copy may run
 * into the ids it copies (an LZ77 overlap), so periodic text always gives a full draft.
 * Pure functions.
 */
import { ConfigError } from '../util/errors.js';

export interface PromptLookupOptions {
  /** Longest n-gram matched (default 3). */
  readonly maxNgram?: number;
  /** Shortest n-gram matched (default 1); 1 <= minNgram <= maxNgram. */
  readonly minNgram?: number;
}

/** The resolved n-gram range, each bound checked (integers, 1 <= min <= max). */
export function resolvePromptLookup(options: PromptLookupOptions = {}): Required<PromptLookupOptions> {
  const maxNgram = options.maxNgram ?? 3;
  const minNgram = options.minNgram ?? 1;
  if (!(Number.isInteger(minNgram) && Number.isInteger(maxNgram) && minNgram >= 1 && minNgram <= maxNgram)) {
    throw new ConfigError('the n-gram range of prompt lookup is invalid', {
      where: 'promptLookup',
      expected: 'integers with 1 <= minNgram <= maxNgram',
      actual: `minNgram ${minNgram}, maxNgram ${maxNgram}`,
    });
  }
  return { maxNgram, minNgram };
}

/**
 * `count` ids proposed to follow `context`: those after the most recent earlier occurrence
 * of its longest matching suffix n-gram; [] when no n-gram recurs.
 *
 * @example
 * promptLookupDraft([5, 6, 7, 8, 5, 6], 3); // [7, 8, 5]: "5 6" occurred at 0, followed by 7 8 5
 * promptLookupDraft([1, 2, 1, 2], 3); // [1, 2, 1]: "1 2" at 0, the copy runs on into itself
 */
export function promptLookupDraft(
  context: readonly number[],
  count: number,
  options: PromptLookupOptions = {},
): number[] {
  const { maxNgram, minNgram } = resolvePromptLookup(options);
  const length = context.length;
  if (count < 1) return [];
  for (let n = Math.min(maxNgram, length - 1); n >= minNgram; n--) {
    const suffix = length - n; // the n-gram is context[suffix, length)
    // An occurrence at `start` < suffix, most recent first, with at least one id after it.
    for (let start = suffix - 1; start >= 0; start--) {
      let same = true;
      for (let i = 0; i < n && same; i++) same = context[start + i] === context[suffix + i];
      if (!same) continue;
      // Copied as LZ77 copies: past the end of the context the copy reads its own ids, so
      // a recent occurrence of a periodic text still yields `count` ids.
      const draft: number[] = [];
      for (let i = 0; i < count; i++) {
        const from = start + n + i;
        draft.push(from < length ? context[from]! : draft[from - length]!);
      }
      return draft;
    }
  }
  return [];
}
