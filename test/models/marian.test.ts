/**
 * The Marian family on tiny configs: config.json both ways (HF defaults for absent fields,
 * every bad field named), the parameter plan against the modules, Marian's sinusoid layout,
 * padded batches equal single rows, cached decoding (encoder once, cross-attention keys
 * cached) equals full recompute, beam reorders, save -> load bit-exact (final_logits_bias
 * included), the checkpoint key variants HF writes, and bad inputs as typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  DTypeError,
  Rng,
  ShapeError,
  Tensor,
  backward,
  embedding,
  narrow,
  noGrad,
  randn,
  scope,
  sum,
} from '../../src/index.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/index.js';
import { sinusoidalTable } from '../../src/nn/index.js';
import {
  MarianMTModel,
  configFromHf,
  configToHf,
  createModel,
  isEncoderDecoder,
  loadModelFolder,
  marianBufferShapes,
  marianParameterShapes,
  marianPreset,
  modelSize,
  saveModelFolder,
  type MarianConfig,
} from '../../src/models/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const small = {
  vocabSize: 41,
  dModel: 16,
  encoderFfnDim: 24,
  decoderFfnDim: 20,
  maxPositions: 16,
  initStd: 0.2,
};
const variants: ReadonlyArray<[string, MarianConfig]> = [
  ['post-norm, shared, tied, sinusoid', marianPreset({ ...small, dropout: 0 })],
  [
    'pre-norm, separate vocabularies, untied, learned positions',
    marianPreset({
      ...small,
      decoderVocabSize: 45,
      shareEmbeddings: false,
      tieWordEmbeddings: false,
      normPlacement: 'pre',
      positions: 'learned',
      activation: 'gelu',
      encoderHeads: 2,
      decoderHeads: 4,
      encoderLayers: 1,
      decoderLayers: 3,
      dropout: 0,
      padTokenId: 5,
      forcedEosTokenId: 1,
    }),
  ],
  ['shared but untied', marianPreset({ ...small, tieWordEmbeddings: false, dropout: 0 })],
];

const ids = (values: number[], rows: number): Tensor =>
  Tensor.fromArray(Int32Array.from(values), [rows, values.length / rows]);

/** The model with every weight and the output bias moved off its init (pad rows, norms, biases too). */
function perturbed(config: MarianConfig, seed = 1): MarianMTModel {
  const model = new MarianMTModel(config, { seed });
  const rng = new Rng(seed + 100);
  for (const t of model.stateDict().values()) {
    const v = t.floats();
    for (let i = 0; i < v.length; i++) v[i] = v[i]! + 0.05 * rng.normal();
  }
  return model.eval();
}

test('config.json round trip: fromHf(toHf(c)) equals c for every variant; the default is HF-clean', () => {
  for (const [name, config] of variants) {
    const json = configToHf(config);
    assert.deepEqual(configFromHf(JSON.parse(JSON.stringify(json))), config, name);
    assert.equal(json['model_type'], 'marian');
    assert.deepEqual(json['architectures'], ['MarianMTModel']);
  }
  const json = configToHf(variants[0]![1]);
  for (const key of ['normalize_before', 'static_position_embeddings']) assert.ok(!(key in json), key);
  // Written even when null: MarianConfig's default of 0 would force an EOS otherwise.
  assert.equal(json['forced_eos_token_id'], null);
  assert.equal(json['decoder_start_token_id'], json['pad_token_id']);
});

const hfMinimal = {
  model_type: 'marian',
  vocab_size: 58101,
  d_model: 16,
  encoder_layers: 1,
  decoder_layers: 1,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
  encoder_ffn_dim: 32,
  decoder_ffn_dim: 32,
  max_position_embeddings: 64,
  pad_token_id: 58100,
  eos_token_id: 0,
  decoder_start_token_id: 58100,
};

test("a config.json's absent fields take HF MarianConfig's defaults, not lmforge's", () => {
  const c = configFromHf(hfMinimal);
  assert.ok(c.arch === 'marian');
  assert.equal(c.activation, 'gelu');
  assert.equal(c.scaleEmbedding, false);
  assert.equal(c.forcedEosTokenId, 0);
  assert.equal(c.dropout, 0.1);
  assert.equal(c.shareEmbeddings, true);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.decoderVocabSize, 58101);
  assert.equal(c.positions, 'sinusoidal');
  assert.equal(c.normPlacement, 'post');
  // transformers 3.x keys of Helsinki-NLP configs are read when they describe Marian.
  const old = {
    ...hfMinimal,
    normalize_before: false,
    add_final_layer_norm: false,
    static_position_embeddings: true,
  };
  assert.deepEqual(configFromHf(old), c);
});

test('config.json errors name every bad field by its key', () => {
  const { d_model: _omit, ...noWidth } = hfMinimal;
  void _omit;
  assert.throws(() => configFromHf(noWidth), {
    name: 'ConfigError',
    message: /required field missing: d_model/,
  });
  assert.throws(
    () => configFromHf({ ...hfMinimal, pad_token_id: 58101, d_model: 15, encoder_layerdrop: 0.1 }),
    {
      name: 'ConfigError',
      message: /encoder_layerdrop: LayerDrop is not supported/,
    },
  );
  assert.throws(() => configFromHf({ ...hfMinimal, pad_token_id: 58101, d_model: 15 }), {
    name: 'ConfigError',
    message:
      /3 invalid fields.*pad_token_id: expected an integer in \[0, 58100\], got 58101.*d_model: 15 is not divisible by encoder_attention_heads 2.*d_model: 15 is not divisible by decoder_attention_heads 2/,
  });
  assert.throws(() => configFromHf({ ...hfMinimal, decoder_vocab_size: 100 }), {
    name: 'ConfigError',
    message: /decoder_vocab_size: must equal vocab_size 58101 when .*share_encoder_decoder_embeddings/,
  });
  assert.throws(() => configFromHf({ ...hfMinimal, normalize_embedding: true }), {
    name: 'ConfigError',
    message: /normalize_embedding: not supported/,
  });
  assert.throws(() => configFromHf({ ...hfMinimal, normalize_before: true, add_final_layer_norm: false }), {
    name: 'ConfigError',
    message: /add_final_layer_norm: .*expected true \(normalize_before\), got false/,
  });
  assert.throws(() => configFromHf({ ...hfMinimal, activation_function: 'tanh', eos_token_id: [0, 1] }), {
    name: 'ConfigError',
    message: /activation_function: expected one of/,
  });
  assert.throws(() => configFromHf({ ...hfMinimal, eos_token_id: [0, 1] }), {
    name: 'ConfigError',
    message: /eos_token_id: expected an integer in \[0, 58100\], got \[0,1\]/,
  });
  assert.throws(() => marianPreset({ dModel: 30, encoderHeads: 4 }), {
    name: 'ConfigError',
    message: /dModel: 30 is not divisible by encoderHeads 4/,
  });
  assert.throws(() => marianPreset({ nLayer: 2 } as never), {
    name: 'ConfigError',
    message: /nLayer: unknown field/,
  });
});

test('the parameter plan equals namedParameters() and the buffer plan namedBuffers(), in order, for every variant', () => {
  for (const [name, config] of variants) {
    const model = createModel(config, { seed: 2 });
    assert.ok(isEncoderDecoder(model), name);
    const actual = model.namedParameters().map(([path, t]) => [path, [...t.shape]]);
    assert.deepEqual(
      actual,
      [...marianParameterShapes(config)].map(([p, s]) => [p, [...s]]),
      name,
    );
    const buffers = model.namedBuffers().map(([path, t]) => [path, [...t.shape]]);
    assert.deepEqual(
      buffers,
      [...marianBufferShapes(config)].map(([p, s]) => [p, [...s]]),
      name,
    );
    assert.equal(modelSize(config).parameters, model.parameterCount(), name);
    model.dispose();
  }
  // Shared: one table under model.shared, reachable as both sides' embed_tokens; tied: no lm_head.
  const shared = new MarianMTModel(variants[0]![1]);
  assert.equal(shared.encoder.embedTokens.weight, shared.shared!.weight);
  assert.equal(shared.decoder.embedTokens.weight, shared.shared!.weight);
  assert.equal(shared.lmHead, null);
  shared.dispose();
});

test("the sinusoid is Marian's: sines in the first half, cosines in the second (HF MarianSinusoidalPositionalEmbedding)", () => {
  const [P, C] = [5, 6];
  const halves = sinusoidalTable(P, C, 'halves').toArray();
  const interleaved = sinusoidalTable(P, C).toArray();
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < C / 2; i++) {
      const angle = p / 10000 ** ((2 * i) / C);
      assert.equal(halves[p * C + i], Math.fround(Math.sin(angle)));
      assert.equal(halves[p * C + C / 2 + i], Math.fround(Math.cos(angle)));
      assert.equal(interleaved[p * C + 2 * i], Math.fround(Math.sin(angle)));
      assert.equal(interleaved[p * C + 2 * i + 1], Math.fround(Math.cos(angle)));
    }
  }
  // Odd widths: ceil(C/2) sines, floor(C/2) cosines.
  const odd = sinusoidalTable(2, 5, 'halves').toArray();
  assert.equal(odd[5 + 2], Math.fround(Math.sin(1 / 10000 ** (4 / 5))));
  assert.equal(odd[5 + 4], Math.fround(Math.cos(1 / 10000 ** (2 / 5))));
});

test('a padded batch gives each row the logits it gets alone (source padding masked, target right-padded)', () => {
  for (const [name, config] of variants) {
    const model = perturbed(config);
    const pad = config.padTokenId;
    const start = config.decoderStartTokenId;
    const sources = [
      [7, 8, 9, 10, 11, 1],
      [12, 13, 1],
    ];
    const targets = [
      [start, 14, 15, 16],
      [start, 17],
    ];
    const sourceIds = ids([...sources[0]!, ...sources[1]!, pad, pad, pad], 2);
    const sourceMask = ids([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], 2);
    const batch = noGrad(() =>
      model.forward(
        { ids: ids([...targets[0]!, ...targets[1]!, pad, pad], 2), sourceIds, sourceMask },
        { mode: 'eval' },
      ),
    ).logits!;
    for (let b = 0; b < 2; b++) {
      const alone = noGrad(() =>
        model.forward({ ids: ids(targets[b]!, 1), sourceIds: ids(sources[b]!, 1) }),
      ).logits!;
      const rows = narrow(narrow(batch, 0, b, 1), 1, 0, targets[b]!.length);
      assertClose(`${name} row ${b}`, rows, alone, { atol: 2e-6, rtol: 1e-5 });
    }
    model.dispose();
  }
});

test('cached decoding (encoder once, cross-attention keys and values cached) equals full recompute', () => {
  for (const [name, config] of variants) {
    const model = perturbed(config);
    const pad = config.padTokenId;
    const sourceIds = ids([7, 8, 9, 1, 12, 13, 1, pad], 2);
    const sourceMask = ids([1, 1, 1, 1, 1, 1, 1, 0], 2);
    const target = [config.decoderStartTokenId, 20, 21, 22, 23, 24, 25, 26, 27, 28];
    const T = target.length;
    const rows = [...target, ...target.map((id) => (id === target[0] ? id : id + 3))];
    const full = noGrad(() => model.forward({ ids: ids(rows, 2), sourceIds, sourceMask })).logits!; // (2, T, V)
    const encoderOutput = noGrad(() => model.encode(sourceIds, { sourceMask }));
    const cache = model.createCache(2, T);
    for (const step of [3, 1, 4, 2]) {
      // chunks of several positions and single steps
      const at = cache.length;
      const chunk = ids([...rows.slice(at, at + step), ...rows.slice(T + at, T + at + step)], 2);
      const logits = noGrad(() => model.forward({ ids: chunk, cache, encoderOutput })).logits!;
      assertClose(`${name} positions ${at}..${at + step}`, logits, narrow(full, 1, at, step), {
        atol: 2e-6,
        rtol: 1e-5,
      });
      assert.ok(cache.cross(0) !== null);
    }
    // With the cross state cached, sourceIds are not encoded again: same logits either way.
    cache.truncate(T - 1);
    const viaSource = noGrad(() =>
      model.forward({ ids: ids([rows[T - 1]!, rows[2 * T - 1]!], 2), cache, sourceIds, sourceMask }),
    ).logits!;
    assertClose(`${name} last step via sourceIds`, viaSource, narrow(full, 1, T - 1, 1), {
      atol: 2e-6,
      rtol: 1e-5,
    });
    cache.dispose();
    model.dispose();
  }
});

test('cache.reorder moves self- and cross-attention state with the beams', () => {
  const config = variants[1]![1];
  const model = perturbed(config);
  const sourceIds = ids([7, 8, 9, 1, 12, 13, 1, 1], 2);
  const start = config.decoderStartTokenId;
  const encoderOutput = noGrad(() => model.encode(sourceIds));
  const cache = model.createCache(2, 4);
  noGrad(() => model.forward({ ids: ids([start, 20, start, 30], 2), cache, encoderOutput }));
  cache.reorder([1, 1]); // both rows continue row 1 (its source too)
  const reordered = noGrad(() => model.forward({ ids: ids([31, 31], 2), cache, encoderOutput })).logits!;
  const alone = noGrad(() =>
    model.forward({ ids: ids([start, 30, 31], 1), sourceIds: ids([12, 13, 1, 1], 1) }),
  ).logits!;
  for (let b = 0; b < 2; b++) {
    assertClose(`row ${b}`, narrow(reordered, 0, b, 1), narrow(alone, 1, 2, 1), { atol: 2e-6, rtol: 1e-5 });
  }
  cache.dispose();
  model.dispose();
});

test('save -> load is bit-exact, final_logits_bias included; HF key variants load to the same model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-marian-'));
  try {
    for (const [name, config] of variants) {
      const model = perturbed(config);
      const folder = join(dir, name.replace(/[^a-z]+/g, '-'));
      await saveModelFolder(folder, model);
      const stored = (await readSafetensorsFile(join(folder, 'model.safetensors'))).tensors;
      // Saved as save_pretrained does: no tied copies, no sinusoid tables.
      assert.ok(stored.has('final_logits_bias'));
      assert.ok(!stored.has('model.encoder.embed_tokens.weight') || !config.shareEmbeddings);
      assert.equal(stored.has('lm_head.weight'), !config.tieWordEmbeddings);
      assert.equal(stored.has('model.encoder.embed_positions.weight'), config.positions === 'learned');
      const { model: loaded } = await loadModelFolder(folder);
      const original = new Map(model.stateDict());
      for (const [path, t] of loaded.stateDict()) assertBitEqual(`${name} ${path}`, t, original.get(path)!);
      assert.equal(loaded.stateDict().size, original.size);
      loaded.dispose();
      model.dispose();
    }
    // A bare MarianModel checkpoint (no `model.` prefix), with the tied copies and sinusoid
    // tables older HF files hold and without final_logits_bias, loads as the same weights.
    const config = variants[0]![1];
    const model = perturbed(config);
    const folder = join(dir, 'bare');
    await saveModelFolder(folder, model);
    const state = new Map(model.stateDict());
    const bare = new Map<string, Tensor>();
    for (const [path, t] of state)
      if (path !== 'final_logits_bias') bare.set(path.replace(/^model\./, ''), t);
    bare.set('encoder.embed_tokens.weight', state.get('model.shared.weight')!);
    bare.set('decoder.embed_tokens.weight', state.get('model.shared.weight')!);
    bare.set('encoder.embed_positions.weight', sinusoidalTable(config.maxPositions, config.dModel, 'halves'));
    await writeSafetensorsFile(join(folder, 'model.safetensors'), bare, { format: 'pt' });
    const { model: loaded } = await loadModelFolder(folder);
    assert.ok(loaded instanceof MarianMTModel);
    for (const [path, t] of loaded.namedParameters()) assertBitEqual(path, t, state.get(path)!);
    assert.ok(
      loaded.finalLogitsBias.toArray().every((v) => v === 0),
      'absent final_logits_bias stays zero',
    );
    loaded.dispose();
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the pad row is the embedding's padding row: zero at init, no gradient from lookups (nn.Embedding padding_idx)", () => {
  const config = variants[0]![1];
  const model = new MarianMTModel(config, { seed: 3 });
  const pad = config.padTokenId;
  const C = config.dModel;
  const table = model.shared!.weight.floats();
  assert.ok(table.subarray(pad * C, (pad + 1) * C).every((v) => v === 0));
  assert.ok(table.subarray((pad + 1) * C, (pad + 2) * C).some((v) => v !== 0));
  model.dispose();
  // The op itself: every other row gets its lookups' gradient.
  const weight = randn([4, 3], new Rng(1));
  weight.requiresGrad = true;
  scope(() => backward(sum(embedding(weight, ids([0, 2, 2, 3], 1), { paddingIdx: 2 }))));
  assert.deepEqual([...weight.grad!.floats()], [1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  assert.throws(() => embedding(weight, ids([0], 1), { paddingIdx: 4 }), {
    name: 'ShapeError',
    message: /paddingIdx/,
  });
});

test('activation dropout is applied in train mode, and train-mode dropout needs an rng', () => {
  const config = marianPreset({ ...small, dropout: 0, activationDropout: 0.5 });
  const model = perturbed(config);
  const inputs = { ids: ids([0, 20, 21], 1), sourceIds: ids([7, 8, 1], 1) };
  const evalLogits = noGrad(() => model.forward(inputs, { mode: 'eval' })).logits!;
  const trainLogits = noGrad(() => model.forward(inputs, { mode: 'train', rng: new Rng(1) })).logits!;
  assert.ok(trainLogits.toArray().some((v, i) => v !== evalLogits.toArray()[i]));
  assert.throws(() => model.forward(inputs, { mode: 'train' }), {
    name: 'ConfigError',
    message: /needs an rng/,
  });
  assert.throws(() => model.encode(inputs.sourceIds, { mode: 'train' }), {
    name: 'ConfigError',
    message: /needs an rng/,
  });
  model.dispose();
});

test('bad inputs are typed errors naming what is wrong', () => {
  const config = variants[0]![1];
  const model = perturbed(config);
  const source = ids([7, 8, 1], 1);
  const target = ids([0, 20], 1);
  const throwsError = (run: () => unknown, type: new (...args: never[]) => Error, message: RegExp): void => {
    assert.throws(run, (e: unknown) => e instanceof type && message.test((e as Error).message));
  };
  throwsError(() => model.forward(target), ConfigError, /needs the source/);
  throwsError(
    () => model.forward({ ids: target, sourceIds: source, encoderOutput: model.encode(source) }),
    ConfigError,
    /encoderOutput or sourceIds, not both/,
  );
  throwsError(
    () => model.forward({ ids: ids([0, 1, 0, 1], 2), sourceIds: source }),
    ShapeError,
    /different batch sizes/,
  );
  throwsError(
    () => model.forward({ ids: target, sourceMask: source }),
    ConfigError,
    /sourceMask without sourceIds/,
  );
  throwsError(
    () => model.forward({ ids: target, sourceIds: source, positions: ids([0, 16], 1) }),
    ConfigError,
    /positions \(flat index 1\): position out of range; expected 0 <= position < 16/,
  );
  throwsError(
    () =>
      model.encode(
        ids(
          Array.from({ length: 17 }, () => 7),
          1,
        ),
      ),
    ShapeError,
    /runs past the last position/,
  );
  throwsError(
    () => model.encode(source, { sourceMask: ids([1, 1], 1) }),
    ShapeError,
    /sourceMask must have one entry per source id/,
  );
  throwsError(
    () => model.encode(Tensor.fromArray(new Float32Array(3), [1, 3])),
    DTypeError,
    /sourceIds must be/,
  );
  throwsError(
    () =>
      model.forward({
        ids: target,
        encoderOutput: { hiddenStates: Tensor.fromArray(new Float32Array(3 * 8), [1, 3, 8]) },
      }),
    ShapeError,
    /hiddenStates must be \(B, S, d_model\)/,
  );
  throwsError(() => model.createCache(1, 17), ConfigError, /cache size out of range/);
  model.dispose();
});
