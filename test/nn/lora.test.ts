/**
 * LoRA invariants on tiny GPT-2 (Conv1D layout) and Llama models: an adapter with B = 0
 * changes nothing; only A and B get gradients and optimiser state; merging gives the
 * unmerged output and unmerging restores the weights bit for bit; detaching restores the
 * model; several adapters over one base compute as each alone, without touching the base;
 * dropout follows the call's mode; bad configs and targets are typed errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  Rng,
  backward,
  crossEntropy,
  noGrad,
  randint,
  reshape,
  scope,
  type Tensor,
} from '../../src/index.js';
import {
  Linear,
  LoraLinear,
  attachLora,
  loraScale,
  resolveLoraConfig,
  type LoraConfig,
} from '../../src/nn/index.js';
import {
  createModel,
  gpt2Preset,
  llamaPreset,
  withLora,
  type DecoderLM,
  type LoraModel,
} from '../../src/models/index.js';
import { AdamW } from '../../src/train/index.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const shape = { vocabSize: 29, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12 };
const tinyModel = (arch: 'gpt2' | 'llama'): DecoderLM =>
  createModel(arch === 'gpt2' ? gpt2Preset(shape) : llamaPreset({ ...shape, nKvHead: 1 }), { seed: 2 });
const targets = {
  gpt2: ['c_attn', 'attn.c_proj', 'c_fc'],
  llama: ['q_proj', 'v_proj', 'down_proj'],
} as const;
const config = (arch: 'gpt2' | 'llama', extra: Partial<LoraConfig> = {}): LoraConfig =>
  resolveLoraConfig({ rank: 4, alpha: 8, targets: targets[arch], ...extra });
const ids = randint(0, shape.vocabSize, [2, 10], new Rng(5));
// float32 through 2 blocks: the merged weight W + s*BA rounds once where the unmerged path
// rounds x W and s*(x A)B separately: a few ulp of logits of order 1.
const mergeTolerance = { atol: 2e-5, rtol: 1e-5, finite: true };

/** Gives every B random values (an adapter that changes the output). */
function randomizeB(lora: LoraModel, seed: number): void {
  const rng = new Rng(seed);
  for (const [path, tensor] of lora.adapter.namedParameters()) {
    if (path.includes('.lora_B.')) tensor.floats().forEach((_, i, a) => (a[i] = 0.3 * rng.normal()));
  }
}

const logitsOf = (model: { forward(ids: Tensor, o?: { mode?: 'eval' }): Tensor }): Tensor =>
  noGrad(() => model.forward(ids, { mode: 'eval' }));

for (const arch of ['gpt2', 'llama'] as const) {
  test(`${arch}: B = 0 changes nothing; A is Kaiming-uniform; paths follow PEFT`, () => {
    const model = tinyModel(arch);
    const before = logitsOf(model);
    const lora = withLora(model, config(arch), { init: 'random', rng: new Rng(1) });
    assertBitEqual('logits with a fresh adapter', logitsOf(lora), before);
    const names = lora.adapter.namedParameters().map(([path]) => path);
    assert.equal(names.length, 2 * 3 * shape.nLayer);
    const first = arch === 'gpt2' ? 'transformer.h.0.attn.c_attn' : 'model.layers.0.self_attn.q_proj';
    assert.ok(names.includes(`${first}.lora_A.default.weight`), names.join(' '));
    // The base keeps its paths; the adapter's appear beside them.
    const all = new Map(lora.namedParameters());
    assert.ok(all.has(`${first}.weight`) && all.has(`${first}.lora_B.default.weight`));
    for (const [path, tensor] of lora.adapter.namedParameters()) {
      const values = tensor.toArray();
      if (path.includes('lora_B'))
        assert.ok(
          values.every((v) => v === 0),
          path,
        );
      else {
        const bound = 1 / Math.sqrt(tensor.shape[1]!);
        assert.ok(
          values.every((v) => Math.abs(v) <= bound),
          path,
        );
        assert.ok(Math.max(...values.map(Math.abs)) > 0.8 * bound, `${path} fills its range`);
      }
    }
    lora.dispose();
    model.dispose();
  });

  test(`${arch}: only the adapter gets gradients and optimiser state`, () => {
    const model = tinyModel(arch);
    const lora = withLora(model, config(arch), { init: 'random', rng: new Rng(1) });
    randomizeB(lora, 3);
    scope(() => {
      const logits = lora.forward(ids, { mode: 'train' });
      backward(crossEntropy(reshape(logits, [20, -1]), reshape(ids, [20])));
    });
    const adapterTensors = new Set(lora.adapter.namedParameters().map(([, t]) => t));
    for (const [path, tensor] of lora.namedParameters()) {
      if (adapterTensors.has(tensor)) {
        assert.ok(
          tensor.grad !== null && tensor.grad.toArray().some((v) => v !== 0),
          `${path} has a gradient`,
        );
      } else {
        assert.equal(tensor.grad, null, `${path} is frozen`);
        assert.equal(tensor.requiresGrad, false);
      }
    }
    const optimizer = new AdamW(lora.namedParameters());
    assert.deepEqual(
      [...optimizer.stateDict().tensors.keys()].filter((k) => k.startsWith('exp_avg.')).sort(),
      lora.adapter
        .namedParameters()
        .map(([path]) => `exp_avg.${path}`)
        .sort(),
    );
    const expected = lora.adapter.paths.reduce((n, path) => {
      const layer = lora.adapter.layer(path);
      return n + 4 * (layer.inFeatures + layer.outFeatures);
    }, 0);
    assert.equal(lora.trainableParameterCount(), expected);
    optimizer.dispose();
    lora.dispose();
    model.dispose();
  });

  test(`${arch}: merge equals the unmerged adapter, unmerge and detach restore the model exactly`, () => {
    const model = tinyModel(arch);
    const weights = new Map(
      model.namedParameters().map(([path, t]) => [path, Float32Array.from(t.floats())]),
    );
    const lora = withLora(model, config(arch), { init: 'random', rng: new Rng(1) });
    randomizeB(lora, 4);
    const unmerged = logitsOf(lora);
    lora.adapter.merge();
    assert.ok(lora.adapter.merged);
    assertClose('merged logits', logitsOf(lora), unmerged, mergeTolerance);
    // Merged into the base: the base alone now gives the adapted output.
    assertClose('base after merge', logitsOf(model), unmerged, mergeTolerance);
    lora.adapter.unmerge();
    for (const [path, tensor] of model.namedParameters()) {
      if (weights.has(path)) assertBitEqual(`${path} after unmerge`, tensor.floats(), weights.get(path)!);
    }
    assertBitEqual('unmerged again', logitsOf(lora), unmerged);
    lora.dispose(); // detach
    assert.deepEqual(
      model.namedParameters().map(([path]) => path),
      [...weights.keys()],
    );
    assert.ok(model.namedModules().every(([, m]) => !(m instanceof LoraLinear)));
    assert.ok(
      model.parameters().every((t) => t.requiresGrad),
      'trainable again',
    );
    model.dispose();
  });

  test(`${arch}: mergeAndUnload leaves a plain model computing the adapted output`, () => {
    const model = tinyModel(arch);
    const lora = withLora(model, config(arch), { init: 'random', rng: new Rng(1) });
    randomizeB(lora, 5);
    const adapted = logitsOf(lora);
    const expected = new Map<string, Float32Array>();
    for (const path of lora.adapter.paths) {
      const layer = lora.adapter.layer(path);
      const delta = layer.delta('default');
      expected.set(
        path,
        Float32Array.from(layer.base.weight.floats(), (w, i) => w + delta.floats()[i]!),
      );
      delta.dispose();
    }
    lora.adapter.mergeAndUnload();
    assert.ok(model.namedModules().every(([, m]) => !(m instanceof LoraLinear)));
    for (const [path, weight] of expected) {
      const linear = model.getSubmodule(path) as Linear;
      assertBitEqual(`${path} merged`, linear.weight.floats(), weight);
    }
    assertClose('plain merged model', logitsOf(model), adapted, mergeTolerance);
    model.dispose();
  });
}

test('two adapters over one loaded base: each computes as if alone, the base stays the base', () => {
  const model = tinyModel('llama');
  const base = logitsOf(model);
  const first = withLora(model, config('llama'), { init: 'random', rng: new Rng(1) }, { name: 'first' });
  randomizeB(first, 6);
  const second = withLora(
    model,
    config('llama', { targets: ['k_proj', 'v_proj'] }),
    { init: 'random', rng: new Rng(2) },
    { name: 'second' },
  );
  randomizeB(second, 7);
  // Interleaved calls: neither sees the other's state.
  const a = logitsOf(first);
  const b = logitsOf(second);
  assertBitEqual('base alone', logitsOf(model), base);
  assertBitEqual('first again', logitsOf(first), a);
  assert.ok(a.toArray().some((v, i) => v !== b.toArray()[i]));
  // Each adapter's view lists its own matrices only.
  const firstPaths = first.namedParameters().map(([p]) => p);
  assert.ok(
    firstPaths.some((p) => p.includes('lora_A.first')) && !firstPaths.some((p) => p.includes('.second.')),
  );
  // v_proj holds both adapters: merging one would change the other's base.
  assert.throws(() => first.adapter.merge(), ConfigError);
  // Detaching one leaves the other computing exactly as before.
  second.dispose();
  assertBitEqual('first after second detached', logitsOf(first), a);
  first.dispose();
  assertBitEqual('base after both detached', logitsOf(model), base);
  model.dispose();
});

test('dropout on the adapter input follows the call: train mode needs an rng, eval mode is deterministic', () => {
  const model = tinyModel('llama');
  const lora = withLora(model, config('llama', { dropout: 0.5 }), { init: 'random', rng: new Rng(1) });
  randomizeB(lora, 8);
  assert.throws(
    () => noGrad(() => lora.forward(ids, { mode: 'train' })),
    (error: unknown) => error instanceof ConfigError && /LoRA dropout needs an rng/.test(error.message),
  );
  const evalLogits = logitsOf(lora);
  const trained = noGrad(() => lora.forward(ids, { mode: 'train', rng: new Rng(3) }));
  const again = noGrad(() => lora.forward(ids, { mode: 'train', rng: new Rng(3) }));
  assertBitEqual('same rng, same mask', again, trained);
  assert.ok(
    trained.toArray().some((v, i) => v !== evalLogits.toArray()[i]),
    'dropout changed the output',
  );
  assertBitEqual('eval is deterministic', logitsOf(lora), evalLogits);
  lora.dispose();
  model.dispose();
});

test('rank and alpha patterns set per-layer ranks and scales, as PEFT rank_pattern / alpha_pattern', () => {
  const model = tinyModel('llama');
  const lora = withLora(
    model,
    config('llama', { rankPattern: { 'layers.1.self_attn.q_proj': 2 }, alphaPattern: { down_proj: 4 } }),
    { init: 'random', rng: new Rng(1) },
  );
  const layer = (path: string) => lora.adapter.layer(path).branches.get('default')!;
  assert.equal(layer('model.layers.1.self_attn.q_proj').settings.rank, 2);
  assert.equal(layer('model.layers.0.self_attn.q_proj').settings.rank, 4);
  assert.equal(layer('model.layers.0.mlp.down_proj').scale, loraScale({ rank: 4, alpha: 4, rslora: false }));
  assert.equal(loraScale({ rank: 4, alpha: 8, rslora: true }), 4);
  lora.dispose();
  model.dispose();
});

test('bad configs and targets are ConfigErrors naming what is wrong', () => {
  assert.throws(
    () => resolveLoraConfig({ rank: 0, alpha: -1, dropout: 1, targets: [] }),
    (error: unknown) =>
      error instanceof ConfigError &&
      /rank must be an integer >= 1.*alpha must be > 0.*dropout must be in \[0, 1\).*targets must name/.test(
        String(error.actual),
      ),
  );
  const model = tinyModel('llama');
  assert.throws(
    () => attachLora(model, config('llama', { targets: ['q_proj', 'query'] }), { init: 'empty' }),
    (error: unknown) =>
      error instanceof ConfigError &&
      error.actual === 'query' &&
      String(error.expected).includes('gate_proj'),
  );
  const lora = withLora(model, config('llama'), { init: 'empty' });
  assert.throws(() => attachLora(model, config('llama'), { init: 'empty' }), ConfigError); // 'default' again
  lora.dispose();
  assert.ok(model.getSubmodule('model.layers.0.self_attn.q_proj') instanceof Linear);
  model.dispose();
});
