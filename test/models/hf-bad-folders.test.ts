/**
 * Hugging Face folders a user gets wrong or a download breaks, made from the PyTorch-written
 * fixtures (test/golden/hf-folders/): a sharded checkpoint whose index and shards disagree
 * (a shard missing, a tensor in two shards or listed twice, a shard path leaving the folder,
 * a tensor missing from its shard or stored where the index does not say), pickle-only
 * weights, and config.json fields that change the math and that lmforge does not implement
 * (rope types, partial rotary, quantization, per-layer attention types for Mistral, sliding
 * layers Qwen2 would refuse, GPT-2's per-layer score scaling, cross-attention): each is the
 * exact error class at the exact file or field, before any tensor data is read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/backend/index.js';
import { readSafetensorsFile, serializeSafetensors } from '../../src/io/index.js';
import {
  checkModelFolder,
  configFromHf,
  loadModelFolder,
  type DecoderConfig,
} from '../../src/models/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { assertRejectsAt, assertThrowsAt } from '../util/throws.js';
import { copyHfFolder, hfFoldersDir } from './hf-fixtures.js';

const copyOf = copyHfFolder;

const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

function editJson(path: string, edit: (json: Record<string, unknown>) => Record<string, unknown>): void {
  writeFileSync(path, JSON.stringify(edit(readJson(path)), null, 2));
}

const indexName = 'model.safetensors.index.json';
const shard = (k: number): string => `model-0000${k}-of-00003.safetensors`;

/** Both loaders reject the folder with exactly this error. */
async function rejectsBoth(
  dir: string,
  ErrorClass: typeof FormatError | typeof ConfigError,
  where: string,
  message: RegExp,
): Promise<void> {
  await assertRejectsAt(() => loadModelFolder(dir), ErrorClass, where, message);
  await assertRejectsAt(() => checkModelFolder(dir), ErrorClass, where, message);
  rmSync(join(dir, '..'), { recursive: true, force: true });
}

test('a shard the index names is missing: a FormatError naming that shard', async () => {
  const dir = copyOf('llama3-sharded', (d) => rmSync(join(d, shard(2))));
  await rejectsBoth(
    dir,
    FormatError,
    join(dir, shard(2)),
    /a shard named in the index is missing.*download every shard/,
  );
});

test('a tensor listed twice in weight_map, or stored in two shards: a FormatError naming it', async () => {
  const twice = copyOf('llama3-sharded', (d) => {
    const text = readFileSync(join(d, indexName), 'utf8');
    // The same key again, pointing at another shard (JSON.parse alone would keep the last one).
    writeFileSync(
      join(d, indexName),
      text.replace('"weight_map": {', `"weight_map": {\n    "model.norm.weight": "${shard(1)}",`),
    );
  });
  await rejectsBoth(
    twice,
    FormatError,
    `${join(twice, indexName)}: weight_map 'model.norm.weight'`,
    /a key is listed twice in the index/,
  );

  const stored = copyOf('llama3-sharded');
  const index = readJson(join(stored, indexName)) as { weight_map: Record<string, string> };
  const [key, home] = Object.entries(index.weight_map).find(([, file]) => file === shard(1))!;
  const other = (await readSafetensorsFile(join(stored, shard(2)))).tensors;
  other.set(key, (await readSafetensorsFile(join(stored, home))).tensors.get(key)!);
  writeFileSync(join(stored, shard(2)), serializeSafetensors(other));
  await rejectsBoth(
    stored,
    FormatError,
    `${join(stored, shard(2))} tensor '${key}'`,
    /a tensor is stored in two shards/,
  );
});

test('a shard path that leaves the folder (.., absolute) is refused before anything is opened', async () => {
  for (const escape of ['../model-00001-of-00003.safetensors', '/etc/passwd', 'sub/../../x.safetensors']) {
    const dir = copyOf('llama3-sharded', (d) =>
      editJson(join(d, indexName), (json) => {
        const map = json['weight_map'] as Record<string, string>;
        map['model.norm.weight'] = escape;
        return json;
      }),
    );
    await rejectsBoth(
      dir,
      FormatError,
      `${join(dir, indexName)}: weight_map shard`,
      new RegExp(`a shard path leaves the model folder.*${JSON.stringify(escape).replace(/[./]/g, '\\$&')}`),
    );
  }
});

test('index and shards disagree: a listed tensor missing from its shard, a stored tensor placed elsewhere', async () => {
  const missing = copyOf('llama3-sharded', (d) =>
    editJson(join(d, indexName), (json) => {
      (json['weight_map'] as Record<string, string>)['model.extra.weight'] = shard(1);
      return json;
    }),
  );
  await rejectsBoth(
    missing,
    FormatError,
    `${join(missing, indexName)}: weight_map 'model.extra.weight'`,
    /a tensor of the index is not in its shard/,
  );

  const moved = copyOf('llama3-sharded', (d) =>
    editJson(join(d, indexName), (json) => {
      (json['weight_map'] as Record<string, string>)['model.norm.weight'] = shard(1);
      return json;
    }),
  );
  const holder = readJson(join(hfFoldersDir, 'llama3-sharded', indexName)) as {
    weight_map: Record<string, string>;
  };
  await rejectsBoth(
    moved,
    FormatError,
    `${join(moved, holder.weight_map['model.norm.weight']!)} tensor 'model.norm.weight'`,
    /a shard holds a tensor the index places elsewhere/,
  );
});

test('an index that is not JSON or has no weight_map; a folder with only pickle weights', async () => {
  const broken = copyOf('llama3-sharded', (d) => writeFileSync(join(d, indexName), '{"weight_map": '));
  await rejectsBoth(broken, FormatError, join(broken, indexName), /not valid JSON/);
  const empty = copyOf('llama3-sharded', (d) => writeFileSync(join(d, indexName), '{"metadata": {}}'));
  await rejectsBoth(empty, FormatError, join(empty, indexName), /index has no weight_map object/);
  const pickle = copyOf('qwen2', (d) =>
    renameSync(join(d, 'model.safetensors'), join(d, 'pytorch_model.bin')),
  );
  await rejectsBoth(
    pickle,
    FormatError,
    join(pickle, 'model.safetensors'),
    /model folder has no weights.*got pytorch_model\.bin.*convert them to safetensors/,
  );
});

/** config.json of fixture `name` with `change` applied, through configFromHf. */
function configWith(name: string, change: Record<string, unknown>): () => unknown {
  const json = { ...readJson(join(hfFoldersDir, name, 'config.json')), ...change };
  return () => configFromHf(json, `${name}/config.json`);
}

test('config.json fields that change the math and are not implemented: a ConfigError naming each', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'llama3-sharded',
      { rope_scaling: { rope_type: 'yarn', factor: 4 } },
      /rope_scaling\.rope_type: "yarn" is not supported \(supported: default, linear, llama3, dynamic\)/,
    ],
    [
      'llama3-sharded',
      { rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] } },
      /rope_scaling\.rope_type: "longrope" is not supported/,
    ],
    [
      'llama3-sharded',
      { partial_rotary_factor: 0.5 },
      /partial_rotary_factor: RoPE on part of each head is not supported, got 0\.5/,
    ],
    [
      'llama3-sharded',
      { quantization_config: { quant_method: 'gptq', bits: 4 } },
      /quantization_config: quantized checkpoints/,
    ],
    [
      'qwen2',
      { auto_map: { AutoModelForCausalLM: 'modeling_x.XForCausalLM' } },
      /auto_map: the model ships its own modeling code/,
    ],
    [
      'mistral',
      { layer_types: ['full_attention', 'sliding_attention'] },
      /layer_types: MistralForCausalLM ignores it.*Ministral/,
    ],
    [
      'qwen2',
      { layer_types: ['full_attention', 'sliding_attention'] },
      /layer_types: sliding_attention layers need use_sliding_window true and a sliding_window/,
    ],
    [
      'gpt2',
      { scale_attn_by_inverse_layer_idx: true },
      /scale_attn_by_inverse_layer_idx: scores scaled by 1 \/ \(layer \+ 1\)/,
    ],
    [
      'gpt2',
      { scale_attn_weights: false },
      /scale_attn_weights: attention without the 1 \/ sqrt\(head size\) scale/,
    ],
    [
      'gpt2',
      { add_cross_attention: true },
      /add_cross_attention: a decoder-only model has no cross-attention/,
    ],
    ['qwen3', { pruned_heads: { '0': [1] } }, /pruned_heads: pruned attention heads are not supported/],
  ];
  for (const [name, change, message] of cases) {
    assertThrowsAt(configWith(name, change), ConfigError, `${name}/config.json`, message);
  }
});

test('bad values of the new fields: rope_scaling parameters, both RoPE spellings, windows, head_dim', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'llama3-sharded',
      {
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 4,
          high_freq_factor: 1,
          original_max_position_embeddings: 64,
        },
      },
      /rope_scaling\.high_freq_factor: expected a number > low_freq_factor 4, got 1/,
    ],
    [
      'llama3-sharded',
      { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } },
      /rope_scaling\.original_max_position_embeddings: expected a number > 0, got undefined/,
    ],
    [
      'llama-linear-bf16',
      { rope_scaling: { type: 'linear', factor: -2 } },
      /rope_scaling\.factor: expected a number > 0, got -2/,
    ],
    [
      'llama-linear-bf16',
      { rope_scaling: { type: 'linear', rope_type: 'llama3', factor: 2 } },
      /rope_scaling\.type: disagrees with rope_type/,
    ],
    ['mistral', { rope_scaling: { rope_type: 'linear', factor: 2 } }, /rope_scaling: give the scaling once/],
    ['mistral', { rope_theta: 500 }, /rope_theta: 500 disagrees with rope_parameters\.rope_theta 10000/],
    [
      'mistral',
      { sliding_window: 0 },
      /sliding_window: expected a window size \(an integer >= 1\) or null, got 0/,
    ],
    ['qwen2-window-f16', { max_window_layers: -1 }, /max_window_layers: expected an integer >= 0, got -1/],
    ['qwen2', { layer_types: ['full_attention'] }, /layer_types: expected num_hidden_layers entries/],
    ['qwen3', { head_dim: 7 }, /head_dim: RoPE needs an even head size, got 7/],
    ['llama3-sharded', { attention_bias: 'yes' }, /attention_bias: expected true or false, got "yes"/],
    ['qwen2', { lmforge_window: 3 }, /lmforge_window: unknown lmforge field/],
  ];
  for (const [name, change, message] of cases) {
    assertThrowsAt(configWith(name, change), ConfigError, `${name}/config.json`, message);
  }
});

test('what transformers ignores is ignored, and what only matters past the context reads as default', () => {
  // GPT-2's n_ctx, summary_* and task_specific_params; Qwen2's window fields with use_sliding_window false.
  const gpt2 = configWith('gpt2', {})() as DecoderConfig;
  assert.equal(gpt2.blockSize, 32);
  const qwen2 = configWith('qwen2', { sliding_window: 4, max_window_layers: 0 })() as DecoderConfig;
  assert.equal(qwen2.slidingWindow, null);
  // Dynamic NTK rescales only past max_position_embeddings: within it, the default frequencies.
  const dynamic = configWith('llama-linear-bf16', {
    rope_scaling: { type: 'dynamic', factor: 4 },
  })() as DecoderConfig;
  assert.deepEqual(dynamic.positional, { kind: 'rope', theta: 10000, scaling: { kind: 'none' } });
  // A window as long as the context removes no key: the same logits as no window at all.
  const mistral = configWith('mistral', { sliding_window: 64 })() as DecoderConfig;
  assert.deepEqual(mistral.slidingWindow, { size: 64, layers: [0, 1] });
});
