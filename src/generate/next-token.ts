/**
 * The next-token distribution view: for a prompt, the N most probable next tokens under the
 * model's full softmax at temperature 1 (no top-k/top-p, no penalty), highest first. The
 * model runs in eval mode for this call only; its state is not touched.
 */
import type { LanguageModel } from '../models/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import { encodePrompt } from './generate.js';
import { rankByProbability, softmaxWithTemperature } from './sampling.js';
import { Tensor, noGrad, scope } from '../tensor/index.js';

export interface NextTokenCandidate {
  readonly id: number;
  /** The token's text (decoded alone). */
  readonly token: string;
  readonly prob: number;
}

export interface NextTokenTable {
  readonly promptIds: readonly number[];
  readonly top: readonly NextTokenCandidate[];
}

/**
 * @example
 * const { top } = nextTokens(model, tokenizer, 'The king', 5); // [{ id, token: ' of', prob: 0.21 }, ...]
 */
export function nextTokens(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  n: number,
  promptOverflow: 'error' | 'truncateLeft' = 'error',
): NextTokenTable {
  if (!(Number.isInteger(n) && n >= 1)) {
    throw new ConfigError('the number of next tokens must be an integer >= 1', {
      where: 'nextTokens',
      actual: n,
    });
  }
  const promptIds = encodePrompt(model, tokenizer, prompt, promptOverflow);
  const logits = scope(() =>
    noGrad(() => {
      const ids = Tensor.fromArray(Int32Array.from(promptIds), [1, promptIds.length]); // (1, T)
      return model.forward({ ids }, { logits: 'last', mode: 'eval' }).logits!.floats().slice(); // (1, 1, V)
    }),
  );
  const probs = softmaxWithTemperature(logits, 1);
  const top = rankByProbability(probs)
    .slice(0, n)
    .map((id) => ({ id, token: tokenizer.decode([id]), prob: probs[id]! }));
  return { promptIds, top };
}
