/**
 * PEFT's adapter_config.json and key names (io/peft.ts): what lmforge writes parses back to
 * the same config; every bad or unsupported field is listed in one FormatError; keys with
 * and without the adapter's name parse alike, LoRA variants lmforge does not compute do not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adapterConfigToJson,
  parseAdapterConfig,
  parsePeftKey,
  peftBaseKey,
  peftLoraKey,
  type PeftLoraConfig,
} from '../../src/io/index.js';
import { FormatError } from '../../src/util/errors.js';

const config: PeftLoraConfig = {
  r: 8,
  loraAlpha: 16,
  loraDropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
  fanInFanOut: false,
  useRslora: false,
  rankPattern: { 'layers.0.self_attn.q_proj': 4 },
  alphaPattern: {},
  modulesToSave: null,
  baseModelNameOrPath: '/models/base',
  taskType: 'CAUSAL_LM',
};

test('adapter_config.json round trip, and a regex target_modules', () => {
  const json = adapterConfigToJson(config);
  assert.equal(json['peft_type'], 'LORA');
  assert.equal(json['bias'], 'none');
  assert.deepEqual(parseAdapterConfig(JSON.parse(JSON.stringify(json))), config);
  const regex = parseAdapterConfig({ ...json, target_modules: '.*\\.(q|v)_proj' });
  assert.deepEqual(regex.targetModules, { regex: '.*\\.(q|v)_proj' });
  // PEFT's defaults where a field is absent.
  const minimal = parseAdapterConfig({ peft_type: 'LORA', r: 4, target_modules: ['c_attn'] });
  assert.equal(minimal.loraAlpha, 8);
  assert.equal(minimal.loraDropout, 0);
});

test('every bad or unsupported field in one FormatError naming the file', () => {
  assert.throws(
    () =>
      parseAdapterConfig(
        {
          peft_type: 'PREFIX_TUNING',
          r: 0,
          lora_alpha: 'big',
          target_modules: [],
          use_dora: true,
          bias: 'all',
          layers_to_transform: [0],
        },
        'a/adapter_config.json',
      ),
    (error: unknown) => {
      assert.ok(error instanceof FormatError);
      assert.equal(error.where, 'a/adapter_config.json');
      assert.equal(error.message, 'a/adapter_config.json: 7 invalid fields, got ' + String(error.actual));
      for (const part of [
        'peft_type must be "LORA"',
        'r must be',
        'lora_alpha must be',
        'target_modules',
        'use_dora',
        'bias "all"',
        'layers_to_transform',
      ])
        assert.ok(String(error.actual).includes(part), part);
      return true;
    },
  );
  assert.throws(() => parseAdapterConfig([]), FormatError);
});

test('keys: LoRA matrices with or without the adapter name, saved base weights, and the rest', () => {
  assert.equal(
    peftLoraKey('model.layers.0.self_attn.q_proj', 'A'),
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
  );
  assert.deepEqual(parsePeftKey('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'), {
    kind: 'lora',
    module: 'model.layers.0.self_attn.q_proj',
    matrix: 'B',
  });
  assert.deepEqual(parsePeftKey('base_model.model.transformer.h.1.attn.c_attn.lora_A.default.weight'), {
    kind: 'lora',
    module: 'transformer.h.1.attn.c_attn',
    matrix: 'A',
  });
  assert.deepEqual(parsePeftKey(peftBaseKey('model.embed_tokens.weight')), {
    kind: 'base',
    parameter: 'model.embed_tokens.weight',
  });
  for (const key of [
    'base_model.model.model.embed_tokens.lora_embedding_A',
    'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector',
    'model.layers.0.self_attn.q_proj.lora_A.weight',
  ])
    assert.deepEqual(parsePeftKey(key), { kind: 'unknown' }, key);
});
