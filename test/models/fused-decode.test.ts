/**
 * The fused decode step (src/models/decoder/fused-decode.ts, kernel decodeLayer) against the
 * unfused blocks: for every Llama-style variant the kernel covers (multi-head and grouped-
 * query attention, q/k/v biases as Qwen2, every bias, RoPE scaling, a head size of its own,
 * a window the context never reaches), on the JS backend and each native ISA, the logits
 * and the KV cache of each one-token step equal the unfused path's bit for bit (the same
 * model and cache run with autograd on, which always takes the blocks' ops), and greedy
 * generation gives the ids of full recomputation. Variants the kernel does not cover
 * (GPT-2, q/k norms, MLP biases, batch 2, a window in reach, LoRA) are refused by the plan,
 * so they run the blocks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad, scope } from '../../src/index.js';
import {
  DecoderLM,
  gpt2Preset,
  llamaPreset,
  mistralPreset,
  qwen2Preset,
  qwen3Preset,
  type DecoderConfig,
} from '../../src/models/index.js';
import { KVCache, Linear, LoraLinear } from '../../src/nn/index.js';
import { CharTokenizer } from '../../src/tokenizers/index.js';
import { generateText } from '../../src/generate/index.js';
import { assertBitEqual } from '../util/close.js';
import { backendsUnderTest } from '../conformance/backends.js';

const tiny = { vocabSize: 41, nLayer: 2, nEmbd: 32, blockSize: 24, initStd: 0.1 };

const covered: ReadonlyArray<[string, DecoderConfig]> = [
  ['llama, multi-head, untied', llamaPreset({ ...tiny, nHead: 4, tiedEmbeddings: false })],
  ['llama, grouped-query (4 / 2)', llamaPreset({ ...tiny, nHead: 4, nKvHead: 2 })],
  ['llama, every attention bias', llamaPreset({ ...tiny, nHead: 2, attentionBias: 'all' })],
  [
    'llama 3 rope scaling, head size 12 of its own, one kv head',
    llamaPreset({
      ...tiny,
      nHead: 4,
      nKvHead: 1,
      headSize: 12,
      ropeTheta: 500000,
      ropeScaling: {
        kind: 'llama3',
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositions: 8,
      },
    }),
  ],
  [
    'qwen2, q/k/v biases, grouped-query, tied',
    qwen2Preset({ ...tiny, nHead: 4, nKvHead: 2, tiedEmbeddings: true }),
  ],
  ['mistral, window 64 never reached', mistralPreset({ ...tiny, nHead: 4, nKvHead: 2, slidingWindow: 64 })],
];

const tokenizer = new CharTokenizer(
  Array.from({ length: tiny.vocabSize }, (_, i) => String.fromCodePoint(0x100 + i)),
);

/** Logits (V) of one step of `id` with `cache`: fused (no autograd) or the blocks (autograd on). */
function step(model: DecoderLM, cache: KVCache, ids: number[], fused: boolean): Float32Array {
  const run = (): Float32Array =>
    scope(() => {
      const input = Tensor.fromArray(Int32Array.from(ids), [1, ids.length]);
      const { logits } = model.forward({ ids: input, cache }, { logits: 'last', mode: 'eval' });
      return (logits!.floats() as Float32Array).slice();
    });
  return fused ? noGrad(run) : run();
}

for (const target of backendsUnderTest()) {
  for (const [name, config] of covered) {
    test(`fused decode equals the blocks bit for bit: ${name} (${target.label})`, () => {
      target.select();
      const model = new DecoderLM(config, { seed: 3 });
      const fusedCache = model.createCache(1);
      const plainCache = model.createCache(1);
      assert.equal(
        noGrad(() => model.fusesDecode(fusedCache)),
        true,
        'the fused path is taken',
      );
      assert.equal(model.fusesDecode(fusedCache), false, 'autograd on runs the blocks');
      const prompt = [4, 17, 0, 33, 9];
      assertBitEqual(
        'prefill logits',
        step(model, fusedCache, prompt, true),
        step(model, plainCache, prompt, false),
      );
      const before = target.calls();
      for (let t = 0; t < 8; t++) {
        const id = (7 * t + 3) % tiny.vocabSize;
        const fused = step(model, fusedCache, [id], true);
        const plain = step(model, plainCache, [id], false);
        assertBitEqual(`logits at position ${prompt.length + t}`, fused, plain);
      }
      if (before !== null) assert.ok(target.calls()! > before, 'the native kernels ran');
      for (let layer = 0; layer < config.nLayer; layer++) {
        const a = fusedCache.buffers(layer);
        const b = plainCache.buffers(layer);
        assertBitEqual(`keys of layer ${layer}`, a.keys.values(), b.keys.values());
        assertBitEqual(`values of layer ${layer}`, a.values.values(), b.values.values());
      }
      fusedCache.dispose();
      plainCache.dispose();
      model.dispose();
    });
  }
}

test('fused decode: greedy generation with the cache equals full recomputation', async () => {
  for (const [name, config] of covered) {
    const model = new DecoderLM(config, { seed: 5 });
    const options = { maxNewTokens: 16, stopAtEos: false };
    const cached = await generateText(model, tokenizer, [1, 2, 3], options);
    const recomputed = await generateText(model, tokenizer, [1, 2, 3], { ...options, useCache: false });
    assert.deepEqual(cached.ids, recomputed.ids, name);
    model.dispose();
  }
});

test('fused decode: the plan refuses what the kernel does not cover', () => {
  const refused: ReadonlyArray<[string, DecoderConfig]> = [
    ['gpt2', gpt2Preset({ ...tiny, nHead: 4 })],
    ['qwen3 (q/k norms)', qwen3Preset({ ...tiny, nHead: 4, nKvHead: 2 })],
    ['llama with MLP biases', llamaPreset({ ...tiny, nHead: 2, mlpBias: true })],
  ];
  noGrad(() => {
    for (const [name, config] of refused) {
      const model = new DecoderLM(config, { seed: 0 });
      assert.equal(model.fusesDecode(model.createCache(1)), false, name);
      model.dispose();
    }
    const llama = new DecoderLM(covered[0]![1], { seed: 0 });
    assert.equal(llama.fusesDecode(llama.createCache(2)), false, 'batch 2');
    const mistral = new DecoderLM(mistralPreset({ ...tiny, nHead: 4, slidingWindow: 4 }), { seed: 0 });
    const cache = mistral.createCache(1);
    assert.equal(mistral.fusesDecode(cache), true, 'window not reached yet');
    noGrad(() => mistral.forward({ ids: Tensor.fromArray(Int32Array.from([1, 2, 3, 4]), [1, 4]), cache }));
    assert.equal(mistral.fusesDecode(cache), false, 'the 5th position reaches past the window of 4');
    llama.replaceChild('model.layers.1.self_attn.q_proj', (linear) => new LoraLinear(linear as Linear, []));
    assert.equal(llama.fusesDecode(llama.createCache(1)), false, 'a LoRA-wrapped projection');
  });
});
