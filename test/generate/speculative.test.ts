/**
 * Speculative decoding against plain generation: greedy output identical (draft models that
 * agree often, rarely, and the target itself; prompt lookup; k from 1 to past the budget; EOS
 * and stop strings inside a draft; past the context window), sampled output distributed as
 * the target's (a chi-square test over the first two ids, repetition penalty and top-k
 * included, which a wrong acceptance or residual rule fails), the statistics, and bad input.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Tensor, noGrad } from '../../src/tensor/index.js';
import { createModel, gpt2Preset, llamaPreset, type LanguageModel } from '../../src/models/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import {
  applyRepetitionPenalty,
  filteredDistribution,
  generateText,
  promptLookupDraft,
  resolvePromptLookup,
  speculativeGenerate,
  vocabularyDifference,
  type Draft,
  type Sampling,
  type SpeculativeOptions,
  type SpeculativeResult,
} from '../../src/generate/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { TableLM } from './table-lm.js';

async function speculative(
  target: LanguageModel,
  tokenizer: CharTokenizer,
  prompt: string | readonly number[],
  options: SpeculativeOptions,
): Promise<{ ids: number[]; text: string; result: SpeculativeResult }> {
  const stream = speculativeGenerate(target, tokenizer, prompt, options);
  const ids: number[] = [];
  let text = '';
  for (;;) {
    const step = await stream.next();
    if (step.done === true) return { ids, text, result: step.value };
    assert.equal(step.value.index, ids.length);
    ids.push(step.value.id);
    text += step.value.text;
  }
}

/** Greedy speculative output equals plain greedy output (ids, text, finish reason) for every case. */
async function assertGreedyEqual(
  label: string,
  target: LanguageModel,
  tokenizer: CharTokenizer,
  prompts: readonly string[],
  drafts: ReadonlyArray<[string, Draft]>,
  options: { maxNewTokens: number; ks: readonly number[]; eosTokenIds?: number[]; stop?: string[] },
): Promise<void> {
  const extra = {
    ...(options.eosTokenIds === undefined ? {} : { eosTokenIds: options.eosTokenIds }),
    ...(options.stop === undefined ? {} : { stop: options.stop }),
  };
  for (const prompt of prompts) {
    const plain = await generateText(target, tokenizer, prompt, {
      maxNewTokens: options.maxNewTokens,
      ...extra,
    });
    for (const [name, draft] of drafts) {
      for (const k of options.ks) {
        const got = await speculative(target, tokenizer, prompt, {
          maxNewTokens: options.maxNewTokens,
          draft,
          draftTokens: k,
          ...extra,
        });
        const where = `${label}, draft ${name}, k ${k}, prompt ${JSON.stringify(prompt)}`;
        assert.deepEqual(got.ids, plain.ids, `${where}: ids`);
        assert.equal(got.text, plain.text, `${where}: text`);
        assert.equal(got.result.finishReason, plain.result.finishReason, `${where}: finish reason`);
      }
    }
  }
}

const letters = CharTokenizer.fromText('abcdef'); // 6 ids
const tablePrompts = ['a', 'ab', 'fed', 'cccc', 'abcabca', 'eafbdc'];

describe('speculative decoding, greedy', () => {
  it('equals plain greedy decoding with table models, prompt lookup and the target as its own draft', async () => {
    const target = new TableLM('decoder', 6, 64, 1);
    const drafts: Array<[string, Draft]> = [
      ['unrelated table', { kind: 'model', model: new TableLM('decoder', 6, 64, 2) }],
      ['the target itself', { kind: 'model', model: target }],
      ['a flatter copy', { kind: 'model', model: new TableLM('decoder', 6, 64, 1, 2) }],
      ['ngram', { kind: 'ngram' }],
      ['ngram 1..1', { kind: 'ngram', maxNgram: 1 }],
    ];
    // k = 7 and 12 exceed the budget of 5 and 9 ids.
    await assertGreedyEqual('budget 9', target, letters, tablePrompts, drafts, {
      maxNewTokens: 9,
      ks: [1, 2, 3, 7, 12],
    });
    await assertGreedyEqual('budget 1', target, letters, tablePrompts, drafts, {
      maxNewTokens: 1,
      ks: [1, 4],
    });
  });

  it('ends at an EOS id or a stop string inside an accepted draft, as plain decoding does', async () => {
    const target = new TableLM('decoder', 6, 64, 3);
    const drafts: Array<[string, Draft]> = [
      ['the target itself', { kind: 'model', model: target }],
      ['ngram', { kind: 'ngram' }],
    ];
    for (const eos of [0, 1, 2, 3, 4, 5]) {
      await assertGreedyEqual(`eos ${eos}`, target, letters, tablePrompts, drafts, {
        maxNewTokens: 20,
        ks: [3, 8],
        eosTokenIds: [eos],
      });
    }
    // A stop string of two letters inside the output of prompt 0 (checked to end there).
    const plain = await generateText(target, letters, 'ab', { maxNewTokens: 20 });
    const stop = plain.text.slice(6, 8);
    await assertGreedyEqual('stop', target, letters, ['ab'], drafts, {
      maxNewTokens: 20,
      ks: [2, 5],
      stop: [stop],
    });
    const stopped = await generateText(target, letters, 'ab', { maxNewTokens: 20, stop: [stop] });
    assert.equal(stopped.result.finishReason, 'stop');
  });

  it('continues past a full context as plain decoding does (window of the last ids)', async () => {
    const target = new TableLM('decoder', 6, 10, 4);
    const drafts: Array<[string, Draft]> = [
      ['table with a shorter context', { kind: 'model', model: new TableLM('decoder', 6, 6, 5) }],
      ['the target itself', { kind: 'model', model: target }],
      ['ngram', { kind: 'ngram' }],
    ];
    await assertGreedyEqual('window', target, letters, ['abc', 'fedcba'], drafts, {
      maxNewTokens: 25,
      ks: [1, 3, 6],
    });
  });

  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: equals plain greedy decoding with a smaller random draft and with prompt lookup`, async () => {
      const chars = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz .,\n');
      const shape = { vocabSize: chars.vocabSize, nHead: 2, blockSize: 48, initStd: 0.3 };
      const preset = (nLayer: number, nEmbd: number) =>
        arch === 'gpt2'
          ? gpt2Preset({ ...shape, nLayer, nEmbd })
          : llamaPreset({ ...shape, nLayer, nEmbd, nKvHead: 1 });
      const target = createModel(preset(2, 32), { seed: 11 });
      const draft = createModel(preset(1, 16), { seed: 12 });
      const prompts = ['the cat', 'a, b, a, b, a', 'xyz', 'hello hello hello'];
      await assertGreedyEqual(
        arch,
        target,
        chars,
        prompts,
        [
          ['random 1 layer', { kind: 'model', model: draft }],
          ['the target itself', { kind: 'model', model: target }],
          ['ngram', { kind: 'ngram' }],
        ],
        { maxNewTokens: 24, ks: [1, 4, 30] },
      );
      target.dispose();
      draft.dispose();
    });
  }

  it('accepts every draft of the target itself: k + 1 ids per target call', async () => {
    const target = new TableLM('decoder', 6, 64, 6);
    const { ids, result } = await speculative(target, letters, 'abc', {
      maxNewTokens: 20,
      draft: { kind: 'model', model: target },
      draftTokens: 4,
    });
    assert.equal(ids.length, 20);
    // Rounds of 5 ids: 4 full rounds; the last drafts 4 and accepts 4 with its bonus.
    assert.equal(result.stats.targetCalls, 4);
    assert.equal(result.stats.drafted, 16);
    assert.equal(result.stats.accepted, 16);
    assert.equal(result.stats.acceptedRate, 1);
  });
});

/** A target's probability of each (first, second) pair of generated ids after `prompt`. */
function exactPairDistribution(
  target: TableLM,
  prompt: readonly number[],
  sampling: Extract<Sampling, { kind: 'sample' }>,
  penalty: number,
): Float64Array {
  const V = target.vocabSize;
  const next = (context: readonly number[]): Float64Array => {
    const logits = noGrad(() =>
      target.forward(Tensor.fromArray(Int32Array.from(context), [1, context.length]), { logits: 'last' }),
    ).floats();
    return filteredDistribution(applyRepetitionPenalty(logits, context, penalty), sampling);
  };
  const first = next(prompt);
  const pairs = new Float64Array(V * V);
  for (let a = 0; a < V; a++) {
    if (first[a] === 0) continue;
    const second = next([...prompt, a]);
    for (let b = 0; b < V; b++) pairs[a * V + b] = first[a]! * second[b]!;
  }
  return pairs;
}

/**
 * Pearson's chi-square of `counts` against `probabilities` (cells with expected count under 5
 * pooled into one) and its degrees of freedom; a cell with probability 0 and a count fails.
 */
function chiSquare(
  counts: readonly number[],
  probabilities: Float64Array,
  n: number,
): { statistic: number; df: number } {
  let statistic = 0;
  let cells = 0;
  let pooledObserved = 0;
  let pooledExpected = 0;
  for (let i = 0; i < counts.length; i++) {
    const expected = probabilities[i]! * n;
    if (probabilities[i] === 0) {
      assert.equal(
        counts[i],
        0,
        `cell ${i} has probability 0 under the target but was drawn ${counts[i]} times`,
      );
    } else if (expected < 5) {
      pooledObserved += counts[i]!;
      pooledExpected += expected;
    } else {
      statistic += (counts[i]! - expected) ** 2 / expected;
      cells++;
    }
  }
  if (pooledExpected > 0) {
    statistic += (pooledObserved - pooledExpected) ** 2 / pooledExpected;
    cells++;
  }
  return { statistic, df: cells - 1 };
}

/** The chi-square 0.999 quantile (Wilson-Hilferty): a correct sampler exceeds it once in 1000 seeds' worth of runs. */
function chiSquareQuantile999(df: number): number {
  const z = 3.090232; // standard normal 0.999 quantile
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

describe('speculative decoding, sampling', () => {
  const cases: ReadonlyArray<{
    name: string;
    sampling: Extract<Sampling, { kind: 'sample' }>;
    penalty: number;
    prompt: number[];
    draft: (target: TableLM) => Draft;
  }> = [
    {
      name: 'an unrelated draft model, temperature 1',
      sampling: { kind: 'sample', temperature: 1 },
      penalty: 1,
      prompt: [2, 0],
      draft: () => ({ kind: 'model', model: new TableLM('decoder', 5, 32, 22, 3) }),
    },
    {
      name: 'an unrelated draft model, temperature 0.7, top-k 3, repetition penalty 1.5',
      sampling: { kind: 'sample', temperature: 0.7, topK: 3 },
      penalty: 1.5,
      prompt: [1, 3, 1],
      draft: () => ({ kind: 'model', model: new TableLM('decoder', 5, 32, 23, 3) }),
    },
    {
      name: 'prompt lookup (one-hot drafts), top-p 0.9',
      sampling: { kind: 'sample', temperature: 1.2, topP: 0.9 },
      penalty: 1,
      prompt: [0, 1, 2, 0, 1, 2, 0],
      draft: () => ({ kind: 'ngram' }),
    },
  ];
  for (const { name, sampling, penalty, prompt, draft } of cases) {
    it(`draws the first two ids from the target's distribution: ${name}`, async () => {
      const target = new TableLM('decoder', 5, 32, 21, 1.5);
      const tokenizer = CharTokenizer.fromText('abcde');
      const exact = exactPairDistribution(target, prompt, sampling, penalty);
      const counts = new Array<number>(25).fill(0);
      const n = 6000;
      let drafted = 0;
      for (let seed = 0; seed < n; seed++) {
        const { ids, result } = await speculative(target, tokenizer, prompt, {
          maxNewTokens: 2,
          sampling,
          repetitionPenalty: penalty,
          seed,
          draft: draft(target),
          draftTokens: 3,
        });
        counts[ids[0]! * 5 + ids[1]!]!++;
        drafted += result.stats.drafted;
      }
      assert.ok(drafted >= n, `the drafter proposed only ${drafted} ids in ${n} runs`);
      const { statistic, df } = chiSquare(counts, exact, n);
      const limit = chiSquareQuantile999(df);
      assert.ok(
        statistic < limit,
        `chi-square ${statistic.toFixed(1)} over ${df} degrees of freedom exceeds ${limit.toFixed(1)}: ` +
          `counts ${counts.join(' ')}, expected ${Array.from(exact, (p) => (p * n).toFixed(0)).join(' ')}`,
      );
    });
  }
});

describe('prompt lookup', () => {
  it('copies what followed the most recent occurrence of the longest recurring suffix', () => {
    assert.deepEqual(promptLookupDraft([5, 6, 7, 8, 5, 6], 3), [7, 8, 5]);
    assert.deepEqual(promptLookupDraft([5, 6, 7, 8, 5, 6], 1), [7]);
    // "9 5 6" recurs (longer than "5 6", whose latest occurrence is at 4).
    assert.deepEqual(promptLookupDraft([9, 5, 6, 1, 5, 6, 2, 9, 5, 6], 2), [1, 5]);
    // The most recent of two occurrences of the same n-gram.
    assert.deepEqual(promptLookupDraft([1, 2, 3, 1, 2, 4, 1, 2], 1, { maxNgram: 2 }), [4]);
    // The copy runs on into its own ids (periodic text).
    assert.deepEqual(promptLookupDraft([1, 2, 1, 2], 5), [1, 2, 1, 2, 1]);
    assert.deepEqual(promptLookupDraft([7, 7], 4), [7, 7, 7, 7]);
    // No recurring n-gram within the range, a one-id context, or no room asked for.
    assert.deepEqual(promptLookupDraft([1, 2, 3, 4], 3), []);
    assert.deepEqual(promptLookupDraft([1, 2, 1, 3], 3, { minNgram: 2 }), []);
    assert.deepEqual(promptLookupDraft([1], 3), []);
    assert.deepEqual(promptLookupDraft([1, 1], 0), []);
  });

  it('rejects an n-gram range that is not 1 <= min <= max', () => {
    for (const bad of [
      { maxNgram: 0 },
      { minNgram: 3, maxNgram: 2 },
      { minNgram: 1.5 },
      { maxNgram: Number.NaN },
    ]) {
      assert.throws(() => resolvePromptLookup(bad), ConfigError, JSON.stringify(bad));
    }
  });
});

describe('speculative decoding, bad input', () => {
  const target = new TableLM('decoder', 6, 64, 1);
  const run = (options: Partial<SpeculativeOptions>) =>
    speculative(target, letters, 'ab', { maxNewTokens: 4, draft: { kind: 'ngram' }, ...options });

  it('rejects a draft model with another vocabulary size, or one that is not a decoder', async () => {
    await assert.rejects(
      run({ draft: { kind: 'model', model: new TableLM('decoder', 7, 64, 2) } }),
      (e: unknown) =>
        e instanceof ConfigError && /vocabulary size/.test(e.message) && /6 ids/.test(e.message),
    );
    await assert.rejects(
      run({ draft: { kind: 'model', model: new TableLM('encoder-decoder', 6, 64, 2) } }),
      ConfigError,
    );
  });

  it('rejects draftTokens that are not an integer >= 1, and decoding without the cache', async () => {
    for (const draftTokens of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(run({ draftTokens }), ConfigError, String(draftTokens));
    }
    await assert.rejects(run({ useCache: false }), ConfigError);
    await assert.rejects(run({ maxNewTokens: 0 }), ConfigError);
  });

  it('finds the first id on which two vocabularies differ', () => {
    assert.equal(vocabularyDifference(letters, CharTokenizer.fromText('fedcba')), null);
    assert.deepEqual(vocabularyDifference(letters, CharTokenizer.fromText('abcdeg')), {
      id: 5,
      target: 'f',
      draft: 'g',
    });
    assert.deepEqual(vocabularyDifference(letters, CharTokenizer.fromText('abcdefg')), {
      id: 6,
      target: undefined,
      draft: 'g',
    });
  });
});
