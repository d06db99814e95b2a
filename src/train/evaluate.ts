/**
 * Loss and perplexity of a model on a token stream, deterministically: the stream is cut
 * into consecutive blocks of blockSize targets (the last block may be shorter), every token
 * after the first is predicted exactly once, and the loss is the mean over all of them.
 * (Each block starts with an empty context, as nanoGPT's evaluation does.) The model runs in
 * eval mode for these calls only; model.training is not touched.
 */
import { Tensor, crossEntropy, noGrad, scope } from '../tensor/index.js';
import type { LanguageModel } from '../models/index.js';
import { ConfigError } from '../util/errors.js';

export interface EvaluateResult {
  readonly loss: number;
  readonly perplexity: number;
  /** Predicted tokens (ids.length - 1). */
  readonly tokens: number;
}

export interface EvaluateOptions {
  /** Block length (default and maximum: the model's blockSize). */
  readonly blockSize?: number;
  /** Blocks per forward pass (default 8). */
  readonly batchSize?: number;
}

export function evaluateLoss(
  model: LanguageModel,
  ids: Int32Array,
  options: EvaluateOptions = {},
): EvaluateResult {
  const head = model.head?.kind ?? 'causal-lm';
  if (head !== 'causal-lm') {
    throw new ConfigError('next-token loss needs a causal language model', {
      where: 'evaluateLoss',
      expected: 'a model with a causal-lm head (GPT-2, Llama)',
      actual: `a ${model.family} model with a ${head} head`,
    });
  }
  const T = options.blockSize ?? model.maxPositions;
  const B = options.batchSize ?? 8;
  if (!(Number.isInteger(T) && T >= 1 && T <= model.maxPositions)) {
    throw new ConfigError('blockSize out of range', {
      where: 'evaluateLoss',
      expected: `1..${model.maxPositions}`,
      actual: T,
    });
  }
  // B = 0 would never advance through the blocks (an endless loop), so it is rejected here too.
  if (!(Number.isSafeInteger(B) && B >= 1)) {
    throw new ConfigError('batchSize out of range', {
      where: 'evaluateLoss',
      expected: 'an integer >= 1',
      actual: B,
    });
  }
  if (ids.length < 2) {
    throw new ConfigError('the text is too short to evaluate', {
      where: 'evaluateLoss',
      expected: 'at least 2 tokens',
      actual: `${ids.length} tokens`,
    });
  }
  const starts: number[] = [];
  for (let s = 0; s + 1 < ids.length; s += T) starts.push(s);
  let total = 0;
  for (let i = 0; i < starts.length;) {
    // Full blocks are batched; a shorter last block runs alone.
    const length = Math.min(T, ids.length - 1 - starts[i]!);
    const group: number[] = [];
    while (i < starts.length && group.length < B && Math.min(T, ids.length - 1 - starts[i]!) === length) {
      group.push(starts[i]!);
      i++;
    }
    const x = new Int32Array(group.length * length);
    const y = new Int32Array(group.length * length);
    group.forEach((s, b) => {
      x.set(ids.subarray(s, s + length), b * length);
      y.set(ids.subarray(s + 1, s + 1 + length), b * length);
    });
    total += scope(() =>
      noGrad(() => {
        const logits = model.forward(Tensor.fromArray(x, [group.length, length]), { mode: 'eval' }); // (b, T, V)
        return crossEntropy(logits, Tensor.fromArray(y, [group.length, length]), {
          reduction: 'sum',
        }).item();
      }),
    );
  }
  const tokens = ids.length - 1;
  const loss = total / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}
