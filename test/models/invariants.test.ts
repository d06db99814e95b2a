/**
 * Model invariants on tiny configs of every preset: batched forward equals per-sequence
 * forward; KV-cache incremental decoding equals full recompute (GQA included); save ->
 * load is bit-exact; configs and state dicts fail with errors that name every problem.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  FormatError,
  Rng,
  ShapeError,
  narrow,
  noGrad,
  randint,
  randn,
  scope,
  zeros,
  type Tensor,
} from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import {
  DecoderLM,
  gpt2Preset,
  llamaPreset,
  loadModelFolder,
  mixtralPreset,
  parametersFromCheckpoint,
  resolveDecoderConfig,
  saveModelFolder,
  type DecoderConfig,
} from '../../src/models/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const small = { vocabSize: 37, nLayer: 2, nEmbd: 32, blockSize: 24, initStd: 0.1 };
const configs: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2', gpt2Preset({ ...small, nHead: 4 })],
  ['llama GQA', llamaPreset({ ...small, nHead: 4, nKvHead: 2, intermediateSize: 48 })],
  ['llama MQA', llamaPreset({ ...small, nHead: 4, nKvHead: 1 })],
  [
    'gpt2 variant (sinusoidal, no bias, RMSNorm, SwiGLU, GQA, untied)',
    gpt2Preset({
      ...small,
      nHead: 4,
      nKvHead: 2,
      positional: 'sinusoidal',
      bias: false,
      norm: 'rmsNorm',
      mlp: 'swiglu',
      activation: 'silu',
      tiedEmbeddings: false,
    }),
  ],
  [
    'llama variant (learned positions, LayerNorm, GELU MLP, bias, tied)',
    llamaPreset({
      ...small,
      nHead: 2,
      positional: 'learned',
      norm: 'layerNorm',
      mlp: 'gelu',
      activation: 'gelu',
      bias: true,
      tiedEmbeddings: true,
    }),
  ],
  [
    'mixtral (top-2 of 4 SwiGLU experts, GQA)',
    mixtralPreset({
      ...small,
      nHead: 4,
      nKvHead: 2,
      intermediateSize: 24,
      moe: { experts: 4, expertsPerToken: 2 },
    }),
  ],
  [
    'mixtral variant (Switch routing, GELU and shared experts, a capacity for training only)',
    mixtralPreset({
      ...small,
      nHead: 2,
      mlp: 'gelu',
      activation: 'gelu',
      intermediateSize: 16,
      moe: { experts: 3, expertsPerToken: 1, routing: 'softmax-topk', sharedExperts: 1, capacityFactor: 1 },
    }),
  ],
];

/** Row b of (B, ...) as its own (1, ...) tensor. */
const row = (t: Tensor, b: number): Tensor => narrow(t, 0, b, 1);
// Reordered float32 sums (one tall GEMM vs several) may differ in the last bits. Both sides
// are lmforge computations, so NaN on both would be a shared bug, not agreement: finite only.
const f32 = { atol: 1e-5, rtol: 1e-5, finite: true };

for (const [name, config] of configs) {
  test(`${name}: batched forward equals per-sequence forward`, () => {
    const model = new DecoderLM(config, { seed: 1 }).eval();
    noGrad(() =>
      scope(() => {
        const ids = randint(0, config.vocabSize, [3, 10], new Rng(5));
        const batched = model.forward(ids); // (3, 10, V)
        for (let b = 0; b < 3; b++) assertClose(`row ${b}`, row(batched, b), model.forward(row(ids, b)), f32);
      }),
    );
    model.dispose();
  });

  test(`${name}: KV-cache incremental logits equal full recompute`, () => {
    const model = new DecoderLM(config, { seed: 2 }).eval();
    noGrad(() =>
      scope(() => {
        const T = 12;
        const ids = randint(0, config.vocabSize, [2, T], new Rng(6));
        const full = model.forward(ids); // (2, T, V)
        const cache = model.createCache(2, 16);
        // A prompt of 5, one chunk of 3, then one token at a time.
        const chunks = [5, 3, 1, 1, 1, 1];
        let at = 0;
        for (const length of chunks) {
          const chunk = narrow(ids, 1, at, length);
          const step = model.forward(chunk, { cache });
          assertClose(`positions ${at}..${at + length - 1}`, step, narrow(full, 1, at, length), f32);
          at += length;
        }
        assert.equal(cache.length, T);
        cache.reset();
        assertClose(
          'after reset',
          model.forward(narrow(ids, 1, 0, 4), { cache }),
          narrow(full, 1, 0, 4),
          f32,
        );
        cache.dispose();
      }),
    );
    model.dispose();
  });

  test(`${name}: save -> load is bit-exact (config, every parameter, logits)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-model-'));
    try {
      const model = new DecoderLM(config, { seed: 3 }).eval();
      await saveModelFolder(dir, model, {
        tokenizerJson: { version: '1.0' },
        generationConfig: { max_new_tokens: 5 },
      });
      const loaded = await loadModelFolder(dir);
      assert.deepEqual(loaded.config, config);
      assert.equal(loaded.tokenizerPath, join(dir, 'tokenizer.json'));
      assert.deepEqual(loaded.generationConfig, { max_new_tokens: 5 });
      const before = model.namedParameters();
      const after = new Map(loaded.model.namedParameters());
      assert.deepEqual(
        [...after.keys()],
        before.map(([path]) => path),
      );
      for (const [path, tensor] of before) assertBitEqual(path, after.get(path)!, tensor);
      noGrad(() =>
        scope(() => {
          const ids = randint(0, config.vocabSize, [2, 7], new Rng(8));
          assertBitEqual('logits', loaded.model.forward(ids), model.forward(ids));
        }),
      );
      const saved = (await readSafetensorsFile(join(dir, 'model.safetensors'))).tensors;
      assert.equal(
        saved.has('lm_head.weight'),
        !config.tiedEmbeddings,
        'a tied head is not saved (as HF does)',
      );
      model.dispose();
      loaded.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('HF-style presets write HF-clean config.json (no lmforge_ keys)', async () => {
  for (const config of [configs[0]![1], configs[1]![1]]) {
    const dir = mkdtempSync(join(tmpdir(), 'lmforge-model-'));
    try {
      await saveModelFolder(dir, new DecoderLM(config));
      const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(
        Object.keys(json).filter((k) => k.startsWith('lmforge_')),
        [],
      );
      assert.equal(json['model_type'], config.arch);
      // the one dropout rate covers the attention probabilities too
      const attentionRate = config.arch === 'gpt2' ? json['attn_pdrop'] : json['attention_dropout'];
      assert.equal(attentionRate, config.dropout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('config errors list every bad field at once', () => {
  assert.throws(
    () =>
      resolveDecoderConfig({
        arch: 'gpt2',
        vocabSize: 0,
        nHead: 5,
        nEmbd: 32,
        dropout: 1.5,
        norm: 'batchNorm',
        tiedEmbeddings: 'yes',
        colour: 'blue',
      }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      for (const field of ['vocabSize', 'nEmbd', 'dropout', 'norm', 'tiedEmbeddings', 'colour']) {
        assert.match(error.message, new RegExp(`${field}:`), `message names ${field}: ${error.message}`);
      }
      assert.match(error.message, /^DecoderConfig: 6 invalid fields/);
      return true;
    },
  );
  assert.throws(
    () => resolveDecoderConfig({ arch: 'bert' }),
    /arch: expected one of gpt2 \| llama \| mistral \| qwen2 \| qwen3 \| mixtral/,
  );
  assert.throws(() => llamaPreset({ nHead: 4, nKvHead: 3, nEmbd: 32 }), /nKvHead: 3 must divide nHead 4/);
  assert.throws(() => llamaPreset({ nHead: 4, nEmbd: 12 }), /RoPE needs an even head size/);
});

test('loadStateDict names missing and unexpected keys, and shape mismatches', () => {
  const model = new DecoderLM(configs[1]![1]);
  const state = model.stateDict();
  const partial = new Map(state);
  partial.delete('model.norm.weight');
  partial.set('model.extra.weight', zeros([2]));
  assert.throws(
    () => model.loadStateDict(partial),
    (error: unknown) =>
      error instanceof ConfigError &&
      /missing model\.norm\.weight/.test(error.message) &&
      /unexpected model\.extra\.weight/.test(error.message),
  );
  const report = model.loadStateDict(partial, { strict: false });
  assert.deepEqual(report, { missing: ['model.norm.weight'], unexpected: ['model.extra.weight'] });
  const wrong = new Map(state);
  wrong.set('lm_head.weight', zeros([3, 3]));
  assert.throws(
    () => model.loadStateDict(wrong),
    (e: unknown) => e instanceof ShapeError && /lm_head\.weight/.test(e.message),
  );
  model.dispose();
});

test('checkpoints from the bare body (GPT2Model keys, attn.bias buffers) load like HF from_pretrained', async () => {
  const config = configs[0]![1];
  const model = new DecoderLM(config, { seed: 4 });
  const bare = new Map<string, Tensor>();
  for (const [path, tensor] of model.namedParameters()) bare.set(path.slice('transformer.'.length), tensor);
  bare.set('h.0.attn.bias', zeros([1, 1, config.blockSize, config.blockSize]));
  bare.set('h.1.attn.masked_bias', zeros([]));
  bare.set('lm_head.weight', model.body.embed.weight);
  const copy = new DecoderLM(config, { seed: 5 });
  copy.loadStateDict(parametersFromCheckpoint(config, bare));
  for (const [path, tensor] of model.namedParameters()) {
    assertBitEqual(path, new Map(copy.namedParameters()).get(path)!, tensor);
  }
  model.dispose();
  copy.dispose();
});

test('corrupt model folders fail with errors naming the file and field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-model-'));
  try {
    const model = new DecoderLM(configs[0]![1]);
    await saveModelFolder(dir, model);
    const configPath = join(dir, 'config.json');
    const good = readFileSync(configPath, 'utf8');

    writeFileSync(configPath, good.slice(0, 40));
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) => e instanceof FormatError && e.message.includes(configPath),
    );

    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(good), n_head: 5, vocab_size: -1 }));
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(configPath) &&
        /n_head|n_embd/.test(e.message) &&
        /vocab_size/.test(e.message),
    );

    // one dropout rate: attention dropout differing from the residual one cannot be represented
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(good), resid_pdrop: 0.1, attn_pdrop: 0.2 }));
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) => e instanceof ConfigError && /attn_pdrop/.test(e.message),
    );

    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(good), model_type: 'xlnet' }));
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) => e instanceof ConfigError && /model_type/.test(e.message),
    );

    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(good), n_embd: 48 }));
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) =>
        e instanceof FormatError &&
        e.message.includes('model.safetensors') &&
        /transformer\.wte\.weight/.test(e.message),
    );

    writeFileSync(configPath, good);
    const weights = join(dir, 'model.safetensors');
    truncateSync(weights, 1000);
    await assert.rejects(
      loadModelFolder(dir),
      (e: unknown) => e instanceof FormatError && e.message.includes(weights),
    );
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dropout: training needs an rng; eval ignores dropout', () => {
  const model = new DecoderLM(gpt2Preset({ ...small, nHead: 4, dropout: 0.2 }));
  const ids = randint(0, small.vocabSize, [1, 6], new Rng(1));
  assert.throws(
    () => scope(() => model.forward(ids)),
    (e: unknown) => e instanceof ConfigError && /rng/.test(e.message),
  );
  scope(() => {
    const a = model.forward(ids, { rng: new Rng(1) });
    const b = model.forward(ids, { rng: new Rng(2) });
    assert.notDeepEqual(a.toArray(), b.toArray(), 'different dropout masks');
    assertBitEqual('same rng, same masks', model.forward(ids, { rng: new Rng(1) }), a);
    // The attention layer drops probabilities too (nanoGPT's attn_dropout).
    const block = model.body.blocks.items[0]!;
    const x = randn([1, 6, small.nEmbd], new Rng(3));
    const context = { offset: 0, rope: null, cache: null, layer: 0 };
    const plain = block.attention.forward(x, { ...context, attentionDropout: null });
    const dropped = block.attention.forward(x, { ...context, attentionDropout: { p: 0.5, rng: new Rng(4) } });
    assert.notDeepEqual(dropped.toArray(), plain.toArray(), 'attention dropout changes the output');
    model.eval();
    assertBitEqual('eval is deterministic', model.forward(ids), model.forward(ids));
  });
  model.dispose();
});
