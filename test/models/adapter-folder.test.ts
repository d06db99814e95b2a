/**
 * PEFT adapter folders: lmforge writes PEFT's files and key names and reads them back to
 * the same logits; an adapter whose tokens resized the vocabulary carries the resized
 * embedding and head (PEFT's saved-embeddings convention) and resizes the base on load;
 * resizeVocabulary keeps old rows and starts new ones at the mean. Adapters that do not fit
 * the base are errors naming the file and tensor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  FormatError,
  Rng,
  ShapeError,
  noGrad,
  randint,
  tensor,
  type Tensor,
} from '../../src/index.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/index.js';
import { resolveLoraConfig } from '../../src/nn/index.js';
import {
  configToHf,
  createModel,
  gpt2Preset,
  llamaPreset,
  loadAdapterFolder,
  resizeVocabulary,
  saveAdapterFolder,
  vocabularyParameters,
  withLora,
  type DecoderLM,
  type LoraModel,
} from '../../src/models/index.js';
import { assertBitEqual } from '../util/close.js';

const shape = { vocabSize: 21, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12 };
const llama = (nEmbd = 16): DecoderLM => createModel(llamaPreset({ ...shape, nEmbd }), { seed: 3 });
const gpt2 = (): DecoderLM => createModel(gpt2Preset(shape), { seed: 3 });
const ids = randint(0, shape.vocabSize, [1, 8], new Rng(2));
const logits = (model: { forward(ids: Tensor, o?: { mode?: 'eval' }): Tensor }, input = ids): Tensor =>
  noGrad(() => model.forward(input, { mode: 'eval' }));
const tmp = (): string => mkdtempSync(join(tmpdir(), 'lmforge-adapter-'));

function trainedLora(
  model: DecoderLM,
  targets: readonly string[],
  trainBase: readonly string[] = [],
): LoraModel {
  const lora = withLora(
    model,
    resolveLoraConfig({ rank: 3, alpha: 6, targets }),
    { init: 'random', rng: new Rng(1) },
    { trainBase },
  );
  const rng = new Rng(9);
  for (const [, t] of lora.adapter.namedParameters())
    t.floats().forEach((_, i, a) => (a[i] = 0.2 * rng.normal()));
  return lora;
}

test('an adapter folder has PEFT files and keys, and loads back to the same logits', async () => {
  const dir = tmp();
  const model = llama();
  const lora = trainedLora(model, ['q_proj', 'v_proj']);
  const expected = logits(lora);
  await saveAdapterFolder(dir, lora, { baseModel: '/models/base' });
  const config = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(config['peft_type'], 'LORA');
  assert.equal(config['r'], 3);
  assert.equal(config['lora_alpha'], 6);
  assert.deepEqual(config['target_modules'], ['q_proj', 'v_proj']);
  assert.equal(config['base_model_name_or_path'], '/models/base');
  assert.equal(config['fan_in_fan_out'], false);
  assert.equal(config['task_type'], 'CAUSAL_LM');
  const { tensors } = await readSafetensorsFile(join(dir, 'adapter_model.safetensors'));
  assert.deepEqual([...tensors.keys()].sort(), [
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
    'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight',
    'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight',
    'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight',
    'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight',
    'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight',
    'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight',
  ]);
  assert.deepEqual(
    tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape,
    [3, 16],
  );
  lora.dispose();
  const loaded = await loadAdapterFolder(dir, model);
  assert.equal(loaded.base, model, 'no resize: the same base');
  assertBitEqual('reloaded adapter logits', logits(loaded.model), expected);
  loaded.model.dispose();
  model.dispose();
});

test('GPT-2 (Conv1D): fan_in_fan_out true; a key with the adapter name (lora_A.default.weight) is read too', async () => {
  const dir = tmp();
  const model = gpt2();
  const lora = trainedLora(model, ['c_attn']);
  const expected = logits(lora);
  await saveAdapterFolder(dir, lora, { baseModel: 'base' });
  lora.dispose();
  assert.equal(JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).fan_in_fan_out, true);
  const path = join(dir, 'adapter_model.safetensors');
  const { tensors } = await readSafetensorsFile(path);
  const renamed = new Map([...tensors].map(([k, t]) => [k.replace('.weight', '.default.weight'), t]));
  await writeSafetensorsFile(path, renamed);
  const loaded = await loadAdapterFolder(dir, model);
  assertBitEqual('adapter-named keys', logits(loaded.model), expected);
  loaded.model.dispose();
  model.dispose();
});

test('resizeVocabulary: old rows kept bit for bit, new rows the mean, the old vocabulary computes as before', () => {
  for (const model of [llama(), gpt2()]) {
    const bigger = resizeVocabulary(model, shape.vocabSize + 3);
    assert.equal(bigger.vocabSize, 24);
    assert.equal(configToHf(bigger.config)['vocab_size'], 24);
    const old = new Map(model.namedParameters());
    for (const path of vocabularyParameters(bigger)) {
      const source = old.get(path)!.floats();
      const rows = bigger
        .namedParameters()
        .find(([p]) => p === path)![1]
        .floats();
      const C = source.length / shape.vocabSize;
      assertBitEqual(`${path} old rows`, rows.subarray(0, source.length), source);
      for (let c = 0; c < C; c++) {
        let mean = 0;
        for (let v = 0; v < shape.vocabSize; v++) mean += source[v * C + c]!;
        mean /= shape.vocabSize;
        for (let v = shape.vocabSize; v < 24; v++) assert.ok(Math.abs(rows[v * C + c]! - mean) < 1e-6);
      }
    }
    const before = logits(model).toArray();
    const after = logits(bigger).toArray();
    for (let t = 0; t < 8; t++)
      for (let v = 0; v < shape.vocabSize; v++)
        assert.ok(Math.abs(after[t * 24 + v]! - before[t * shape.vocabSize + v]!) < 1e-5, `logit ${t} ${v}`);
    assert.equal(resizeVocabulary(model, 10).vocabSize, 10);
    assert.throws(() => resizeVocabulary(model, 0), ConfigError);
    bigger.dispose();
    model.dispose();
  }
});

test('added tokens: the resized embedding and head travel with the adapter and resize the base on load', async () => {
  const dir = tmp();
  const model = llama();
  const resized = resizeVocabulary(model, 24) as DecoderLM;
  const trainBase = ['model.embed_tokens', 'lm_head'];
  const lora = trainedLora(resized, ['q_proj'], trainBase);
  // The new rows trained: make them differ from the mean.
  const rng = new Rng(4);
  for (const path of vocabularyParameters(resized)) {
    const values = resized
      .namedParameters()
      .find(([p]) => p === path)![1]
      .floats();
    for (let i = 21 * 16; i < values.length; i++) values[i] = rng.normal();
  }
  const withNew = tensor(Int32Array.from([1, 22, 23, 5]), [1, 4], 'int32');
  const expected = logits(lora, withNew);
  await saveAdapterFolder(dir, lora, { baseModel: 'base' });
  const { tensors } = await readSafetensorsFile(join(dir, 'adapter_model.safetensors'));
  assert.deepEqual(tensors.get('base_model.model.model.embed_tokens.weight')?.shape, [24, 16]);
  assert.deepEqual(tensors.get('base_model.model.lm_head.weight')?.shape, [24, 16]);
  lora.dispose();
  resized.dispose();
  const loaded = await loadAdapterFolder(dir, model); // the 21-token base
  assert.equal(loaded.base.vocabSize, 24);
  assertBitEqual('logits of new tokens', logits(loaded.model, withNew), expected);
  loaded.model.dispose();
  loaded.base.dispose();
});

test('adapters that do not fit the base: errors naming the file and tensor', async () => {
  const wide = llama(32);
  const lora = trainedLora(wide, ['q_proj']);
  const other = tmp();
  await saveAdapterFolder(other, lora, { baseModel: 'wide' });
  lora.dispose();
  wide.dispose();
  const model = llama();
  await assert.rejects(
    loadAdapterFolder(other, model),
    (error: unknown) =>
      error instanceof ShapeError &&
      error.where.endsWith(
        "adapter_model.safetensors tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'",
      ) &&
      String(error.expected).startsWith('(3, 16)') &&
      error.actual === '(3, 32)',
  );
  // The failed load left the base as it was.
  assert.ok(model.namedModules().every(([path]) => !path.includes('lora')));
  const good = tmp();
  const lora2 = trainedLora(model, ['q_proj']);
  await saveAdapterFolder(good, lora2, { baseModel: 'base' });
  lora2.dispose();
  const edit = async (change: (config: Record<string, unknown>) => void): Promise<string> => {
    const dir = tmp();
    const config = JSON.parse(readFileSync(join(good, 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    change(config);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
    writeFileSync(
      join(dir, 'adapter_model.safetensors'),
      readFileSync(join(good, 'adapter_model.safetensors')),
    );
    return dir;
  };
  await assert.rejects(
    loadAdapterFolder(await edit((c) => (c['use_dora'] = true)), model),
    (error: unknown) =>
      error instanceof FormatError && /use_dora true is not supported/.test(String(error.actual)),
  );
  await assert.rejects(
    loadAdapterFolder(await edit((c) => (c['target_modules'] = ['q_proj', 'k_proj'])), model),
    (error: unknown) => error instanceof FormatError && /lacks a weight/.test(error.message),
  );
  await assert.rejects(
    loadAdapterFolder(await edit((c) => (c['target_modules'] = ['query'])), model),
    ConfigError,
  );
  await assert.rejects(
    loadAdapterFolder(tmp(), model),
    (error: unknown) => error instanceof FormatError && /no adapter_config.json/.test(error.message),
  );
  const stray = await edit(() => undefined);
  const path = join(stray, 'adapter_model.safetensors');
  const { tensors } = await readSafetensorsFile(path);
  tensors.set(
    'base_model.model.model.layers.0.self_attn.q_proj.lora_embedding_A.weight',
    tensor([1, 2], [1, 2]),
  );
  await writeSafetensorsFile(path, tensors);
  await assert.rejects(
    loadAdapterFolder(stray, model),
    (error: unknown) => error instanceof FormatError && error.where.includes('lora_embedding_A'),
  );
  model.dispose();
});
