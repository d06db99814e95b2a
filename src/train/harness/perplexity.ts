/**
 * Perplexity of a text longer than the model's context, with a sliding window (as Hugging
 * Face's "Perplexity of fixed-length models" guide computes it): the model reads windows of
 * `window` tokens starting every `stride` tokens, and each window scores only the targets the
 * previous one did not, so every token after the first is predicted once, with at least
 * window - stride tokens of context after the first window. stride = window is
 * evaluateLoss's disjoint blocks; a smaller stride gives each prediction more context, at
 * window / stride times the compute.
 *
 * Bits per byte divide the total negative log-likelihood (in bits) by the text's UTF-8
 * bytes, so that models with different tokenizers (or an n-gram model) compare.
 */
import type { LanguageModel } from '../../models/index.js';
import { Tensor, logSoftmax, noGrad, scope } from '../../tensor/index.js';
import { ConfigError } from '../../util/errors.js';

export interface SlidingWindowOptions {
  /** Tokens the model reads per window (default and maximum: its maxPositions). */
  readonly window?: number;
  /** Tokens between window starts, 1..window (default window / 2). */
  readonly stride?: number;
  /** Windows per forward pass (default 8). */
  readonly batchSize?: number;
}

export interface SlidingWindowResult {
  /** Mean negative log-likelihood per predicted token, in nats. */
  readonly loss: number;
  readonly perplexity: number;
  /** Predicted tokens: ids.length - 1. */
  readonly tokens: number;
  readonly windows: number;
  readonly window: number;
  readonly stride: number;
}

/**
 * @example
 * const { perplexity } = slidingWindowPerplexity(model, ids, { window: 64, stride: 32 });
 */
export function slidingWindowPerplexity(
  model: LanguageModel,
  ids: Int32Array,
  options: SlidingWindowOptions = {},
): SlidingWindowResult {
  const window = options.window ?? model.maxPositions;
  const stride = options.stride ?? Math.max(1, Math.floor(window / 2));
  const batchSize = options.batchSize ?? 8;
  const where = 'slidingWindowPerplexity';
  if (!(Number.isSafeInteger(window) && window >= 1 && window <= model.maxPositions)) {
    throw new ConfigError('window out of range', {
      where: `${where}: window`,
      expected: `1..${model.maxPositions} (the model context)`,
      actual: window,
    });
  }
  if (!(Number.isSafeInteger(stride) && stride >= 1 && stride <= window)) {
    throw new ConfigError('stride out of range', {
      where: `${where}: stride`,
      expected: `1..${window} (the window)`,
      actual: stride,
    });
  }
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new ConfigError('batchSize must be an integer >= 1', {
      where: `${where}: batchSize`,
      actual: batchSize,
    });
  }
  if (ids.length < 2) {
    throw new ConfigError('the text is too short to evaluate', {
      where,
      expected: 'at least 2 tokens',
      actual: `${ids.length} tokens`,
    });
  }
  // Each window reads ids[begin, begin + length) and predicts ids[begin + 1, begin + length],
  // scoring the last `scored` of those targets: the ones no earlier window scored.
  const windows: Array<{ begin: number; length: number; scored: number }> = [];
  let scoredUpTo = 0; // targets ids[1 .. scoredUpTo] are done
  for (let begin = 0; scoredUpTo < ids.length - 1; begin += stride) {
    const end = Math.min(begin + window, ids.length - 1);
    windows.push({ begin, length: end - begin, scored: end - scoredUpTo });
    scoredUpTo = end;
  }
  let total = 0;
  for (let i = 0; i < windows.length;) {
    const group = [windows[i++]!];
    while (i < windows.length && group.length < batchSize && windows[i]!.length === group[0]!.length)
      group.push(windows[i++]!);
    const T = group[0]!.length;
    const x = new Int32Array(group.length * T);
    group.forEach((w, b) => x.set(ids.subarray(w.begin, w.begin + T), b * T));
    total += scope(() =>
      noGrad(() => {
        const logits = model.forward(Tensor.fromArray(x, [group.length, T]), { mode: 'eval' }); // (b, T, V)
        const V = logits.shape[2]!;
        const logProbs = logSoftmax(logits, -1).floats();
        let nll = 0;
        group.forEach((w, b) => {
          for (let t = T - w.scored; t < T; t++) nll -= logProbs[(b * T + t) * V + ids[w.begin + t + 1]!]!;
        });
        return nll;
      }),
    );
  }
  const tokens = ids.length - 1;
  const loss = total / tokens;
  return { loss, perplexity: Math.exp(loss), tokens, windows: windows.length, window, stride };
}

/** Bits per UTF-8 byte of `text` for a total loss of `loss` nats over `tokens` tokens. */
export function bitsPerByte(loss: number, tokens: number, text: string): number {
  return (loss * tokens) / Math.LN2 / Buffer.byteLength(text, 'utf8');
}
