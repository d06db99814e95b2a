/**
 * The harness's scorers and perplexity against direct computation: a batched
 * log-likelihood equals the sum of the continuation tokens' log-probabilities from one
 * forward pass per request (a transformer and an LSTM, contexts longer than the model's
 * context left-truncated, whitespace moved as lm-evaluation-harness moves it); the n-gram
 * scorer equals the model's own scores; sliding-window perplexity equals evaluateLoss when
 * the stride is the window, and per-token direct scoring when the stride is 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../../src/backend/index.js';
import { Tensor, logSoftmax, noGrad, scope } from '../../../src/tensor/index.js';
import { createModel, gpt2Preset, rnnPreset, type LanguageModel } from '../../../src/models/index.js';
import { CharTokenizer } from '../../../src/tokenizers/index.js';
import { charUnits, kenlmDiscountFallback, trainNgram, wordUnits } from '../../../src/ngram/index.js';
import {
  encodePair,
  evaluateLoss,
  modelScorer,
  ngramScorer,
  slidingWindowPerplexity,
  type LoglikelihoodRequest,
} from '../../../src/train/index.js';
import { ConfigError } from '../../../src/util/errors.js';
import { assertClose } from '../../util/close.js';
import { assertThrowsAt } from '../../util/throws.js';

const text = 'the quick brown fox jumps over the lazy dog. a small cat sat on a mat.\n';
const tokenizer = CharTokenizer.fromText(text);
const models: Array<[string, LanguageModel]> = [
  [
    'gpt2',
    createModel(
      gpt2Preset({ vocabSize: tokenizer.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 24 }),
      { seed: 1 },
    ),
  ],
  [
    'lstm',
    createModel(
      rnnPreset('lstm', { vocabSize: tokenizer.vocabSize, nLayer: 2, nEmbd: 16, maxPositions: 24 }),
      { seed: 2 },
    ),
  ],
];
const requests: LoglikelihoodRequest[] = [
  { context: 'the quick', continuation: ' brown' },
  { context: 'a small cat ', continuation: 'sat' },
  { context: 'the', continuation: ' lazy dog.' },
  // longer than the 24-token context: left-truncated
  { context: 'the quick brown fox jumps over the lazy', continuation: ' dog' },
  { context: 'x', continuation: 'y' },
];

/** The continuation's log-probability from one forward pass of these ids alone. */
function direct(
  model: LanguageModel,
  context: readonly number[],
  continuation: readonly number[],
): { sum: number; greedy: boolean } {
  const all = [...context, ...continuation];
  const input = all.slice(Math.max(0, all.length - 1 - model.maxPositions), -1);
  return scope(() =>
    noGrad(() => {
      const logProbs = logSoftmax(
        model.forward(Tensor.fromArray(Int32Array.from(input), [1, input.length])),
        -1,
      );
      const V = logProbs.shape[2]!;
      const values = Array.from(logProbs.floats());
      let sum = 0;
      let greedy = true;
      continuation.forEach((target, k) => {
        const row = values.slice(
          (input.length - continuation.length + k) * V,
          (input.length - continuation.length + k + 1) * V,
        );
        sum += row[target]!;
        if (row.indexOf(Math.max(...row)) !== target) greedy = false;
      });
      return { sum, greedy };
    }),
  );
}

test('log-likelihood scoring equals summing the token log-probs of a direct forward pass', () => {
  for (const [name, model] of models) {
    for (const batchSize of [1, 2, 16]) {
      const results = modelScorer(model, tokenizer, { batchSize }).logLikelihood(requests);
      requests.forEach((request, i) => {
        const pair = encodePair(tokenizer, request);
        const expected = direct(model, pair.context, pair.continuation);
        // Batched (right-padded) and alone: float32 sums in the same order per row.
        assertClose(`${name} batch ${batchSize} request ${i}`, [results[i]!.logLikelihood], [expected.sum], {
          atol: 1e-5,
          rtol: 1e-6,
        });
        assert.equal(results[i]!.greedy, expected.greedy, `${name} request ${i} greedy`);
        assert.equal(results[i]!.tokens, encodePair(tokenizer, request).continuation.length);
      });
    }
  }
});

test("encodePair moves the context's trailing whitespace to the continuation", () => {
  const pair = encodePair(tokenizer, { context: 'a small cat ', continuation: 'sat' });
  assert.deepEqual(pair.context, tokenizer.encode('a small cat'));
  assert.deepEqual(pair.continuation, tokenizer.encode(' sat'));
  const scorer = modelScorer(models[0]![1], tokenizer);
  assertThrowsAt(
    () => scorer.logLikelihood([{ context: 'a', continuation: '' }]),
    ConfigError,
    'logLikelihood: request 0',
  );
  // No BOS or EOS in a char tokenizer: an empty context has nothing to predict from.
  assertThrowsAt(
    () => scorer.logLikelihood([{ context: '', continuation: 'a' }]),
    ConfigError,
    'logLikelihood: request 0',
  );
});

test("the n-gram scorer equals the model's own scores, </s> for each line break of the continuation", () => {
  const corpus = 'the cat sat\nthe dog sat\na cat ran\nthe cat ran\n'.repeat(5);
  for (const units of [wordUnits, charUnits]) {
    const { model } = trainNgram([{ name: 'c', text: corpus }], {
      order: 3,
      units,
      smoothing: { kind: 'kneser-ney', discountFallback: kenlmDiscountFallback },
    });
    const scorer = ngramScorer(model, units);
    const [result] = scorer.logLikelihood([{ context: 'first line\nthe cat', continuation: ' sat\na dog' }]);
    const ids = (line: string): number[] => units.split(line).map((u) => model.vocabulary.idOf(u));
    let state = model.stateAfter(ids('the cat'));
    let log10 = 0;
    const contextUnits = ids('the cat').length;
    for (const id of [...ids('the cat sat').slice(contextUnits), 2, ...ids('a dog')]) {
      const scored = model.score(state, id);
      log10 += scored.logProb;
      state = scored.state;
    }
    assertClose(`${units.spec.kind} log-likelihood`, [result!.logLikelihood], [log10 * Math.LN10], {
      atol: 1e-9,
      rtol: 1e-12,
    });
    assert.equal(result!.tokens, ids('the cat sat').length - contextUnits + 1 + ids('a dog').length);
  }
});

test('sliding windows: stride = window is evaluateLoss; stride 1 scores each token with its full window', () => {
  const ids = Int32Array.from(tokenizer.encode(text.repeat(2)));
  for (const [name, model] of models) {
    const blocks = evaluateLoss(model, ids, { blockSize: 16 });
    const disjoint = slidingWindowPerplexity(model, ids, { window: 16, stride: 16 });
    assert.equal(disjoint.tokens, ids.length - 1);
    assertClose(`${name} stride = window`, [disjoint.loss], [blocks.loss], { atol: 1e-6, rtol: 1e-6 });
    // Stride 1: target t is predicted from ids[max(0, t - 8), t), each by its own forward pass here.
    const sliding = slidingWindowPerplexity(model, ids, { window: 8, stride: 1, batchSize: 5 });
    let nll = 0;
    for (let t = 1; t < ids.length; t++) {
      nll -= direct(model, Array.from(ids.subarray(Math.max(0, t - 8), t)), [ids[t]!]).sum;
    }
    assertClose(`${name} stride 1`, [sliding.loss], [nll / (ids.length - 1)], { atol: 1e-5, rtol: 1e-5 });
    assert.equal(sliding.windows, ids.length - 8);
  }
  const model = models[0]![1];
  assertThrowsAt(
    () => slidingWindowPerplexity(model, ids, { window: 25 }),
    ConfigError,
    'slidingWindowPerplexity: window',
  );
  assertThrowsAt(
    () => slidingWindowPerplexity(model, ids, { window: 8, stride: 9 }),
    ConfigError,
    'slidingWindowPerplexity: stride',
  );
  assertThrowsAt(
    () => slidingWindowPerplexity(model, Int32Array.of(1)),
    ConfigError,
    'slidingWindowPerplexity',
  );
});
