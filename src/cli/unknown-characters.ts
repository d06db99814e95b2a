/**
 * The one-line warning for characters a tokenizer dropped because its vocabulary lacks them
 * (a char-level model meeting text it was not trained on), printed by eval, generate,
 * tokenize and train.
 */
import { UnknownCharacters, type Tokenizer } from '../tokenizers/index.js';

const EXAMPLES = 5;

/**
 * Prints `lmforge: warning: N characters of <of> (K distinct: 'é', '—', '\t') are not in the
 * tokenizer's vocabulary and were dropped` on stderr, when any were.
 */
export function warnUnknownCharacters(unknown: UnknownCharacters, of: string): void {
  if (unknown.count === 0) return;
  const examples = unknown.examples(EXAMPLES).map((char) => `'${JSON.stringify(char).slice(1, -1)}'`);
  const more = unknown.distinct > EXAMPLES ? ', …' : '';
  const line =
    unknown.count === 1
      ? `1 character of ${of} (${examples.join('')}) is not in the tokenizer's vocabulary and was dropped`
      : `${unknown.count.toLocaleString('en')} characters of ${of} (${unknown.distinct.toLocaleString('en')} distinct: ` +
        `${examples.join(', ')}${more}) are not in the tokenizer's vocabulary and were dropped`;
  process.stderr.write(`lmforge: warning: ${line}\n`);
}

/** Encodes `text` only to count what `tokenizer` would drop of it, and warns (see above). */
export function warnUnknownIn(tokenizer: Tokenizer, text: string, of: string): void {
  const unknown = new UnknownCharacters();
  tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown });
  warnUnknownCharacters(unknown, of);
}
