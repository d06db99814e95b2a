/**
 * KV cache edits between decoding passes, checked against full recomputation on tiny
 * models of both presets (GQA included): truncate then re-append (speculative decoding
 * rejecting drafts), reorder with repeats (beam search), cross-attention state moving with
 * reorder, the composed path reading the filled prefix, and the range errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Rng, type Tensor, narrow, noGrad, randn, tensor } from '../../src/index.js';
import { KVCache, SelfAttention } from '../../src/nn/index.js';
import { DecoderLM, gpt2Preset, llamaPreset, type DecoderConfig } from '../../src/models/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const small = { vocabSize: 29, nLayer: 2, nEmbd: 16, blockSize: 16, initStd: 0.2 };
const configs: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2', gpt2Preset({ ...small, nHead: 2 })],
  ['llama GQA', llamaPreset({ ...small, nHead: 4, nKvHead: 2, intermediateSize: 24 })],
];
// float32 logits of a whole model: cached steps (GEMV, one position) against a full
// recomputation (GEMM over all positions) sum in different orders through every layer.
const tolerance = { atol: 1e-5, rtol: 1e-4, finite: true };

const ids = (rows: readonly (readonly number[])[]): Tensor =>
  tensor(rows.flat(), [rows.length, rows[0]!.length], 'int32');

/** Logits of the last `n` positions of a full (uncached) forward. */
function lastLogits(model: DecoderLM, rows: readonly (readonly number[])[], n: number): Tensor {
  const logits = noGrad(() => model.forward(ids(rows)));
  return narrow(logits, 1, rows[0]!.length - n, n);
}

test('KVCache.truncate then re-append equals recomputing the accepted sequence', () => {
  for (const [name, config] of configs) {
    const model = new DecoderLM(config, { seed: 3 }).eval();
    const cache = model.createCache(1, 12);
    const prompt = [1, 5, 9, 2, 7];
    noGrad(() => {
      model.forward(ids([prompt]), { cache });
      model.forward(ids([[11, 12, 13]]), { cache }); // three draft tokens
      assert.equal(cache.length, 8);
      cache.truncate(6); // the verifier accepts the first draft only
      const got = model.forward(ids([[20, 21]]), { cache });
      assertClose(`${name}: after truncate`, got, lastLogits(model, [[...prompt, 11, 20, 21]], 2), tolerance);
      cache.truncate(0);
      const fresh = model.forward(ids([[4, 4]]), { cache });
      assertClose(`${name}: truncate(0)`, fresh, lastLogits(model, [[4, 4]], 2), tolerance);
    });
    assert.throws(
      () => cache.truncate(3),
      (e: unknown) => e instanceof ConfigError && /\[0, 2\]/.test(e.message) && /got 3/.test(e.message),
    );
    assert.throws(() => cache.truncate(-1), ConfigError);
    assert.throws(() => cache.truncate(1.5), ConfigError);
    cache.dispose();
    model.dispose();
  }
});

test('KVCache.reorder with repeats equals recomputing the reordered batch', () => {
  for (const [name, config] of configs) {
    const model = new DecoderLM(config, { seed: 4 }).eval();
    const cache = model.createCache(3, 10);
    const prompts = [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
    ];
    const first = [13, 14, 15];
    const order = [2, 0, 2];
    const second = [16, 17, 18];
    noGrad(() => {
      model.forward(ids(prompts), { cache });
      model.forward(ids(first.map((t) => [t])), { cache });
      cache.reorder(order);
      const got = model.forward(ids(second.map((t) => [t])), { cache });
      const histories = order.map((from, b) => [...prompts[from]!, first[from]!, second[b]!]);
      assertClose(`${name}: reordered`, got, lastLogits(model, histories, 1), tolerance);
    });
    assert.throws(
      () => cache.reorder([0, 1]),
      (e: unknown) => e instanceof ConfigError && /3 integers in \[0, 3\)/.test(e.message),
    );
    assert.throws(
      () => cache.reorder([0, 3, 1]),
      (e: unknown) => e instanceof ConfigError && /batchIndices\[1\] = 3/.test(e.message),
    );
    cache.dispose();
    model.dispose();
  }
});

test('KVCache.reorder moves the cross-attention state; reset forgets it', () => {
  const cache = new KVCache({ nLayer: 1, batch: 3, nKvHead: 2, maxT: 4, headSize: 2 });
  const S = 5;
  const keys = randn([3, 2, S, 2], new Rng(1));
  const values = randn([3, 2, S, 2], new Rng(2));
  cache.setCross(0, keys, values);
  cache.reorder([1, 1, 0]);
  const cross = cache.cross(0)!;
  [1, 1, 0].forEach((from, b) => {
    assertBitEqual(`cross keys row ${b}`, narrow(cross.keys, 0, b, 1), narrow(keys, 0, from, 1));
    assertBitEqual(`cross values row ${b}`, narrow(cross.values, 0, b, 1), narrow(values, 0, from, 1));
  });
  assert.throws(() => cache.setCross(0, randn([3, 1, S, 2], new Rng(3)), values), /does not fit the cache/);
  cache.reset();
  assert.equal(cache.cross(0), null);
  cache.dispose();
});

test('with a cache, the composed path reads the filled prefix: probabilities (B, nH, 1, length) and the fused output', () => {
  const rng = new Rng(6);
  const attention = new SelfAttention({
    nEmbd: 8,
    nHead: 2,
    nKvHead: 1,
    bias: false,
    layout: 'outIn',
    projections: { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' },
    std: 0.5,
    outStd: 0.5,
    rng,
  });
  const [fused, composed] = [0, 1].map(
    () => new KVCache({ nLayer: 1, batch: 2, nKvHead: 1, maxT: 8, headSize: 4 }),
  );
  const x = randn([2, 5, 8], rng);
  noGrad(() => {
    for (let t = 0; t < 5; t++) {
      const token = narrow(x, 1, t, 1);
      const context = { offset: t, rope: null, layer: 0, attentionDropout: null };
      const want = attention.attend(token, { ...context, cache: fused! });
      const got = attention.attend(token, { ...context, cache: composed!, returnProbabilities: true });
      fused!.advance(1);
      composed!.advance(1);
      assert.deepEqual(got.probabilities!.shape, [2, 2, 1, t + 1]);
      assertClose(`step ${t}`, got.output, want.output, { atol: 1e-6, rtol: 1e-5, finite: true });
    }
  });
  fused!.dispose();
  composed!.dispose();
  attention.dispose();
});
