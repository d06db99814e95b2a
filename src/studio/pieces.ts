/**
 * The text of each token as `lmforge tokenize` shows it: a streaming decode (so a character
 * split over byte tokens appears on the token that completes it), else the vocabulary entry.
 */
import type { Tokenizer } from '../tokenizers/index.js';

export function tokenPieces(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  const stream = tokenizer.createStreamDecoder();
  return ids.map((id) => stream.push(id) || (tokenizer.idToToken(id) ?? ''));
}
