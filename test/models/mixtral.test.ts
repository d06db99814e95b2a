/**
 * The mixtral preset: config.json as MixtralConfig writes it (rope_theta, num_key_value_heads
 * and rms_norm_eps always stated, Mixtral's defaults for absent fields, the router losses on
 * only with output_router_logits), round trips of every MoE setting, bad expert settings
 * named by their key, a checkpoint missing one expert's weights, and the contract's auxLoss
 * and routerStats outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, FormatError, Rng, Tensor, backward, noGrad, randint, scope } from '../../src/index.js';
import { readSafetensorsFile, serializeSafetensors } from '../../src/io/index.js';
import {
  DecoderLM,
  configFromHf,
  configToHf,
  familyOf,
  loadModelFolder,
  mixtralPreset,
  saveModelFolder,
} from '../../src/models/index.js';

const tiny = {
  vocabSize: 30,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  nEmbd: 16,
  intermediateSize: 12,
  blockSize: 16,
};

test('the preset routes as Mixtral and writes an HF-clean MixtralConfig stating the fields whose defaults differ from Llama', () => {
  const config = mixtralPreset(tiny);
  assert.deepEqual(config.moe, {
    experts: 8,
    expertsPerToken: 2,
    routing: 'topk-softmax',
    auxLossCoef: 0.01,
    zLossCoef: 0,
    capacityFactor: null,
    sharedExperts: 0,
    jitter: 0,
  });
  const json = configToHf(config);
  assert.equal(json['model_type'], 'mixtral');
  assert.deepEqual(json['architectures'], ['MixtralForCausalLM']);
  assert.equal(json['rope_theta'], 1e6);
  assert.equal(json['num_key_value_heads'], 2);
  assert.equal(json['rms_norm_eps'], 1e-5);
  assert.equal(json['num_local_experts'], 8);
  assert.equal(json['num_experts_per_tok'], 2);
  assert.equal(json['router_aux_loss_coef'], 0.01);
  assert.equal(json['output_router_logits'], true);
  assert.deepEqual(
    Object.keys(json).filter((k) => k.startsWith('lmforge_')),
    [],
  );
  assert.deepEqual(configFromHf(json), config);
});

test('every MoE setting round-trips through config.json', () => {
  const variants = [
    mixtralPreset({ ...tiny, moe: { routing: 'softmax-topk', experts: 4, expertsPerToken: 1 } }),
    mixtralPreset({
      ...tiny,
      moe: { capacityFactor: 1.25, sharedExperts: 2, zLossCoef: 1e-3, jitter: 0.01 },
    }),
    mixtralPreset({ ...tiny, mlp: 'gelu', activation: 'gelu', moe: { auxLossCoef: 0, experts: 3 } }),
    mixtralPreset({ ...tiny, moe: { auxLossCoef: 0, zLossCoef: 0.5 } }),
  ];
  for (const config of variants) assert.deepEqual(configFromHf(configToHf(config)), config);
  assert.equal(configToHf(variants[2]!)['output_router_logits'], false);
});

const minimalMixtral = {
  model_type: 'mixtral',
  vocab_size: 11,
  hidden_size: 16,
  intermediate_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 8,
};

test("a minimal config.json gets MixtralConfig's defaults; without output_router_logits HF adds no router loss", () => {
  const config = configFromHf(minimalMixtral);
  assert.ok(config.arch === 'mixtral');
  assert.equal(config.nKvHead, 8);
  assert.deepEqual(config.positional, { kind: 'rope', theta: 1e6, scaling: { kind: 'none' } });
  assert.equal(config.normEps, 1e-5);
  assert.equal(config.slidingWindow, null, "MixtralConfig's sliding_window default is None");
  assert.equal(config.blockSize, 4096 * 32);
  assert.equal(config.moe!.experts, 8);
  assert.equal(config.moe!.expertsPerToken, 2);
  assert.equal(config.moe!.auxLossCoef, 0);
  const training = configFromHf({ ...minimalMixtral, output_router_logits: true });
  assert.ok(training.arch === 'mixtral');
  assert.equal(training.moe!.auxLossCoef, 0.001, "HF's default router_aux_loss_coef");
  const summary = familyOf('mixtral').describe(config);
  assert.equal(summary.moe?.experts, 8);
  // every layer runs 2 of its 8 experts: 6 experts' three projections are inactive
  assert.equal(summary.moe!.activeParameters, familyOf('mixtral').size(config).parameters - 6 * 3 * 16 * 8);
});

test('bad expert settings are ConfigErrors naming the config.json key or the field', () => {
  const rejects = (json: Record<string, unknown>, pattern: RegExp): void =>
    assert.throws(
      () => configFromHf({ ...minimalMixtral, ...json }, 'dir/config.json'),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  rejects(
    { num_experts_per_tok: 9 },
    /num_experts_per_tok: expected an integer in \[1, 8\] \(at most num_local_experts\), got 9/,
  );
  rejects({ num_local_experts: 0 }, /num_local_experts: expected an integer in \[1, 4096\], got 0/);
  rejects({ router_jitter_noise: 2 }, /router_jitter_noise: expected a number in \[0, 1\), got 2/);
  rejects(
    { output_router_logits: true, router_aux_loss_coef: -1 },
    /router_aux_loss_coef: expected a number >= 0/,
  );
  rejects({ lmforge_routing: 'sinkhorn' }, /lmforge_routing: expected one of topk-softmax \| softmax-topk/);
  rejects(
    { layer_types: ['sliding_attention', 'full_attention'] },
    /layer_types: MixtralForCausalLM ignores it and attends with one rule in every layer/,
  );
  rejects({ lmforge_qk_norms: true }, /lmforge_qk_norms: unknown lmforge field/);
  assert.throws(
    () => mixtralPreset({ ...tiny, moe: { experts: 2, expertsPerToken: 3 } }),
    (e: unknown) =>
      e instanceof ConfigError && /moe\.expertsPerToken: expected an integer in \[1, 2\]/.test(e.message),
  );
  assert.throws(
    () => mixtralPreset({ ...tiny, moe: { experts: 0 } }),
    (e: unknown) =>
      e instanceof ConfigError && /moe\.experts: expected an integer in \[1, 4096\], got 0/.test(e.message),
  );
  assert.throws(
    () => mixtralPreset({ ...tiny, bias: true }),
    (e: unknown) => e instanceof ConfigError && /bias: Mixtral has no biases/.test(e.message),
  );
});

test("Mixtral is one more Llama-style architecture: sliding_window in every layer, the expert keys Mixtral's only", () => {
  const windowed = configFromHf({
    ...minimalMixtral,
    num_hidden_layers: 2,
    sliding_window: 4,
  });
  assert.ok(windowed.arch === 'mixtral');
  assert.deepEqual(windowed.slidingWindow, { size: 4, layers: [0, 1] });
  const json = configToHf(windowed);
  assert.equal(json['sliding_window'], 4);
  assert.equal(
    json['architectures'] !== undefined && (json['architectures'] as string[])[0],
    'MixtralForCausalLM',
  );
  assert.deepEqual(configFromHf(json), windowed);
  const llama = { ...minimalMixtral, model_type: 'llama', lmforge_routing: 'softmax-topk' };
  assert.throws(
    () => configFromHf(llama, 'dir/config.json'),
    (e: unknown) => e instanceof ConfigError && /lmforge_routing: unknown lmforge field/.test(e.message),
  );
});

test("a checkpoint missing one expert's weights is a FormatError naming the key", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmforge-mixtral-'));
  try {
    const config = mixtralPreset({ ...tiny, moe: { experts: 4 } });
    const model = new DecoderLM(config, { seed: 1 });
    await saveModelFolder(dir, model);
    model.dispose();
    const path = join(dir, 'model.safetensors');
    const { tensors } = await readSafetensorsFile(path);
    tensors.delete('model.layers.1.block_sparse_moe.experts.3.w2.weight');
    writeFileSync(path, serializeSafetensors(tensors as Map<string, Tensor>));
    await assert.rejects(loadModelFolder(dir), (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.match(
        e.message,
        /model\.layers\.1\.block_sparse_moe\.experts\.3\.w2\.weight: missing, config\.json implies \(16, 12\)/,
      );
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forward returns auxLoss while autograd records and routerStats when asked', () => {
  const config = mixtralPreset({ ...tiny, moe: { experts: 4, zLossCoef: 0.01 } });
  const model = new DecoderLM(config, { seed: 2 });
  const ids = randint(0, tiny.vocabSize, [2, 6], new Rng(3));
  scope(() => {
    const out = model.forward({ ids }, { mode: 'train', routerStats: true });
    assert.ok(out.auxLoss !== undefined && out.auxLoss.size === 1);
    assert.equal(out.routerStats?.length, 2);
    for (const stats of out.routerStats!) {
      assert.equal(stats.tokens, 12);
      assert.equal(
        stats.counts.reduce((a, b) => a + b),
        24,
      );
      assert.ok(stats.entropy > 0 && stats.entropy <= Math.log(4) + 1e-6);
    }
    backward(out.auxLoss!);
    const router = model
      .namedParameters()
      .find(([p]) => p === 'model.layers.0.block_sparse_moe.gate.weight')![1];
    assert.ok(
      router.grad !== null && router.grad.toArray().some((v) => v !== 0),
      'the aux loss reaches the router',
    );
  });
  noGrad(() => {
    const out = model.forward({ ids }, { mode: 'eval' });
    assert.equal(out.auxLoss, undefined, 'no auxiliary loss under noGrad');
    assert.equal(out.routerStats, undefined);
  });
  const jittery = new DecoderLM(mixtralPreset({ ...tiny, moe: { jitter: 0.1 } }));
  assert.throws(() => jittery.forward({ ids }, { mode: 'train' }), ConfigError);
  model.dispose();
  jittery.dispose();
});
