/**
 * Translation with a tiny (random, perturbed) Marian: generation_config.json read as HF
 * generate reads it; greedy translation equals argmax decoding by hand with full recompute;
 * a batch of different lengths equals one sentence at a time; beam search with the cache
 * (cross-attention keys cached, beams reordered) equals beam search recomputing everything;
 * beam 1 equals greedy; n-best is sorted; the pad id is never generated and the forced EOS
 * ends a length-limited hypothesis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/backend/index.js';
import { Rng, Tensor, noGrad } from '../../src/tensor/index.js';
import { MarianMTModel, marianPreset } from '../../src/models/index.js';
import {
  beamSearch,
  defaultTranslationConfig,
  resolveTranslationConfig,
  translateIds,
  translationConfigFromHf,
  translationConfigToHf,
  type TranslationConfig,
} from '../../src/generate/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertThrowsAt } from '../util/throws.js';

const config = marianPreset({
  vocabSize: 23,
  dModel: 16,
  encoderFfnDim: 24,
  decoderFfnDim: 24,
  maxPositions: 12,
  padTokenId: 0,
  eosTokenId: 1,
  forcedEosTokenId: 1,
  dropout: 0,
  initStd: 0.3,
});

function model(): MarianMTModel {
  const m = new MarianMTModel(config, { seed: 4 });
  const rng = new Rng(9);
  for (const t of m.stateDict().values()) {
    const v = t.floats();
    for (let i = 0; i < v.length; i++) v[i] = v[i]! + 0.1 * rng.normal();
  }
  return m.eval();
}

const sources = [
  [5, 6, 7, 8, 9, 1],
  [10, 11, 1],
  [12, 13, 14, 15, 1],
];

const greedy = (m: MarianMTModel, overrides: Partial<TranslationConfig> = {}): TranslationConfig =>
  resolveTranslationConfig({
    ...defaultTranslationConfig(m),
    maxNewTokens: 8,
    badWordsIds: [[m.padTokenId]],
    ...overrides,
  });

/** Greedy decoding of one source by hand: the whole target recomputed each step, argmax, pad banned. */
function greedyByHand(m: MarianMTModel, source: readonly number[], maxNewTokens: number): number[] {
  const sourceIds = Tensor.fromArray(Int32Array.from(source), [1, source.length]);
  const out: number[] = [];
  for (let t = 0; t < maxNewTokens; t++) {
    const ids = Tensor.fromArray(Int32Array.from([m.decoderStartTokenId, ...out]), [1, out.length + 1]);
    const logits = noGrad(() =>
      m.forward({ ids, sourceIds }, { logits: 'last', mode: 'eval' }).logits!.toArray(),
    );
    logits[m.padTokenId] = -Infinity;
    if (t === maxNewTokens - 1) return [...out, m.forcedEosTokenId!]; // forced EOS at the last position
    const id = logits.indexOf(Math.max(...logits));
    out.push(id);
    if (id === m.eosTokenId) return out;
  }
  return out;
}

test("generation_config.json is read as HF generate reads an encoder-decoder's", () => {
  const m = model();
  const base = translationConfigFromHf(null, m);
  assert.equal(base.numBeams, 1);
  assert.equal(base.maxNewTokens, 19); // HF max_length 20, the decoder start counted
  assert.deepEqual(
    [base.decoderStartTokenId, base.padTokenId, base.eosTokenIds, base.forcedEosTokenId],
    [0, 0, [1], 1],
  );
  const helsinki = translationConfigFromHf(
    {
      bad_words_ids: [[0]],
      decoder_start_token_id: 0,
      eos_token_id: 1,
      forced_eos_token_id: 1,
      max_length: 512,
      num_beams: 4,
      pad_token_id: 0,
      renormalize_logits: false,
      transformers_version: '4.40.0',
    },
    m,
  );
  assert.deepEqual([helsinki.numBeams, helsinki.maxNewTokens, helsinki.badWordsIds], [4, 511, [[0]]]);
  assert.equal(translationConfigFromHf({ forced_eos_token_id: null }, m).forcedEosTokenId, null);
  assert.deepEqual(translationConfigFromHf(translationConfigToHf(helsinki), m), helsinki);
  assertThrowsAt(
    () =>
      translationConfigFromHf(
        {
          renormalize_logits: true,
          do_sample: true,
          num_beams: 2,
          num_beam_groups: 2,
          frobnicate: 1,
          eos_token_id: [],
        },
        m,
        'dir/generation_config.json',
      ),
    ConfigError,
    'dir/generation_config.json',
    /5 invalid fields.*frobnicate: not supported.*eos_token_id: expected a token id or a non-empty list.*beam sampling.*renormalize_logits: not supported.*num_beam_groups: not supported/,
  );
  assert.throws(
    () => resolveTranslationConfig({ ...base, numBeams: 2, numReturnSequences: 3 }),
    /at most numBeams 2 hypotheses/,
  );
  m.dispose();
});

test('greedy translation equals argmax decoding by hand; a batch of different lengths equals one sentence at a time', async () => {
  const m = model();
  const cfg = greedy(m);
  const batched = await translateIds(m, sources, cfg, { batchSize: 3 });
  for (const [i, source] of sources.entries()) {
    const [alone] = await translateIds(m, [source], cfg);
    assert.deepEqual(batched[i]![0]!.ids, alone![0]!.ids, `sentence ${i}`);
    assert.deepEqual(batched[i]![0]!.ids, greedyByHand(m, source, cfg.maxNewTokens), `sentence ${i} by hand`);
    assert.ok(!batched[i]![0]!.ids.includes(m.padTokenId), 'the pad id is banned');
  }
  m.dispose();
});

test('beam search with the cache (cross-attention cached, beams reordered) equals recomputation; beam 1 equals greedy; n-best sorted', async () => {
  const m = model();
  const sourceIds = Tensor.fromArray(Int32Array.from([...sources[0]!, ...sources[2]!, 0]), [2, 6]);
  const sourceMask = Tensor.fromArray(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]), [2, 6]);
  const encoderOutput = noGrad(() => m.encode(sourceIds, { sourceMask }));
  const source = { kind: 'encoder', encoderOutput, decoderStartTokenId: 0 } as const;
  const options = {
    maxNewTokens: 8,
    numBeams: 4,
    numReturnSequences: 4,
    eosTokenIds: [1],
    padTokenId: 0,
    forcedEosTokenId: 1,
    badWordsIds: [[0]],
  };
  const cached = await beamSearch(m, source, options);
  const recomputed = await beamSearch(m, source, { ...options, useCache: false });
  assert.deepEqual(
    cached.map((s) => s.map((h) => h.ids)),
    recomputed.map((s) => s.map((h) => h.ids)),
  );
  cached.forEach((s, b) =>
    s.forEach((h, k) =>
      assert.ok(Math.abs(h.score - recomputed[b]![k]!.score) < 1e-4, `sentence ${b} hypothesis ${k}`),
    ),
  );
  for (const hypotheses of cached) {
    for (let k = 1; k < hypotheses.length; k++) assert.ok(hypotheses[k - 1]!.score >= hypotheses[k]!.score);
    // A hypothesis ends in EOS: stopped on it, or forced at the last position.
    for (const h of hypotheses) assert.equal(h.ids[h.ids.length - 1], 1);
  }
  const beam1 = await translateIds(m, sources, greedy(m, { numBeams: 1 }));
  const oneBeam = await beamSearch(m, source, { ...options, numBeams: 1, numReturnSequences: 1 });
  assert.deepEqual(oneBeam[0]![0]!.ids, beam1[0]![0]!.ids);
  assert.deepEqual(oneBeam[1]![0]!.ids, beam1[2]![0]!.ids);
  const nBest = await translateIds(m, sources, greedy(m, { numBeams: 4, numReturnSequences: 3 }));
  assert.ok(nBest.every((h) => h.length === 3));
  m.dispose();
});

test('sources that do not fit are errors naming them', async () => {
  const m = model();
  const cfg = greedy(m);
  const where = (i: number): string => `in.txt:${i + 1}`;
  await assert.rejects(
    translateIds(m, [[5, 1], []], cfg, { where }),
    (e) => e instanceof ConfigError && e.where === 'in.txt:2',
  );
  await assert.rejects(
    translateIds(m, [Array.from({ length: 13 }, () => 5)], cfg, { where }),
    (e) =>
      e instanceof ConfigError &&
      e.where === 'in.txt:1' &&
      /longer than the model's positions/.test(e.message),
  );
  await assert.rejects(
    translateIds(m, [[5, 99]], cfg, { where }),
    (e) => e instanceof ConfigError && e.where === 'in.txt:1[1]',
  );
  m.dispose();
});
