/**
 * `generate --draft DRAFT_DIR|ngram`: the drafter of speculative decoding. `ngram` is prompt
 * lookup (no model); anything else is a model folder or .gguf file whose tokenizer must be
 * the target's, id for id (a folder trained by `lmforge train` on the same tokenizer, or
 * made by `lmforge distill`). A folder literally named ngram is given as ./ngram.
 */
import type { Draft } from '../generate/index.js';
import { vocabularyDifference } from '../generate/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { loadModelWithTokenizer } from './load-model.js';

export interface LoadedDraft {
  readonly draft: Draft;
  dispose(): void;
}

export async function loadDraft(value: string, targetTokenizer: Tokenizer): Promise<LoadedDraft> {
  if (value === 'ngram') return { draft: { kind: 'ngram' }, dispose: () => {} };
  const loaded = await loadModelWithTokenizer(value);
  const difference = vocabularyDifference(targetTokenizer, loaded.tokenizer);
  if (difference !== null) {
    loaded.model.dispose();
    const show = (token: string | undefined): string =>
      token === undefined ? 'no token' : JSON.stringify(token);
    throw new ConfigError("the draft model's tokenizer is not the target's", {
      where: `--draft ${value}`,
      expected: `the target's vocabulary (${targetTokenizer.vocabSize} ids; id ${difference.id} is ${show(difference.target)})`,
      actual: `${loaded.tokenizer.vocabSize} ids; id ${difference.id} is ${show(difference.draft)}`,
      hint: 'a draft model must share the target tokenizer: train it with --tokenizer TARGET_DIR, or make it with lmforge distill',
    });
  }
  return { draft: { kind: 'model', model: loaded.model }, dispose: () => loaded.model.dispose() };
}
