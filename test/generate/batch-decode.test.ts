/**
 * decodeBatch and beamSearch on a real tiny GPT-2 (DecoderLM): the KV-cache path with
 * beam reorders equals recomputation without a cache, left-padded batches equal single
 * runs, beam 1 equals greedy, greedy equals generate(); sampling is seeded; and every bad
 * option or input is a ConfigError (or ShapeError) naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Tensor } from '../../src/tensor/index.js';
import { createModel, gpt2Preset } from '../../src/models/index.js';
import { type DecodeSource, beamSearch, decodeBatch, generateText } from '../../src/generate/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { ConfigError, ShapeError } from '../../src/util/errors.js';
import { TableLM } from './table-lm.js';

const model = createModel(gpt2Preset({ vocabSize: 11, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 24 }), {
  seed: 5,
});
const promptIds = [[1, 2, 3], [4], [5, 6]];
const prompts: DecodeSource = { kind: 'prompts', prompts: promptIds };
const EOS = 0;

/** float32 logits through different (cached / padded) paths agree to rounding. */
function closeScores(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

describe('batched decoding on a tiny GPT-2', () => {
  it('beam search with the cache (reordered every step) equals recomputation without it', async () => {
    const options = { numBeams: 4, numReturnSequences: 3, maxNewTokens: 10, eosTokenIds: [EOS] };
    const cached = await beamSearch(model, prompts, options);
    const recomputed = await beamSearch(model, prompts, { ...options, useCache: false });
    cached.forEach((list, b) =>
      list.forEach((h, i) => {
        assert.deepEqual(h.ids, recomputed[b]![i]!.ids, `sentence ${b} hypothesis ${i}`);
        closeScores(h.score, recomputed[b]![i]!.score, `sentence ${b} hypothesis ${i}`);
      }),
    );
    // The beams did move between parents: at least one hypothesis left beam 0's greedy path.
    const greedy = await decodeBatch(model, prompts, { maxNewTokens: 10, eosTokenIds: [EOS] });
    assert.ok(cached.some((list, b) => list.some((h) => h.ids.join() !== greedy[b]!.ids.join())));
  });

  it('a left-padded batch equals each prompt alone (beam and greedy)', async () => {
    const options = { numBeams: 3, numReturnSequences: 2, maxNewTokens: 8, eosTokenIds: [EOS] };
    const batch = await beamSearch(model, prompts, options);
    const greedy = await decodeBatch(model, prompts, { maxNewTokens: 8, eosTokenIds: [EOS] });
    for (const [b, prompt] of promptIds.entries()) {
      const [alone] = await beamSearch(model, { kind: 'prompts', prompts: [prompt] }, options);
      alone!.forEach((h, i) => {
        assert.deepEqual(batch[b]![i]!.ids, h.ids, `sentence ${b} hypothesis ${i}`);
        closeScores(batch[b]![i]!.score, h.score, `sentence ${b}`);
      });
      const [one] = await decodeBatch(
        model,
        { kind: 'prompts', prompts: [prompt] },
        { maxNewTokens: 8, eosTokenIds: [EOS] },
      );
      assert.deepEqual(greedy[b]!.ids, one!.ids);
    }
  });

  it('numBeams 1 equals greedy, and greedy equals generate()', async () => {
    const common = { maxNewTokens: 12, eosTokenIds: [EOS] };
    const greedy = await decodeBatch(model, prompts, common);
    const beam = await beamSearch(model, prompts, { ...common, numBeams: 1 });
    const tokenizer = CharTokenizer.fromText('abcdefghijk');
    for (const [b, prompt] of promptIds.entries()) {
      assert.deepEqual(beam[b]![0]!.ids, greedy[b]!.ids, `sentence ${b}`);
      closeScores(beam[b]![0]!.logProb, greedy[b]!.logProb, `sentence ${b}`);
      const { ids } = await generateText(model, tokenizer, prompt, { ...common });
      assert.deepEqual(greedy[b]!.ids, ids, `sentence ${b}: generate()`);
    }
  });

  it('sampling is reproducible from a seed, differs across seeds, and pads finished rows', async () => {
    const sampling = { kind: 'sample', temperature: 1.5 } as const;
    const a = await decodeBatch(model, prompts, { maxNewTokens: 12, eosTokenIds: [EOS], sampling, seed: 1 });
    const b = await decodeBatch(model, prompts, { maxNewTokens: 12, eosTokenIds: [EOS], sampling, seed: 1 });
    assert.deepEqual(a, b);
    const seeds = await Promise.all(
      [2, 3, 4, 5].map((seed) =>
        decodeBatch(model, prompts, { maxNewTokens: 12, eosTokenIds: [EOS], sampling, seed }),
      ),
    );
    assert.ok(
      seeds.some((s) => s.map((x) => x.ids.join()).join('|') !== a.map((x) => x.ids.join()).join('|')),
    );
    for (const run of [a, ...seeds]) {
      for (const s of run) {
        const eosAt = s.ids.indexOf(EOS);
        assert.ok(eosAt === -1 || eosAt === s.ids.length - 1, 'nothing after EOS');
        assert.equal(s.finishReason, eosAt === -1 ? 'length' : 'eos');
      }
    }
  });
});

describe('bad decoding input', () => {
  const table = new TableLM('decoder', 5, 8, 1);
  const source: DecodeSource = { kind: 'prompts', prompts: [[1, 2]] };
  const rejects = async (
    run: () => Promise<unknown>,
    type: typeof ConfigError,
    pattern: RegExp,
    where?: string,
  ): Promise<void> => {
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
      assert.match((e as Error).message, pattern);
      if (where !== undefined) assert.equal((e as ConfigError).where, where);
      return true;
    });
  };

  it('beam size 0, numReturnSequences above numBeams, a bad length penalty or early stopping', async () => {
    await rejects(
      () => beamSearch(table, source, { numBeams: 0, maxNewTokens: 3 }),
      ConfigError,
      /numBeams must be an integer >= 1 \(got 0\)/,
      'beamSearch',
    );
    await rejects(
      () => beamSearch(table, source, { numBeams: 2, numReturnSequences: 3, maxNewTokens: 3 }),
      ConfigError,
      /numReturnSequences must be an integer in \[1, numBeams = 2\] \(got 3\)/,
    );
    await rejects(
      () =>
        beamSearch(table, source, {
          numBeams: 2,
          maxNewTokens: 3,
          lengthPenalty: NaN,
          earlyStopping: 'sometimes' as never,
        }),
      ConfigError,
      /lengthPenalty must be a finite number.*earlyStopping must be true, false or 'never'/,
    );
  });

  it('ids outside the vocabulary, counts out of range, a bad penalty or sampling: all listed at once', async () => {
    await rejects(
      () =>
        decodeBatch(table, source, {
          maxNewTokens: 0,
          eosTokenIds: [5],
          padTokenId: -1,
          forcedEosTokenId: 9,
          noRepeatNgramSize: -1,
          minNewTokens: 1.5,
          badWordsIds: [[], [7]],
          repetitionPenalty: 0,
          sampling: { kind: 'sample', temperature: 0 },
        }),
      ConfigError,
      new RegExp(
        [
          'maxNewTokens must be an integer >= 1 \\(got 0\\)',
          'eosTokenIds\\[0\\] must be an id in \\[0, 5\\) \\(got 5\\)',
          'padTokenId must be an id in \\[0, 5\\) \\(got -1\\)',
          'forcedEosTokenId must be an id in \\[0, 5\\) \\(got 9\\)',
          'noRepeatNgramSize must be an integer >= 0',
          'minNewTokens must be an integer >= 0',
          'badWordsIds\\[0\\] is empty',
          'badWordsIds\\[1\\]\\[0\\] must be an id',
          'repetitionPenalty must be a finite number > 0',
          'temperature must be a finite number > 0',
        ].join('.*'),
      ),
      'decodeBatch',
    );
  });

  it('prompts that are empty, hold a bad id or do not leave room; a source for the wrong kind of model', async () => {
    await rejects(
      () => decodeBatch(table, { kind: 'prompts', prompts: [] }, { maxNewTokens: 1 }),
      ConfigError,
      /no prompts/,
    );
    await rejects(
      () => decodeBatch(table, { kind: 'prompts', prompts: [[1], []] }, { maxNewTokens: 1 }),
      ConfigError,
      /a prompt is empty/,
      'decodeBatch: prompts[1]',
    );
    await rejects(
      () => beamSearch(table, { kind: 'prompts', prompts: [[1, 5]] }, { numBeams: 2, maxNewTokens: 1 }),
      ConfigError,
      /outside the model vocabulary; expected \[0, 5\), got 5/,
      'beamSearch: prompts[0][1]',
    );
    await rejects(
      () => beamSearch(table, { kind: 'prompts', prompts: [[1, 2, 3]] }, { numBeams: 2, maxNewTokens: 6 }),
      ConfigError,
      /would not fit the model context; expected the longest prompt \+ maxNewTokens <= 8 .*, got 3 \+ 6/,
      'beamSearch: maxNewTokens',
    );
    const encoderOutput = { hiddenStates: Tensor.fromArray(new Float32Array(6), [1, 3, 2]) };
    await rejects(
      () =>
        decodeBatch(table, { kind: 'encoder', encoderOutput, decoderStartTokenId: 0 }, { maxNewTokens: 1 }),
      ConfigError,
      /an encoder output decodes with an encoder-decoder model/,
    );
    const seq2seq = new TableLM('encoder-decoder', 5, 8, 1);
    await rejects(
      () => decodeBatch(seq2seq, source, { maxNewTokens: 1 }),
      ConfigError,
      /prompts decode with a decoder-only model/,
    );
    await rejects(
      () =>
        decodeBatch(seq2seq, { kind: 'encoder', encoderOutput, decoderStartTokenId: 7 }, { maxNewTokens: 1 }),
      ConfigError,
      /decoderStartTokenId outside the model vocabulary/,
    );
    await rejects(
      () =>
        decodeBatch(
          seq2seq,
          {
            kind: 'encoder',
            encoderOutput: { ...encoderOutput, keys: Tensor.fromArray(new Int32Array(2), [1, 2]) },
            decoderStartTokenId: 0,
          },
          { maxNewTokens: 1 },
        ),
      ShapeError as typeof ConfigError,
      /^decodeBatch: encoderOutput.keys: must be \(B, S\) int32 like hiddenStates; expected \(1, 3\) int32, got \(1, 2\) int32/,
    );
  });
});
