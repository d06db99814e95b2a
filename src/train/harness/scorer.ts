/**
 * What the evaluation harness asks of a model, as lm-evaluation-harness asks it (its
 * `loglikelihood` and `generate_until` requests): the log-probability of a continuation
 * after a context, and greedy text after a context until a stop string. A neural model with
 * its tokenizer (model-scorer.ts) and an n-gram model with its units (ngram-scorer.ts) both
 * answer them, so every task runs on either.
 */

/** log p(continuation | context). */
export interface LoglikelihoodRequest {
  readonly context: string;
  readonly continuation: string;
}

export interface LoglikelihoodResult {
  /** Natural-log probability of the continuation's tokens given the context. */
  readonly logLikelihood: number;
  /** Tokens (or units) the continuation was scored as. */
  readonly tokens: number;
  /** Whether greedy decoding from the context would produce exactly these tokens. */
  readonly greedy: boolean;
}

/** Greedy text after `context`, cut before the first stop string. */
export interface GenerationRequest {
  readonly context: string;
  readonly stop: readonly string[];
  /** Tokens (units) to generate at most. */
  readonly maxTokens: number;
}

export interface Scorer {
  /** A name for reports (the model folder, the ARPA file). */
  readonly name: string;
  logLikelihood(requests: readonly LoglikelihoodRequest[]): LoglikelihoodResult[];
  generate(requests: readonly GenerationRequest[]): Promise<string[]>;
}

/** The text before the first of `stops` (all of it when none occurs). */
export function cutAtStop(text: string, stops: readonly string[]): string {
  let end = text.length;
  for (const stop of stops) {
    if (stop === '') continue;
    const at = text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end);
}
