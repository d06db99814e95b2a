/**
 * The next-token view's data: for a prompt, the most probable next tokens with what each
 * sampling filter does to them (generate's own functions, so the view shows exactly what
 * `generate` samples from): the temperature-scaled softmax, the top-k survivors, the
 * top-p survivors after top-k, and the renormalised distribution; plus the greedy token
 * and one seeded draw, to step through a continuation.
 */
import {
  argmax,
  encodePrompt,
  filteredDistribution,
  rankByProbability,
  selectToken,
  softmaxWithTemperature,
  validateSampling,
  type Sampling,
} from '../generate/index.js';
import type { LanguageModel } from '../models/index.js';
import { Rng, Tensor, noGrad, scope } from '../tensor/index.js';
import type { Tokenizer } from '../tokenizers/index.js';
import { ConfigError } from '../util/errors.js';
import type { NextTokenResponse } from './api-types.js';
import { tokenPieces } from './pieces.js';

export interface NextTokenViewOptions {
  /** How many candidates to list (>= 1). */
  readonly top: number;
  readonly temperature: number;
  readonly topK?: number | undefined;
  readonly topP?: number | undefined;
  /** The seed of the one sampled token. */
  readonly seed: number;
}

/** The logits of the token after `promptIds` (V). */
function lastLogits(model: LanguageModel, promptIds: readonly number[]): Float32Array {
  return scope(() =>
    noGrad(() => {
      const ids = Tensor.fromArray(Int32Array.from(promptIds), [1, promptIds.length]); // (1, T)
      const { logits } = model.forward({ ids }, { logits: 'last', mode: 'eval' }); // (1, 1, V)
      return Float32Array.from(logits!.floats());
    }),
  );
}

/**
 * @example
 * const view = nextTokenView(model, tokenizer, 'The king', { top: 10, temperature: 0.8, topK: 5, seed: 1 });
 * view.candidates.filter((c) => c.filtered > 0).length; // <= 5
 */
export function nextTokenView(
  modelId: string,
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | readonly number[],
  options: NextTokenViewOptions,
): NextTokenResponse {
  if (!(Number.isInteger(options.top) && options.top >= 1)) {
    throw new ConfigError('top must be an integer >= 1', { where: 'next-token.top', actual: options.top });
  }
  const sampling: Extract<Sampling, { kind: 'sample' }> = {
    kind: 'sample',
    temperature: options.temperature,
    ...(options.topK === undefined ? {} : { topK: options.topK }),
    ...(options.topP === undefined ? {} : { topP: options.topP }),
  };
  validateSampling(sampling);
  const promptIds = encodePrompt(model, tokenizer, prompt);
  const logits = lastLogits(model, promptIds);
  const probs = softmaxWithTemperature(logits, 1);
  const scaled = softmaxWithTemperature(logits, options.temperature);
  const filtered = filteredDistribution(logits, sampling);
  const ranked = rankByProbability(probs);
  const topK = options.topK ?? ranked.length;
  const candidates = ranked.slice(0, options.top).map((id, rank) => ({
    id,
    token: tokenizer.decode([id]),
    prob: probs[id]!,
    scaled: scaled[id]!,
    keptTopK: rank < topK,
    keptTopP: filtered[id]! > 0,
    filtered: filtered[id]!,
  }));
  let survivors = 0;
  for (const p of filtered) if (p > 0) survivors++;
  const greedy = argmax(logits);
  const sampled = selectToken(logits, sampling, new Rng(options.seed));
  return {
    model: modelId,
    promptIds,
    promptPieces: tokenPieces(tokenizer, promptIds),
    candidates,
    survivors,
    greedy: { id: greedy, token: tokenizer.decode([greedy]) },
    sampled: { id: sampled, token: tokenizer.decode([sampled]) },
  };
}
