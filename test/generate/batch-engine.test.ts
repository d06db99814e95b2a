/**
 * Continuous batching (BatchEngine) and the prefix cache on tiny GPT-2 and Llama models:
 * batched generation equals one-at-a-time generation bit for bit (ids and every
 * log-probability), with sequences joining and leaving mid-run, greedy and seeded sampling;
 * equals generate() for greedy; a prefix-cache hit gives the bits of a miss; stop strings,
 * EOS, cancellation, the context end and bad requests behave as documented.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { createModel, gpt2Preset, llamaPreset, type LanguageModel } from '../../src/models/index.js';
import {
  BatchEngine,
  PrefixCache,
  generateText,
  prefillChunk,
  type EngineToken,
  type SequenceRequest,
} from '../../src/generate/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

const tokenizer = CharTokenizer.fromText('abcdefghijklmnopqrstuvwxyz .,:;!?\nABCDEFGHIJKLMNOPQRSTUVWXYZ');
const V = tokenizer.vocabSize;
const models: Record<string, LanguageModel> = {
  gpt2: createModel(gpt2Preset({ vocabSize: V, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 200 }), {
    seed: 7,
  }),
  llama: createModel(
    llamaPreset({ vocabSize: V, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 32, blockSize: 200 }),
    { seed: 8 },
  ),
};
const texts = ['ROMEO: what', 'a', 'the quick brown fox jumps over', 'to be, or not', 'Hi!', 'zz'];

interface Run {
  readonly ids: number[];
  readonly logprobs: number[];
  readonly text: string;
  readonly finish: string;
  readonly cached: number;
}

async function collect(
  tokens: AsyncIterable<EngineToken>,
  result: Promise<{ finishReason: string; cachedTokens: number }>,
): Promise<Run> {
  const ids: number[] = [];
  const logprobs: number[] = [];
  let text = '';
  for await (const token of tokens) {
    ids.push(token.id);
    logprobs.push(token.logprob!, ...token.top!.map((t) => t.logprob));
    text += token.text;
  }
  const { finishReason, cachedTokens } = await result;
  return { ids, logprobs, text, finish: finishReason, cached: cachedTokens };
}

const request = (text: string, i: number, sampled: boolean): SequenceRequest => ({
  promptIds: tokenizer.encode(text),
  maxNewTokens: 12 + 5 * i,
  topLogprobs: 3,
  seed: 100 + i,
  ...(sampled ? { sampling: { kind: 'sample' as const, temperature: 1.3, topK: 20 } } : {}),
});

/** Every request alone, each in a fresh engine. */
async function alone(model: LanguageModel, requests: readonly SequenceRequest[]): Promise<Run[]> {
  const runs: Run[] = [];
  for (const r of requests) {
    const engine = new BatchEngine(model, tokenizer);
    const handle = engine.submit(r);
    runs.push(await collect(handle, handle.result));
  }
  return runs;
}

/** The requests in one engine, joining at staggered steps so that rows join and leave mid-run. */
async function together(
  model: LanguageModel,
  requests: readonly SequenceRequest[],
  maxBatch: number,
): Promise<Run[]> {
  const engine = new BatchEngine(model, tokenizer, { maxBatch });
  const runs: Promise<Run>[] = [];
  for (const r of requests) {
    const handle = engine.submit(r);
    runs.push(collect(handle, handle.result));
    // Let the loop run a few steps before the next one joins.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const out = await Promise.all(runs);
  assert.ok(engine.steps > 0);
  return out;
}

for (const [name, model] of Object.entries(models)) {
  describe(`BatchEngine on a tiny ${name}`, () => {
    for (const sampled of [false, true]) {
      it(`batched ${sampled ? 'seeded sampling' : 'greedy'} equals one at a time, bit for bit`, async () => {
        const requests = texts.map((t, i) => request(t, i, sampled));
        const expected = await alone(model, requests);
        for (const maxBatch of [3, 16]) {
          const got = await together(model, requests, maxBatch);
          got.forEach((run, i) => {
            assert.deepEqual(run.ids, expected[i]!.ids, `maxBatch ${maxBatch}, request ${i}: ids`);
            const bad = run.logprobs.findIndex((v, j) => !Object.is(v, expected[i]!.logprobs[j]));
            assert.equal(bad, -1, `maxBatch ${maxBatch}, request ${i}: log-probability ${bad} differs`);
          });
        }
      });
    }

    it('greedy equals generate() (same ids and text)', async () => {
      const requests = texts.map((t, i) => request(t, i, false));
      const got = await together(model, requests, 4);
      for (const [i, r] of requests.entries()) {
        const reference = await generateText(model, tokenizer, r.promptIds, {
          maxNewTokens: r.maxNewTokens,
          stopAtEos: false,
        });
        assert.deepEqual(got[i]!.ids, reference.ids, `request ${i}`);
        assert.equal(got[i]!.text, reference.text);
      }
    });

    it('a prefix-cache hit gives the bits of a miss', async () => {
      const shared = 'it was the best of times, it was the worst of times. '.repeat(3);
      const prompts = [`${shared} the epoch`, `${shared} a season`];
      const requests = prompts.map((t, i) => request(t, i, false));
      assert.ok(requests[0]!.promptIds.length > 2 * prefillChunk);
      const expected = await alone(model, requests);
      const cache = new PrefixCache({ blockTokens: prefillChunk, maxBytes: 1 << 24 });
      const engine = new BatchEngine(model, tokenizer, { prefixCache: cache });
      const runs: Run[] = [];
      for (const r of requests) {
        const handle = engine.submit(r);
        runs.push(await collect(handle, handle.result));
      }
      assert.equal(runs[0]!.cached, 0);
      assert.equal(runs[1]!.cached, 2 * prefillChunk);
      runs.forEach((run, i) => assert.deepEqual(run, { ...expected[i]!, cached: run.cached }));
      assert.equal(cache.stats.hits, 1);
    });
  });
}

describe('BatchEngine sequences end as asked', () => {
  const model = models.gpt2!;
  const engine = new BatchEngine(model, tokenizer);

  it('stops at a stop string (cut), an EOS id (yielded without text) and the context end', async () => {
    const plain = await generateText(model, tokenizer, tokenizer.encode('abc'), {
      maxNewTokens: 30,
      stopAtEos: false,
    });
    const stop = plain.text.slice(5, 7);
    const cut = plain.text.indexOf(stop);
    const stopped = engine.submit({ promptIds: tokenizer.encode('abc'), maxNewTokens: 30, stop: [stop] });
    let text = '';
    for await (const token of stopped) text += token.text;
    assert.equal(text, plain.text.slice(0, cut));
    assert.equal((await stopped.result).finishReason, 'stop');

    const eosId = plain.ids[3]!;
    const ended = engine.submit({
      promptIds: tokenizer.encode('abc'),
      maxNewTokens: 30,
      eosTokenIds: [eosId],
    });
    const ids: number[] = [];
    for await (const token of ended) ids.push(token.id);
    assert.deepEqual(ids, plain.ids.slice(0, plain.ids.indexOf(eosId) + 1));
    assert.equal((await ended.result).finishReason, 'eos');

    const long = engine.submit({ promptIds: new Array(195).fill(1), maxNewTokens: 50 });
    for await (const _ of long);
    const result = await long.result;
    assert.deepEqual([result.finishReason, result.completionTokens], ['length', 5]);
  });

  it('an aborted sequence ends before its next token and the others go on', async () => {
    const controller = new AbortController();
    const a = engine.submit({ promptIds: [1, 2], maxNewTokens: 100, signal: controller.signal });
    const b = engine.submit({ promptIds: [3, 4], maxNewTokens: 20 });
    let count = 0;
    for await (const _ of a) if (++count === 3) controller.abort();
    assert.equal((await a.result).finishReason, 'aborted');
    assert.ok((await a.result).completionTokens < 100);
    for await (const _ of b);
    assert.deepEqual([(await b.result).finishReason, (await b.result).completionTokens], ['length', 20]);
  });

  it('rejects bad requests and options with ConfigError naming the field', () => {
    const bad = (r: Partial<SequenceRequest>, field: RegExp): void =>
      assertThrowsAt(
        () => engine.submit({ promptIds: [1], maxNewTokens: 1, ...r }),
        ConfigError,
        'BatchEngine.submit',
        field,
      );
    bad({ promptIds: [] }, /promptIds: the prompt is empty/);
    bad({ promptIds: [V] }, /promptIds\[0\]/);
    bad({ promptIds: new Array(200).fill(1) }, /do not fit the context/);
    bad({ maxNewTokens: 0 }, /maxNewTokens/);
    bad({ presencePenalty: 3 }, /presencePenalty/);
    bad({ topLogprobs: 21 }, /topLogprobs/);
    bad({ sampling: { kind: 'sample', temperature: 0 } }, /temperature/);
    assertThrowsAt(
      () => new BatchEngine(model, tokenizer, { maxBatch: 65 }),
      ConfigError,
      'BatchEngine: maxBatch',
    );
  });
});
