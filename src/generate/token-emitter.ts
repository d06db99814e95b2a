/**
 * The text side of generation, one generated id at a time: EOS, stop strings and UTF-8-safe
 * text deltas, shared by plain generation (generate.ts) and speculative decoding
 * (speculative.ts), which accepts several ids per model call but emits them one by one.
 *
 * An EOS id ends generation with finishReason 'eos' and no text. A stop string ends it with
 * the text before it (never the stop string itself). Text that might begin a stop string is
 * held back until it is known not to; the stream decoder never emits half a character.
 */
import type { Tokenizer } from '../tokenizers/index.js';
import type { FinishReason } from './generate.js';

/** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

export class TokenEmitter {
  readonly #decoder;
  readonly #stops: readonly string[];
  readonly #eos: ReadonlySet<number>;
  #output = ''; // decoded output text so far
  #emitted = 0; // characters of #output already yielded

  constructor(tokenizer: Tokenizer, stops: readonly string[], eos: ReadonlySet<number>) {
    this.#decoder = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    this.#stops = stops.filter((s) => s !== '');
    this.#eos = eos;
  }

  /**
   * The text `id` completes and whether it ends generation; `last` says it is the last id
   * the budget allows (the pending text is flushed).
   */
  push(id: number, last: boolean): { text: string; finishReason: FinishReason | null } {
    let finishReason: FinishReason | null = null;
    if (this.#eos.has(id)) {
      finishReason = 'eos';
    } else {
      this.#output += this.#decoder.push(id);
    }
    if (last || finishReason === 'eos') {
      finishReason ??= 'length';
      this.#output += this.#decoder.flush();
    }
    // Held-back text never contains a whole stop string, so searching from #emitted suffices.
    let stopAt = -1;
    for (const stop of this.#stops) {
      const at = this.#output.indexOf(stop, this.#emitted);
      if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    let end = this.#output.length;
    if (stopAt >= 0) {
      end = stopAt;
      finishReason = 'stop';
    } else if (finishReason === null) {
      end = this.#output.length - pendingStopPrefix(this.#output, this.#stops);
    }
    const text = end > this.#emitted ? this.#output.slice(this.#emitted, end) : '';
    this.#emitted = Math.max(this.#emitted, end);
    return { text, finishReason };
  }
}
