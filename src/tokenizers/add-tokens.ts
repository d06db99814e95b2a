/**
 * Adding special tokens to a tokenizer, as transformers' `add_special_tokens` does: each new
 * content gets the next id after the vocabulary (in the order given), is matched whole in
 * the raw text and never split; a content the tokenizer already has as a special token
 * keeps its id. The result is a new tokenizer (the old one is unchanged), whose
 * tokenizer.json lists the tokens under `added_tokens`.
 */
import { specialToken } from './added-tokens.js';
import { PipelineTokenizer } from './pipeline-tokenizer.js';
import type { Tokenizer } from './tokenizer.js';
import { parseTokenizerJson } from './tokenizer-json-read.js';

export interface AddedSpecialTokens {
  readonly tokenizer: Tokenizer;
  /** The contents that were new, in id order (empty: the tokenizer had them all). */
  readonly added: readonly string[];
}

/**
 * @example
 * const { tokenizer: chat, added } = addSpecialTokens(tokenizer, ['<|im_start|>', '<|im_end|>']);
 * chat.encode('<|im_start|>'); // [tokenizer.vocabSize]
 */
export function addSpecialTokens(tokenizer: Tokenizer, contents: readonly string[]): AddedSpecialTokens {
  const base =
    tokenizer instanceof PipelineTokenizer
      ? tokenizer
      : new PipelineTokenizer(parseTokenizerJson(JSON.stringify(tokenizer.toJSON()), 'tokenizer'));
  const added: string[] = [];
  for (const content of contents) {
    if (!base.specialTokens.has(content) && !added.includes(content)) added.push(content);
  }
  if (added.length === 0) return { tokenizer: base, added };
  // HF: a content the model's vocabulary already holds keeps that id; the others follow it.
  let next = base.vocabSize;
  const tokens = added.map((content) => specialToken(content, base.tokenToId(content) ?? next++));
  const spec = { ...base.spec, addedTokens: [...base.spec.addedTokens, ...tokens] };
  return { tokenizer: new PipelineTokenizer(spec, { specialsInText: base.specialsInText }), added };
}

/** Every added token of a tokenizer (id, content, special), for tokenizer_config.json's added_tokens_decoder. */
export function addedTokensOf(
  tokenizer: Tokenizer,
): Array<{ readonly id: number; readonly content: string; readonly special: boolean }> {
  if (!(tokenizer instanceof PipelineTokenizer)) return [];
  return tokenizer.spec.addedTokens.map((token) => ({
    id: tokenizer.tokenToId(token.content) ?? token.id,
    content: token.content,
    special: token.special,
  }));
}
