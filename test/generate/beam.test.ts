/**
 * Beam search on the table model (test/generate/table-lm.ts): an exhaustive beam returns
 * every possible sequence in brute-force order with brute-force scores; batches equal single
 * runs (decoder prompts of different lengths, encoder-decoder sentences with padded
 * sources); the cache path equals recomputation; numBeams 1 equals greedy; no-repeat
 * n-grams, bad words, min new tokens and forced EOS hold; early stopping modes order as HF's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Tensor } from '../../src/tensor/index.js';
import {
  type BeamSearchOptions,
  type DecodeSource,
  type DecodedSequence,
  bannedNgramIds,
  beamSearch,
  decodeBatch,
} from '../../src/generate/index.js';
import { TableLM } from './table-lm.js';

const EOS = 0;

interface Brute {
  ids: number[];
  logProb: number;
  score: number;
}

/** Every sequence the model can generate after `context` (EOS-ended or maxNewTokens long), best first. */
function bruteForce(
  model: TableLM,
  context: readonly number[],
  maxNewTokens: number,
  lengthPenalty: number,
  noRepeatNgramSize = 0,
): Brute[] {
  const out: Brute[] = [];
  const walk = (ids: number[], logProb: number): void => {
    if (ids.length > 0 && (ids[ids.length - 1] === EOS || ids.length === maxNewTokens)) {
      out.push({ ids, logProb, score: logProb / ids.length ** lengthPenalty });
      return;
    }
    const history = [...context, ...ids];
    const logProbs = model.logProbs(history);
    const banned = noRepeatNgramSize > 0 ? bannedNgramIds(history, noRepeatNgramSize) : [];
    for (let v = 0; v < model.vocabSize; v++) {
      if (!banned.includes(v)) walk([...ids, v], logProb + logProbs[v]!);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

function sameSequences(
  actual: readonly DecodedSequence[],
  expected: readonly DecodedSequence[],
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: number of hypotheses`);
  actual.forEach((h, i) => {
    assert.deepEqual(h.ids, expected[i]!.ids, `${what}: hypothesis ${i} ids`);
    assert.equal(h.score, expected[i]!.score, `${what}: hypothesis ${i} score`);
    assert.equal(h.logProb, expected[i]!.logProb, `${what}: hypothesis ${i} logProb`);
    assert.equal(h.finishReason, expected[i]!.finishReason, `${what}: hypothesis ${i} finish`);
  });
}

const prompts = (...p: number[][]): DecodeSource => ({ kind: 'prompts', prompts: p });

describe('beam search: exhaustive beam equals brute force', () => {
  for (const lengthPenalty of [1, 0, 2, -0.5]) {
    it(`returns every sequence in brute-force order and score (V 4, 3 new ids, lengthPenalty ${lengthPenalty})`, async () => {
      const model = new TableLM('decoder', 4, 16, 7);
      const context = [2, 3];
      const expected = bruteForce(model, context, 3, lengthPenalty);
      assert.equal(expected.length, 1 + 3 + 36); // EOS first; then 3 x EOS; then 3 x 3 x 4
      const k = expected.length;
      const options: BeamSearchOptions = {
        numBeams: k,
        numReturnSequences: k,
        maxNewTokens: 3,
        eosTokenIds: [EOS],
        lengthPenalty,
      };
      for (const earlyStopping of [false, 'never', true] as const) {
        const [nbest] = await beamSearch(model, prompts(context), { ...options, earlyStopping });
        assert.equal(nbest!.length, k);
        nbest!.forEach((h, i) => {
          assert.deepEqual(h.ids, expected[i]!.ids, `earlyStopping ${earlyStopping}: rank ${i}`);
          assert.equal(h.logProb, expected[i]!.logProb, `rank ${i} logProb`);
          assert.equal(h.score, expected[i]!.score, `rank ${i} score`);
          assert.equal(h.finishReason, h.ids[h.ids.length - 1] === EOS ? 'eos' : 'length');
        });
      }
    });
  }

  it('with no-repeat bigrams: every allowed sequence, none repeating a bigram of prompt + output', async () => {
    const model = new TableLM('decoder', 3, 16, 11);
    const context = [1, 2, 1];
    const expected = bruteForce(model, context, 4, 1, 2);
    const k = expected.length;
    const [nbest] = await beamSearch(model, prompts(context), {
      numBeams: k,
      numReturnSequences: k,
      maxNewTokens: 4,
      eosTokenIds: [EOS],
      noRepeatNgramSize: 2,
    });
    assert.deepEqual(
      nbest!.map((h) => h.ids),
      expected.map((e) => e.ids),
    );
    for (const h of nbest!) {
      const all = [...context, ...h.ids];
      const bigrams = all.slice(1).map((id, i) => `${all[i]} ${id}`);
      assert.equal(new Set(bigrams).size, bigrams.length, `${all} repeats a bigram`);
    }
    assert.ok(
      !nbest!.some((h) => h.ids[0] === 2),
      'the bigram "1 2" of the prompt may not follow its final 1',
    );
  });

  it('a narrow beam returns its n-best sorted, each scored logProb / length^lengthPenalty', async () => {
    const model = new TableLM('decoder', 6, 32, 5, 1);
    const [nbest] = await beamSearch(model, prompts([3]), {
      numBeams: 4,
      numReturnSequences: 4,
      maxNewTokens: 6,
      eosTokenIds: [EOS],
      lengthPenalty: 0.7,
    });
    assert.equal(nbest!.length, 4);
    for (let i = 1; i < 4; i++) assert.ok(nbest![i - 1]!.score >= nbest![i]!.score, 'best first');
    const exhaustive = bruteForce(model, [3], 6, 0.7)[0]!;
    for (const h of nbest!) {
      assert.equal(h.score, h.logProb / h.ids.length ** 0.7);
      assert.ok(h.score <= exhaustive.score, 'nothing beats the exhaustive optimum');
    }
  });
});

describe('beam search: batches, cache, encoder-decoder', () => {
  const options: BeamSearchOptions = {
    numBeams: 3,
    numReturnSequences: 2,
    maxNewTokens: 6,
    eosTokenIds: [EOS],
  };

  it('prompts of different lengths (left-padded) equal one-by-one runs, with and without the cache', async () => {
    const model = new TableLM('decoder', 7, 32, 3);
    const batch = [[1], [2, 3, 4, 5], [6, 1]];
    const together = await beamSearch(model, prompts(...batch), options);
    const recomputed = await beamSearch(model, prompts(...batch), { ...options, useCache: false });
    for (let b = 0; b < batch.length; b++) {
      const [alone] = await beamSearch(model, prompts(batch[b]!), options);
      sameSequences(together[b]!, alone!, `sentence ${b}`);
      sameSequences(recomputed[b]!, alone!, `sentence ${b} without cache`);
    }
  });

  it('encoder-decoder: each sentence cross-attends its own (padded) source; batch equals single; cache equals recompute', async () => {
    const model = new TableLM('encoder-decoder', 6, 32, 9);
    const B = 3;
    const S = 4;
    const C = 2;
    const hidden = Float32Array.from({ length: B * S * C }, (_, i) => ((i * 37) % 11) / 4 - 1.25);
    const lengths = [4, 2, 3];
    const keys = Int32Array.from({ length: B * S }, (_, i) => (i % S < lengths[Math.floor(i / S)]! ? 1 : 0));
    const encoder = (rows: number[]): DecodeSource => ({
      kind: 'encoder',
      decoderStartTokenId: 5,
      encoderOutput: {
        hiddenStates: Tensor.fromArray(
          Float32Array.from(rows.flatMap((b) => [...hidden.subarray(b * S * C, (b + 1) * S * C)])),
          [rows.length, S, C],
        ),
        keys: Tensor.fromArray(Int32Array.from(rows.flatMap((b) => [...keys.subarray(b * S, (b + 1) * S)])), [
          rows.length,
          S,
        ]),
      },
    });
    const together = await beamSearch(model, encoder([0, 1, 2]), options);
    const recomputed = await beamSearch(model, encoder([0, 1, 2]), { ...options, useCache: false });
    for (let b = 0; b < B; b++) {
      const [alone] = await beamSearch(model, encoder([b]), options);
      sameSequences(together[b]!, alone!, `sentence ${b}`);
      sameSequences(recomputed[b]!, alone!, `sentence ${b} without cache`);
    }
    // The sources matter: the sentences' best hypotheses do not all score the same.
    assert.ok(new Set(together.map((n) => n[0]!.logProb)).size > 1);
    const greedy = await decodeBatch(model, encoder([0, 1, 2]), { maxNewTokens: 6, eosTokenIds: [EOS] });
    const beamOne = await beamSearch(model, encoder([0, 1, 2]), {
      numBeams: 1,
      maxNewTokens: 6,
      eosTokenIds: [EOS],
    });
    greedy.forEach((g, b) => assert.deepEqual(beamOne[b]![0]!.ids, g.ids, `sentence ${b}: beam 1 = greedy`));
  });

  it('numBeams 1 equals greedy decoding, ids and log-probabilities, with and without no-repeat n-grams', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const model = new TableLM('decoder', 5, 32, seed, 1.5);
      for (const noRepeatNgramSize of [0, 2]) {
        const batch = prompts([1, 2], [3], [4, 4, 1]);
        const common = { maxNewTokens: 10, eosTokenIds: [EOS], noRepeatNgramSize };
        const greedy = await decodeBatch(model, batch, common);
        const beam = await beamSearch(model, batch, { ...common, numBeams: 1, lengthPenalty: 1.3 });
        greedy.forEach((g, b) => {
          const h = beam[b]![0]!;
          assert.deepEqual(h.ids, g.ids, `seed ${seed} n-gram ${noRepeatNgramSize} sentence ${b}`);
          assert.equal(h.logProb, g.logProb);
          assert.equal(h.score, g.logProb / g.ids.length ** 1.3);
          assert.equal(h.finishReason, g.finishReason);
        });
      }
    }
  });
});

describe('beam search: processors and stopping', () => {
  const model = new TableLM('decoder', 6, 32, 21, 1);
  const source = prompts([1, 2], [3]);

  it('forced EOS ends every hypothesis on the last position, counting 0 there', async () => {
    const nbest = await beamSearch(model, source, {
      numBeams: 3,
      numReturnSequences: 3,
      maxNewTokens: 4,
      eosTokenIds: [EOS],
      forcedEosTokenId: EOS,
      lengthPenalty: 0,
    });
    const contexts = [[1, 2], [3]];
    nbest.forEach((list, b) => {
      for (const h of list) {
        assert.equal(h.ids[h.ids.length - 1], EOS);
        assert.equal(h.finishReason, 'eos');
        // The sum of the ids' log-probabilities, the forced EOS at position 4 adding 0.
        let expected = 0;
        h.ids.forEach((id, i) => {
          expected += i === 3 ? 0 : model.logProbs([...contexts[b]!, ...h.ids.slice(0, i)])[id]!;
        });
        assert.equal(h.logProb, expected, `${h.ids}`);
        assert.equal(h.score, expected); // lengthPenalty 0
      }
    });
  });

  it('min new tokens and bad words are never violated', async () => {
    const nbest = await beamSearch(model, source, {
      numBeams: 4,
      numReturnSequences: 4,
      maxNewTokens: 7,
      eosTokenIds: [EOS],
      minNewTokens: 3,
      badWordsIds: [[4], [1, 3]],
    });
    for (const [b, list] of nbest.entries()) {
      for (const h of list) {
        assert.ok(h.ids.length >= 4 || h.ids[h.ids.length - 1] !== EOS, `${h.ids}: EOS before 3 ids`);
        assert.ok(!h.ids.slice(0, 3).includes(EOS));
        assert.ok(!h.ids.includes(4), `${h.ids} has the banned 4`);
        const all = [...(b === 0 ? [1, 2] : [3]), ...h.ids];
        assert.ok(!all.some((id, i) => id === 1 && all[i + 1] === 3), `${all} has the banned "1 3"`);
      }
    }
  });

  it("early stopping: 'never' searches at least as long and as well as false, false as true", async () => {
    const best = async (earlyStopping: boolean | 'never'): Promise<{ scores: number[]; calls: number }> => {
      const m = new TableLM('decoder', 8, 40, 13, 1);
      const nbest = await beamSearch(m, prompts([1], [2, 3], [4]), {
        numBeams: 2,
        maxNewTokens: 12,
        eosTokenIds: [EOS],
        lengthPenalty: 1,
        earlyStopping,
      });
      return { scores: nbest.map((n) => n[0]!.score), calls: m.forwardCalls };
    };
    const never = await best('never');
    const heuristic = await best(false);
    const early = await best(true);
    never.scores.forEach((s, b) => {
      assert.ok(s >= heuristic.scores[b]!, `sentence ${b}: never ${s} < false ${heuristic.scores[b]}`);
      assert.ok(heuristic.scores[b]! >= early.scores[b]!, `sentence ${b}: false < true`);
    });
    assert.ok(never.calls >= heuristic.calls && heuristic.calls >= early.calls);
  });

  it('a signal aborts after the current step, returning the open beams', async () => {
    const controller = new AbortController();
    controller.abort();
    const nbest = await beamSearch(model, source, {
      numBeams: 2,
      maxNewTokens: 20,
      eosTokenIds: [],
      signal: controller.signal,
    });
    for (const list of nbest) {
      assert.equal(list.length, 1);
      assert.ok(list[0]!.finishReason === 'aborted' && list[0]!.ids.length === 0);
    }
  });
});
