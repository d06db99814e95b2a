/**
 * The sparse MoE layer (src/nn/layers/moe.ts): with every expert chosen (k = E) and no
 * auxiliary loss it equals the dense mixture sum_e softmax(router)_e * expert_e(x) computed
 * naively, forward and gradient; the grouped path equals the per-expert path it falls back to;
 * the experts' weights are views of one storage under HF's paths; capacity drops in training
 * only; jitter; router statistics; the auxiliary loss against HF's formula written out; bad options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Rng,
  add,
  backward,
  matmul,
  mul,
  narrow,
  noGrad,
  randn,
  scope,
  silu,
  softmax,
  sum,
  transpose,
  useBackend,
  type Tensor,
} from '../../src/index.js';
import {
  Module,
  RouterRecorder,
  SparseMoe,
  routerAuxLoss,
  type MoeNames,
  type MoeRouting,
  type SparseMoeOptions,
} from '../../src/nn/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertBitEqual, assertClose } from '../util/close.js';

const names: MoeNames = {
  router: 'gate',
  experts: 'experts',
  shared: 'shared_experts',
  expert: {
    swiglu: { kind: 'swiglu', gate: 'w1', up: 'w3', down: 'w2' },
    gelu: { kind: 'gelu', up: 'w1', down: 'w2' },
  },
};

function layer(overrides: Partial<SparseMoeOptions> = {}, seed = 1): SparseMoe {
  return new SparseMoe({
    nEmbd: 8,
    hidden: 12,
    experts: 4,
    expertsPerToken: 2,
    routing: 'topk-softmax',
    capacityFactor: null,
    sharedExperts: 0,
    jitter: 0,
    kind: 'swiglu',
    activation: 'silu',
    names,
    std: 0.5,
    outStd: 0.5,
    rng: new Rng(seed),
    ...overrides,
  } as SparseMoeOptions);
}

const weight = (moe: Module, path: string): Tensor => new Map(moe.namedParameters()).get(path)!;

/** sum_e p_e(x) * w2_e(silu(w1_e x) * w3_e x), p = softmax(x gate^T): every expert on every token. */
function denseMixture(moe: SparseMoe, x: Tensor): Tensor {
  const probs = softmax(matmul(x, transpose(weight(moe, 'gate.weight')))); // (N, E)
  let y: Tensor | null = null;
  for (let e = 0; e < moe.experts; e++) {
    const w = (name: string): Tensor => transpose(weight(moe, `experts.${e}.${name}.weight`));
    const out = matmul(mul(silu(matmul(x, w('w1'))), matmul(x, w('w3'))), w('w2')); // (N, C)
    const term = mul(out, narrow(probs, 1, e, 1));
    y = y === null ? term : add(y, term);
  }
  return y!;
}

test('k = E without auxiliary loss equals the naive dense mixture, forward and every gradient, both routings', () => {
  useBackend('js');
  for (const routing of ['topk-softmax', 'softmax-topk'] as MoeRouting[]) {
    const moe = layer({ expertsPerToken: 4, routing });
    const x = randn([10, 8], new Rng(3));
    x.requiresGrad = true;
    const upstream = randn([10, 8], new Rng(4));
    const grads = (fn: () => Tensor): [Tensor, Map<string, Tensor>] =>
      scope(() => {
        const y = fn();
        backward(sum(mul(y, upstream)));
        const out: [Tensor, Map<string, Tensor>] = [
          noGrad(() => mul(y, 1)),
          new Map([
            ['x', x.grad!],
            ...moe.namedParameters().map(([p, t]) => [p, t.grad!] as [string, Tensor]),
          ]),
        ];
        x.grad = null;
        for (const [, t] of moe.namedParameters()) t.grad = null;
        return out;
      });
    const [sparse, sparseGrads] = grads(() => moe.forward(x));
    const [dense, denseGrads] = grads(() => denseMixture(moe, x));
    // float32 sums of 4 experts of |y| ~ 1 in another order: a few ulp
    assertClose(`${routing} forward`, sparse, dense, { atol: 1e-5, rtol: 1e-5 });
    assert.equal(sparseGrads.size, 1 + 1 + 4 * 3);
    for (const [path, g] of denseGrads)
      assertClose(`${routing} grad ${path}`, sparseGrads.get(path)!, g, { atol: 2e-5, rtol: 1e-4 });
    moe.dispose();
  }
});

test('parameter paths are HF Mixtral names; each role of every expert is a view of one storage', () => {
  const moe = layer({ sharedExperts: 2 });
  const paths = moe.namedParameters().map(([p, t]) => `${p} (${t.shape.join(', ')})`);
  assert.deepEqual(paths.slice(0, 4), [
    'gate.weight (4, 8)',
    'experts.0.w1.weight (12, 8)',
    'experts.0.w3.weight (12, 8)',
    'experts.0.w2.weight (8, 12)',
  ]);
  assert.deepEqual(paths.slice(-3), [
    'shared_experts.w1.weight (24, 8)',
    'shared_experts.w3.weight (24, 8)',
    'shared_experts.w2.weight (8, 24)',
  ]);
  const w1 = [0, 1, 2, 3].map((e) => weight(moe, `experts.${e}.w1.weight`));
  assert.ok(w1.every((w, e) => w.storage === w1[0]!.storage && w.offset === e * 96));
  moe.dispose();
  assert.ok(w1[0]!.storage.disposed, 'disposing the layer releases the stacked storage');
});

test('the grouped path equals the per-expert path (a replaced projection), forward and gradient', () => {
  useBackend('js');
  const moe = layer({ experts: 5, expertsPerToken: 2 });
  const x = randn([2, 7, 8], new Rng(9));
  const run = (): [Tensor, Tensor] =>
    scope(() => {
      const y = moe.forward(x);
      backward(sum(mul(y, y)));
      const g = weight(moe, 'experts.2.w3.weight').grad!;
      const out: [Tensor, Tensor] = [noGrad(() => mul(y, 1)), mul(g, 1)];
      for (const [, t] of moe.namedParameters()) t.grad = null;
      return out;
    });
  const [grouped, groupedGrad] = run();
  // A wrapper that computes the same projection makes the layer take the per-expert path.
  class Same extends Module {
    constructor(readonly inner: Module & { forward(x: Tensor): Tensor }) {
      super();
      this.addChild('inner', inner);
    }
    forward(v: Tensor): Tensor {
      return this.inner.forward(v);
    }
  }
  moe.replaceChild('experts.0.w1', (base) => new Same(base as Module & { forward(x: Tensor): Tensor }));
  const [perExpert, perExpertGrad] = run();
  assertClose('forward', grouped, perExpert, { atol: 1e-6, rtol: 1e-5 });
  assertClose('gradient', groupedGrad, perExpertGrad, { atol: 1e-6, rtol: 1e-5 });
  moe.dispose();
});

test('capacity drops assignments in training only; the record says how many; jitter needs an rng', () => {
  const moe = layer({ experts: 4, expertsPerToken: 2, capacityFactor: 0.5 });
  const x = randn([32, 8], new Rng(2));
  noGrad(() => {
    const train = new RouterRecorder({ losses: false });
    const dropped = moe.forward(x, { training: true, recorder: train });
    const evaluation = new RouterRecorder({ losses: false });
    const full = moe.forward(x, { training: false, recorder: evaluation });
    const stats = train.records[0]!.stats;
    // capacity ceil(0.5 * 32 * 2 / 4) = 8 per expert: at most 32 of the 64 assignments kept
    assert.equal(
      stats.counts.reduce((a, b) => a + b),
      64,
    );
    assert.equal(
      stats.dropped,
      stats.counts.reduce((total, c) => total + Math.max(0, c - 8), 0),
    );
    assert.ok(stats.dropped >= 32);
    assert.equal(evaluation.records[0]!.stats.dropped, 0);
    assert.ok(stats.entropy > 0 && stats.entropy < Math.log(4));
    assert.notDeepEqual(dropped.toArray(), full.toArray());
  });
  const jittery = layer({ jitter: 0.1 });
  noGrad(() => {
    assert.throws(() => jittery.forward(x, { training: true }), ConfigError);
    const a = jittery.forward(x, { training: true, rng: new Rng(1) });
    const b = jittery.forward(x, { training: true, rng: new Rng(2) });
    assert.notDeepEqual(a.toArray(), b.toArray());
    assertBitEqual(
      'jitter is off in evaluation',
      jittery.forward(x),
      jittery.forward(x, { training: false, rng: new Rng(1) }),
    );
  });
});

test("routerAuxLoss is HF's load_balancing_loss_func over the layers concatenated, plus the ST-MoE z-loss", () => {
  useBackend('js');
  const layers = [layer({}, 1), layer({}, 2)];
  const x = randn([9, 8], new Rng(5));
  const recorder = new RouterRecorder({ losses: true });
  const aux = scope(() => {
    for (const moe of layers) moe.forward(x, { training: true, recorder });
    return routerAuxLoss(recorder.records, { auxLossCoef: 0.3, zLossCoef: 0.05 }).item();
  });
  // HF: probs = softmax(cat(logits)); mask = one_hot(top2(probs)); E * sum(mean(mask, 0) * mean(probs, 0))
  const rows: number[][] = [];
  for (const moe of layers) {
    const logits = noGrad(() => matmul(x, transpose(weight(moe, 'gate.weight')))).toArray();
    for (let n = 0; n < 9; n++) rows.push(logits.slice(n * 4, n * 4 + 4));
  }
  const E = 4;
  const mask = new Array<number>(E).fill(0);
  const probMean = new Array<number>(E).fill(0);
  let z = 0;
  for (const row of rows) {
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    z += lse * lse;
    row.forEach((v, e) => (probMean[e] += Math.exp(v - lse) / rows.length));
    const top = [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, 2);
    for (const e of top) mask[e] += 1 / rows.length;
  }
  const balance = E * mask.reduce((s, m, e) => s + m * probMean[e]!, 0);
  assertClose('aux loss', [aux], [0.3 * balance + (0.05 * z) / rows.length], { atol: 1e-6, rtol: 1e-5 });
  assert.throws(
    () => routerAuxLoss(new RouterRecorder({ losses: false }).records, { auxLossCoef: 1, zLossCoef: 0 }),
    ConfigError,
  );
  for (const moe of layers) moe.dispose();
});

test('bad options are one ConfigError naming each', () => {
  assert.throws(
    () => layer({ expertsPerToken: 5 }),
    (e: unknown) => e instanceof ConfigError && /expertsPerToken/.test(String(e.actual)),
  );
  assert.throws(
    () => layer({ experts: 0, expertsPerToken: 0 }),
    (e: unknown) => e instanceof ConfigError && /experts: expected an integer >= 1/.test(String(e.actual)),
  );
  assert.throws(
    () => layer({ capacityFactor: 0, jitter: 1 }),
    (e: unknown) => e instanceof ConfigError && /capacityFactor.*jitter/.test(String(e.actual)),
  );
});
