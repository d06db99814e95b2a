/**
 * EncodeOptions.maxTokens, the token budget for untrusted input: every tokenizer checks it
 * while it encodes (after each word), so a huge input stops with a TokenizerError once the
 * budget is spent instead of building ids for all of it.
 */
import { ConfigError, TokenizerError } from '../util/errors.js';
import type { EncodeOptions } from './tokenizer.js';

/** The budget of `options` (Infinity: none); a value that is not an integer >= 0 is a ConfigError. */
export function tokenBudget(options: EncodeOptions | undefined): number {
  const budget = options?.maxTokens;
  if (budget === undefined) return Infinity;
  if (!Number.isSafeInteger(budget) || budget < 0) {
    throw new ConfigError('maxTokens must be an integer >= 0', {
      where: 'encode: maxTokens',
      actual: budget,
    });
  }
  return budget;
}

/** The error for a text that encodes to more than `budget` ids. */
export function overBudget(budget: number): TokenizerError {
  return new TokenizerError(`the text encodes to more than ${budget} tokens`, {
    where: 'encode: maxTokens',
    expected: `at most ${budget} tokens`,
    hint: 'shorten the input or raise the token budget',
  });
}
