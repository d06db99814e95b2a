/**
 * Module seams: freeze (no gradient, no optimiser state, bit-identical after AdamW steps),
 * replaceChild (one source of truth for children: the parent's forward runs the wrapper,
 * whose parameters appear under the replaced path), buffers (in stateDict when persistent,
 * never in parameters), construction without random init, and the path errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfigError,
  Rng,
  type Tensor,
  add,
  backward,
  full,
  mul,
  noGrad,
  randint,
  randn,
  scope,
  square,
  sum,
} from '../../src/index.js';
import {
  Linear,
  Module,
  ModuleDict,
  ModuleList,
  SelfAttention,
  type Projection,
} from '../../src/nn/index.js';
import { DecoderLM, gpt2Preset } from '../../src/models/index.js';
import { AdamW } from '../../src/train/optim/adamw.js';
import { assertBitEqual } from '../util/close.js';

class Pair extends Module {
  constructor(rng: Rng) {
    super();
    this.addChild('a', new Linear(3, 4, { bias: true, std: 1, rng }));
    this.addChild('b', new Linear(4, 2, { bias: true, std: 1, rng }));
  }

  get a(): Projection {
    return this.child<Projection>('a');
  }

  get b(): Projection {
    return this.child<Projection>('b');
  }

  forward(x: Tensor): Tensor {
    return this.b.forward(this.a.forward(x));
  }
}

/** A Linear whose output is multiplied by a constant: the shape of a LoRA or quantized wrapper. */
class Scaled extends Module implements Projection {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly factor: number;

  constructor(inner: Projection, factor: number) {
    super();
    this.inFeatures = inner.inFeatures;
    this.outFeatures = inner.outFeatures;
    this.factor = factor;
    this.addChild('inner', inner);
  }

  forward(x: Tensor): Tensor {
    return mul(this.child<Projection>('inner').forward(x), this.factor);
  }
}

/** Adds a trained (out) shift to the wrapped layer's output. */
class Shifted extends Module implements Projection {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly shift: Tensor;

  constructor(inner: Projection) {
    super();
    this.inFeatures = inner.inFeatures;
    this.outFeatures = inner.outFeatures;
    this.addChild('base_layer', inner);
    this.shift = this.addParameter('shift', full([inner.outFeatures], 0.25));
  }

  forward(x: Tensor): Tensor {
    return add(this.child<Projection>('base_layer').forward(x), this.shift);
  }
}

function snapshot(tensors: readonly Tensor[]): Float32Array[] {
  return tensors.map((t) => Float32Array.from(t.values() as Float32Array));
}

test('freeze: frozen parameters get no gradient, no AdamW state, and stay bit-identical over steps', () => {
  const rng = new Rng(3);
  const model = new Pair(rng);
  model.getSubmodule('a').freeze();
  const frozen = model.a.parameters();
  assert.ok(frozen.every((p) => !p.requiresGrad));
  assert.deepEqual(
    model.namedTrainableParameters().map(([path]) => path),
    ['b.weight', 'b.bias'],
  );
  assert.equal(model.trainableParameters().length, 2);
  // Built from ALL parameters, as the trainer does: AdamW itself skips the frozen ones.
  const optimizer = new AdamW(model.namedParameters(), { weightDecay: 0.1 });
  assert.deepEqual([...optimizer.stateDict().tensors.keys()].sort(), [
    'exp_avg.b.bias',
    'exp_avg.b.weight',
    'exp_avg_sq.b.bias',
    'exp_avg_sq.b.weight',
  ]);
  const before = snapshot(frozen);
  const trainedBefore = snapshot(model.b.parameters());
  const x = randn([5, 3], rng);
  for (let step = 0; step < 4; step++) {
    scope(() => backward(sum(square(model.forward(x)))));
    assert.ok(
      frozen.every((p) => p.grad === null),
      'a frozen parameter received a gradient',
    );
    optimizer.update(1e-2);
    for (const p of optimizer.parameters) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  frozen.forEach((p, i) => assertBitEqual(`frozen ${i}`, p.values(), before[i]!));
  assert.ok(
    model.b.parameters().every((p, i) => p.values().some((v, j) => v !== trainedBefore[i]![j])),
    'the trainable parameters did not move',
  );
  model.unfreeze();
  assert.ok(model.parameters().every((p) => p.requiresGrad));
  optimizer.dispose();
  model.dispose();
});

test('freeze releases a gradient already held', () => {
  const model = new Pair(new Rng(1));
  scope(() => backward(sum(model.forward(randn([2, 3], new Rng(2))))));
  assert.ok(model.a.parameters().every((p) => p.grad !== null));
  model.freeze();
  assert.ok(model.parameters().every((p) => p.grad === null && !p.requiresGrad));
  model.dispose();
});

test('replaceChild: a ×2 wrapper on attention c_proj doubles the output bit for bit; its parameters keep the path prefix', () => {
  const rng = new Rng(5);
  const make = () =>
    new SelfAttention({
      nEmbd: 8,
      nHead: 2,
      nKvHead: 2,
      bias: true,
      layout: 'inOut',
      projections: { kind: 'fused', qkv: 'c_attn', out: 'c_proj' },
      std: 0.5,
      outStd: 0.5,
      rng,
    });
  const attention = make();
  const x = randn([2, 5, 8], rng);
  const context = { offset: 0, rope: null, cache: null, layer: 0, attentionDropout: null };
  const plain = noGrad(() => attention.forward(x, context));
  const wrapper = attention.replaceChild('c_proj', (current) => new Scaled(current as Projection, 2));
  assert.equal(attention.out, wrapper, 'the typed getter reads the replaced child');
  assert.deepEqual(
    attention.namedParameters().map(([path]) => path),
    ['c_attn.weight', 'c_attn.bias', 'c_proj.inner.weight', 'c_proj.inner.bias'],
  );
  const doubled = noGrad(() => attention.forward(x, context));
  assertBitEqual(
    'attention with c_proj ×2',
    doubled,
    noGrad(() => mul(plain, 2)),
  );
  attention.dispose();
});

test('replaceChild on a model path: the wrapper runs in forward, its parameter trains, paths follow HF-PEFT style', () => {
  const config = gpt2Preset({ vocabSize: 11, nLayer: 2, nHead: 2, nEmbd: 8, blockSize: 8, initStd: 0.2 });
  const model = new DecoderLM(config, { seed: 2 });
  const twin = new DecoderLM(config, { seed: 2 });
  const ids = randint(0, 11, [2, 6], new Rng(1));
  const path = 'transformer.h.1.attn.c_attn';
  const original = model.getSubmodule(path);
  const wrapper = model.replaceChild(path, (current) => new Shifted(current as Projection));
  assert.equal(model.getSubmodule(`${path}.base_layer`), original);
  const paths = model.namedParameters().map(([p]) => p);
  assert.ok(paths.includes(`${path}.base_layer.weight`) && paths.includes(`${path}.shift`), paths.join(', '));
  assert.ok(!paths.includes(`${path}.weight`));
  // The same shift folded into the twin's c_attn bias gives the same logits (up to rounding).
  noGrad(() => {
    const bias = twin
      .getSubmodule(path)
      .namedParameters()
      .find(([p]) => p === 'bias')![1];
    const values = bias.values();
    for (let i = 0; i < values.length; i++) values[i] = Math.fround(values[i]! + 0.25);
  });
  const got = noGrad(() => model.forward(ids)).toArray();
  const want = noGrad(() => twin.forward(ids)).toArray();
  const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i]!)));
  assert.ok(worst < 1e-5, `max abs diff ${worst}`);
  // Train only the wrapper: freeze everything, then unfreeze its own parameter.
  model.freeze();
  wrapper.shift.requiresGrad = true;
  assert.deepEqual(
    model.namedTrainableParameters().map(([p]) => p),
    [`${path}.shift`],
  );
  model.dispose();
  twin.dispose();
});

test('replaceChild keeps registration order, carries the training mode, and ModuleList.items sees the replacement', () => {
  const rng = new Rng(7);
  const list = new ModuleList([new Pair(rng), new Pair(rng)]);
  assert.deepEqual(
    list.namedModules().map(([path]) => path),
    ['', '0', '0.a', '0.b', '1', '1.a', '1.b'],
  );
  list.eval();
  const wrapper = list.replaceChild('0.a', (current) => new Scaled(current as Projection, 3));
  assert.equal(wrapper.training, false);
  assert.equal(list.items[0]!.a, wrapper);
  assert.equal(list.at(0).a, wrapper);
  assert.deepEqual(
    list
      .namedModules()
      .map(([path]) => path)
      .slice(0, 4),
    ['', '0', '0.a', '0.a.inner'],
  );
  assert.deepEqual(
    list
      .namedParameters()
      .map(([p]) => p)
      .slice(0, 4),
    ['0.a.inner.weight', '0.a.inner.bias', '0.b.weight', '0.b.bias'],
  );
  assert.throws(
    () => list.replaceChild('0.c', (current) => current),
    (e: unknown) => e instanceof ConfigError && /a child of 0: a, b/.test(e.message),
  );
  class Fields extends Module {
    readonly held: Linear;
    constructor() {
      super();
      this.held = this.addChild('held', new Linear(2, 2, { bias: false, init: 'empty' }));
    }
  }
  assert.throws(
    () => new Fields().replaceChild('held', (current) => new Scaled(current as Projection, 2)),
    (e: unknown) =>
      e instanceof ConfigError &&
      /keeps this child in a field/.test(e.message) &&
      /Fields\.held/.test(e.message),
  );
  assert.throws(
    () => list.replaceChild('0.a', () => ({}) as Module),
    (e: unknown) => e instanceof ConfigError && /must be a Module/.test(e.message),
  );
  list.dispose();
});

class WithBuffers extends Module {
  readonly table: Tensor;
  readonly cache: Tensor;
  constructor() {
    super();
    this.addChild('proj', new Linear(2, 2, { bias: false, std: 1, rng: new Rng(1) }));
    this.table = this.addBuffer('scales', full([2], 3));
    this.cache = this.addBuffer('derived', full([2], 4), { persistent: false });
  }
}

test('buffers: in stateDict when persistent, never in parameters, no grad, loaded and disposed with the module', () => {
  const parent = new (class extends Module {
    constructor() {
      super();
      this.addChild('inner', new WithBuffers());
    }
  })();
  const inner = parent.getSubmodule('inner') as WithBuffers;
  assert.deepEqual(
    parent.namedParameters().map(([p]) => p),
    ['inner.proj.weight'],
  );
  assert.deepEqual(
    parent.namedBuffers().map(([p]) => p),
    ['inner.scales', 'inner.derived'],
  );
  assert.deepEqual([...parent.stateDict().keys()], ['inner.proj.weight', 'inner.scales']);
  assert.equal(inner.table.requiresGrad, false);
  parent.freeze();
  parent.unfreeze();
  assert.equal(inner.table.requiresGrad, false, 'unfreeze must not make a buffer trainable');
  // A state dict without the persistent buffer is incomplete.
  assert.throws(
    () => parent.loadStateDict(new Map([['inner.proj.weight', full([2, 2], 1)]])),
    (e: unknown) => e instanceof ConfigError && /missing inner\.scales/.test(e.message),
  );
  parent.loadStateDict(
    new Map([
      ['inner.proj.weight', full([2, 2], 1)],
      ['inner.scales', full([2], 9)],
    ]),
  );
  assert.deepEqual([...inner.table.values()], [9, 9]);
  parent.dispose();
  assert.ok(inner.table.disposed && inner.cache.disposed);
});

test("init 'empty': zeros, no RNG draw, and loadStateDict fills the module", () => {
  const rng = new Rng(11);
  const state = rng.getState();
  const empty = new Linear(4, 3, { bias: true, init: 'empty' });
  assert.deepEqual(rng.getState(), state, 'empty init drew random numbers');
  assert.ok(empty.parameters().every((p) => p.values().every((v) => v === 0)));
  const source = new Linear(4, 3, { bias: true, std: 1, rng });
  empty.loadStateDict(source.stateDict());
  assertBitEqual('loaded weight', empty.weight, source.weight);
  const attention = new SelfAttention({
    nEmbd: 8,
    nHead: 2,
    nKvHead: 1,
    bias: false,
    layout: 'outIn',
    projections: { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' },
    init: 'empty',
  });
  assert.ok(attention.parameters().every((p) => p.values().every((v) => v === 0)));
  empty.dispose();
  source.dispose();
  attention.dispose();
});

test('a name is registered once and contains no dot', () => {
  class Twice extends Module {
    constructor(name: string, second: 'parameter' | 'buffer' | 'child') {
      super();
      this.addParameter('w', full([1], 1));
      if (second === 'parameter') this.addParameter(name, full([1], 1));
      if (second === 'buffer') this.addBuffer(name, full([1], 1));
      if (second === 'child') this.addChild(name, new Linear(1, 1, { bias: false, init: 'empty' }));
    }
  }
  for (const kind of ['parameter', 'buffer', 'child'] as const) {
    assert.throws(
      () => new Twice('w', kind),
      (e: unknown) => e instanceof ConfigError && /already registered/.test(e.message),
    );
  }
  assert.throws(
    () => new Twice('a.b', 'buffer'),
    (e: unknown) => e instanceof ConfigError && /no dot/.test(e.message),
  );
});

/** Two linears named by dotted paths and, mounted, a layer whose children sit beside them. */
class Nested extends Module {
  readonly #pair: Pair;

  constructor(rng: Rng) {
    super();
    this.addChild('attention.self.query', new Linear(3, 3, { bias: false, std: 1, rng }));
    this.addChild('attention.output', new Linear(3, 3, { bias: false, std: 1, rng }));
    this.#pair = this.mount(new Pair(rng)); // its 'a' and 'b' become this module's children
  }

  get pair(): Pair {
    return this.#pair;
  }

  forward(x: Tensor): Tensor {
    const attention = this.child<Projection>('attention.output');
    return this.#pair.forward(attention.forward(this.child<Projection>('attention.self.query').forward(x)));
  }
}

test('dotted child paths: missing levels become ModuleDicts; getSubmodule, child and replaceChild reach them', () => {
  const module = new Nested(new Rng(1));
  assert.deepEqual(
    module.namedParameters().map(([path]) => path),
    ['attention.self.query.weight', 'attention.output.weight', 'a.weight', 'a.bias', 'b.weight', 'b.bias'],
  );
  assert.ok(module.getSubmodule('attention') instanceof ModuleDict);
  assert.ok(module.getSubmodule('attention.self') instanceof ModuleDict);
  assert.deepEqual(
    module.namedModules().map(([path]) => path),
    ['', 'attention', 'attention.self', 'attention.self.query', 'attention.output', 'a', 'b'],
    'a mounted layer has no path of its own',
  );
  noGrad(() =>
    scope(() => {
      const x = randn([2, 3], new Rng(2));
      const copy = new Nested(new Rng(1));
      const query = copy.getSubmodule('attention.self.query') as Linear;
      query.weight.floats().forEach((v, i, values) => (values[i] = 2 * v));
      module.replaceChild('attention.self.query', (base) => new Scaled(base as Projection, 2));
      // x 2 is exact in float32, so (2W) x and 2 (W x) agree bit for bit.
      assertBitEqual('nested query x 2 = doubled weight', module.forward(x), copy.forward(x));
      copy.dispose();
      assert.ok(module.namedParameters().some(([path]) => path === 'attention.self.query.inner.weight'));
    }),
  );
  // New levels go into this module or a ModuleDict only, never into another layer's names.
  class IntoLayer extends Module {
    constructor() {
      super();
      this.addChild('pair', new Pair(new Rng(1)));
      this.addChild('pair.extra', new Linear(1, 1, { bias: false, init: 'empty' }));
    }
  }
  assert.throws(
    () => new IntoLayer(),
    (e: unknown) => e instanceof ConfigError && /pair\.extra: pair is a Pair/.test(e.message),
  );
  class Clash extends Module {
    constructor() {
      super();
      this.addChild('a.b', new Linear(1, 1, { bias: false, init: 'empty' }));
      this.addChild('a.b', new Linear(1, 1, { bias: false, init: 'empty' }));
    }
  }
  assert.throws(
    () => new Clash(),
    (e: unknown) => e instanceof ConfigError && /already registered/.test(e.message),
  );
  module.dispose();
});

test('mount: replaceChild on a mounted child is seen by the mounted layer; train() reaches it', () => {
  const rng = new Rng(3);
  const module = new Nested(rng);
  const copy = new Nested(new Rng(3));
  noGrad(() =>
    scope(() => {
      const x = randn([2, 3], new Rng(4));
      const before = module.forward(x);
      assertBitEqual('same seed', before, copy.forward(x));
      module.replaceChild('b', (base) => new Scaled(base as Projection, 3));
      assertBitEqual('mounted b x 3', module.forward(x), mul(copy.forward(x), 3));
    }),
  );
  module.eval();
  assert.ok(module.namedModules().every(([, m]) => !m.training));
  assert.equal(module.pair.training, false, 'the mounted layer itself');
  assert.equal(module.pair.b, module.getSubmodule('b'), 'one child, two maps');
  assert.throws(
    () => module.getSubmodule('pair'),
    (e: unknown) => e instanceof ConfigError && /no module at this path/.test(e.message),
  );
  module.dispose();
  copy.dispose();
});
