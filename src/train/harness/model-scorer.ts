/**
 * The harness's scorer for a LanguageModel (any family: decoders, recurrent models) and its
 * tokenizer. Log-likelihoods follow lm-evaluation-harness (v0.4, `_encode_pair` and
 * `_loglikelihood_tokens`):
 * - whitespace at the end of the context moves to the start of the continuation; the
 *   continuation's tokens are those of encode(context + continuation) past the tokens of
 *   encode(context), so a merge across the boundary is scored as the model would see it;
 * - the model reads (context + continuation)[:-1], left-truncated to its maxPositions, and
 *   the continuation's log-probabilities are summed from one log-softmax per position;
 * - requests run in batches of `batchSize`, longest first, right-padded (a causal model's
 *   earlier positions never see the padding), in eval mode.
 * Generation is greedy through generate() (one request at a time, with the model's cache).
 *
 * Legend: B batch, T time, V vocab.
 */
import type { LanguageModel } from '../../models/index.js';
import type { Tokenizer, UnknownCharacters } from '../../tokenizers/index.js';
import { Tensor, logSoftmax, noGrad, scope } from '../../tensor/index.js';
import { generateText } from '../../generate/index.js';
import { ConfigError } from '../../util/errors.js';
import {
  cutAtStop,
  type GenerationRequest,
  type LoglikelihoodRequest,
  type LoglikelihoodResult,
  type Scorer,
} from './scorer.js';

export interface ModelScorerOptions {
  /** Sequences per forward pass (default 16). */
  readonly batchSize?: number;
  readonly name?: string;
  /** Collects the characters the tokenizer cannot encode, which are dropped (else an error for a char tokenizer). */
  readonly unknown?: UnknownCharacters;
}

/** The context and continuation ids of a request (see the file header). */
export function encodePair(
  tokenizer: Tokenizer,
  request: LoglikelihoodRequest,
  unknown?: UnknownCharacters,
): { context: number[]; continuation: number[] } {
  let { context, continuation } = request;
  const trailing = context.length - context.trimEnd().length;
  if (trailing > 0) {
    continuation = context.slice(context.length - trailing) + continuation;
    context = context.slice(0, context.length - trailing);
  }
  const encode = (text: string): number[] =>
    tokenizer.encode(text, { addSpecialTokens: false, disallowedSpecial: new Set(), unknown });
  const whole = encode(context + continuation);
  const contextIds = encode(context);
  return { context: whole.slice(0, contextIds.length), continuation: whole.slice(contextIds.length) };
}

/**
 * @example
 * const scorer = modelScorer(model, tokenizer, { batchSize: 8 });
 * scorer.logLikelihood([{ context: 'The capital of France is', continuation: ' Paris' }]); // [{ logLikelihood: -1.2, tokens: 1, greedy: true }]
 */
export function modelScorer(
  model: LanguageModel,
  tokenizer: Tokenizer,
  options: ModelScorerOptions = {},
): Scorer {
  const batchSize = options.batchSize ?? 16;
  if (!(Number.isSafeInteger(batchSize) && batchSize >= 1)) {
    throw new ConfigError('batchSize must be an integer >= 1', { where: 'modelScorer', actual: batchSize });
  }
  const bos = tokenizer.bosId ?? tokenizer.eosId;
  return {
    name: options.name ?? model.family,
    logLikelihood(requests) {
      const encoded = requests.map((request, index) => {
        const pair = encodePair(tokenizer, request, options.unknown);
        if (pair.continuation.length === 0) {
          throw new ConfigError('the continuation encodes to no tokens', {
            where: `logLikelihood: request ${index}`,
            actual: JSON.stringify(request.continuation),
          });
        }
        // Nothing before the first continuation token: start from BOS (EOS), as lm-evaluation-harness does.
        if (pair.context.length === 0) {
          if (bos === undefined) {
            throw new ConfigError('the context is empty and the tokenizer has no BOS or EOS to begin with', {
              where: `logLikelihood: request ${index}`,
              hint: 'give every request some context (a template prefix)',
            });
          }
          pair.context.push(bos);
        }
        const all = [...pair.context, ...pair.continuation];
        if (pair.continuation.length > model.maxPositions) {
          throw new ConfigError('the continuation is longer than the model context', {
            where: `logLikelihood: request ${index}`,
            expected: `at most ${model.maxPositions} tokens`,
            actual: pair.continuation.length,
          });
        }
        // The model reads all[:-1], at most maxPositions of it, and predicts all[1:].
        const input = all.slice(Math.max(0, all.length - 1 - model.maxPositions), -1);
        return { index, input, continuation: pair.continuation };
      });
      const results = new Array<LoglikelihoodResult>(requests.length);
      const order = [...encoded].sort((a, b) => b.input.length - a.input.length || a.index - b.index);
      for (let start = 0; start < order.length; start += batchSize) {
        const batch = order.slice(start, start + batchSize);
        const T = batch[0]!.input.length;
        const ids = new Int32Array(batch.length * T); // right-padded with id 0
        batch.forEach((item, b) => ids.set(item.input, b * T));
        scope(() =>
          noGrad(() => {
            const logits = model.forward(Tensor.fromArray(ids, [batch.length, T]), { mode: 'eval' }); // (B, T, V)
            const logProbs = logSoftmax(logits, -1).floats(); // (B, T, V)
            const V = logits.shape[2]!;
            batch.forEach((item, b) => {
              const n = item.continuation.length;
              let sum = 0;
              let greedy = true;
              for (let k = 0; k < n; k++) {
                // continuation token k is predicted at input position len - n + k
                const row = (b * T + item.input.length - n + k) * V;
                const target = item.continuation[k]!;
                sum += logProbs[row + target]!;
                for (let v = 0; v < V && greedy; v++)
                  if (logProbs[row + v]! > logProbs[row + target]!) greedy = false;
              }
              results[item.index] = { logLikelihood: sum, tokens: n, greedy };
            });
          }),
        );
      }
      return results;
    },
    async generate(requests: readonly GenerationRequest[]) {
      const out: string[] = [];
      for (const request of requests) {
        const prompt = tokenizer.encode(request.context, {
          addSpecialTokens: false,
          disallowedSpecial: new Set(),
          unknown: options.unknown,
        });
        const { text } = await generateText(model, tokenizer, prompt, {
          maxNewTokens: request.maxTokens,
          stop: [...request.stop],
          promptOverflow: 'truncateLeft',
        });
        out.push(cutAtStop(text, request.stop));
      }
      return out;
    },
  };
}
