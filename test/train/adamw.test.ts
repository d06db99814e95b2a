import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Tensor } from '../../src/tensor/index.js';
import { AdamW, clipScale } from '../../src/train/index.js';
import { assertClose } from '../util/close.js';

function param(values: number[], shape: number[]): Tensor {
  const t = Tensor.fromArray(Float32Array.from(values), shape);
  t.requiresGrad = true;
  return t;
}

function setGrad(p: Tensor, values: number[]): void {
  p.grad?.dispose();
  p.grad = Tensor.fromArray(Float32Array.from(values), p.shape);
}

/** torch.optim.AdamW's update in float64, for one scalar. */
function reference(
  p: number,
  g: number[],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; scale: number },
): number {
  let m = 0;
  let v = 0;
  for (let t = 1; t <= g.length; t++) {
    const grad = g[t - 1]! * o.scale;
    p = p * (1 - o.lr * o.wd);
    m = o.b1 * m + (1 - o.b1) * grad;
    v = o.b2 * v + (1 - o.b2) * grad * grad;
    const mHat = m / (1 - o.b1 ** t);
    const vHat = v / (1 - o.b2 ** t);
    p = p - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
  }
  return p;
}

describe('AdamW', () => {
  it('matches a hand computation over 3 steps; decays the matrix only', () => {
    const weight = param([0.5, -1, 2, 0.25], [2, 2]); // a matrix: decayed
    const gain = param([1, -0.5], [2]); // a vector (norm gain / bias): never decayed
    const opt = new AdamW(
      [
        ['w', weight],
        ['g', gain],
      ],
      { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 },
    );
    const grads = [
      [
        [0.1, -0.2, 0.3, 0],
        [0.5, 0.5],
      ],
      [
        [-0.1, 0.4, 0.2, 1],
        [-0.5, 0.25],
      ],
      [
        [0.3, 0.3, -0.3, -1],
        [0.1, 0],
      ],
    ];
    const lrs = [1e-2, 1e-2, 1e-2];
    for (let step = 0; step < 3; step++) {
      setGrad(weight, grads[step]![0]!);
      setGrad(gain, grads[step]![1]!);
      opt.update(lrs[step]!, 0.5);
    }
    const common = { lr: 1e-2, b1: 0.9, b2: 0.99, eps: 1e-8, scale: 0.5 };
    const expectedW = [0.5, -1, 2, 0.25].map((p0, i) =>
      reference(
        p0,
        grads.map((g) => g[0]![i]!),
        { ...common, wd: 0.1 },
      ),
    );
    const expectedG = [1, -0.5].map((p0, i) =>
      reference(
        p0,
        grads.map((g) => g[1]![i]!),
        { ...common, wd: 0 },
      ),
    );
    assertClose('matrix', weight.floats(), expectedW, { atol: 1e-6, rtol: 0 });
    assertClose('vector', gain.floats(), expectedG, { atol: 1e-6, rtol: 0 });
    assert.equal(opt.step, 3);
  });

  it('stateDict / loadStateDict continue identically', () => {
    const make = (): [Tensor, AdamW] => {
      const p = param([1, 2, 3, 4, 5, 6], [2, 3]);
      return [p, new AdamW([['layer.weight', p]], { weightDecay: 0.1 })];
    };
    const [a, optA] = make();
    setGrad(a, [1, -1, 0.5, 0, 2, -3]);
    optA.update(1e-2);
    const [b, optB] = make();
    b.floats().set(a.floats());
    optB.loadStateDict(optA.stateDict());
    for (const [p, opt] of [
      [a, optA],
      [b, optB],
    ] as const) {
      setGrad(p, [0.3, 0.1, -0.2, 0.7, 0, 1]);
      opt.update(5e-3);
    }
    assert.deepEqual([...b.floats()], [...a.floats()]);
    assert.deepEqual(
      [...optA.stateDict().tensors.keys()],
      ['exp_avg.layer.weight', 'exp_avg_sq.layer.weight'],
    );
  });

  it('lists a tied parameter once', () => {
    const p = param([1, 2, 3, 4], [2, 2]);
    const opt = new AdamW([
      ['wte.weight', p],
      ['lm_head.weight', p],
    ]);
    assert.equal(opt.parameters.length, 1);
  });
});

describe('gradient clipping', () => {
  it('global norm over all parameters, folded into the gradient scale', () => {
    const a = param([0, 0, 0], [3]);
    const b = param([0, 0], [2]);
    setGrad(a, [3, 0, 0]);
    setGrad(b, [0, 4]);
    const clipped = clipScale([a, b], 1);
    assert.equal(clipped.norm, 5);
    assert.ok(Math.abs(clipped.gradScale - 1 / (5 + 1e-6)) < 1e-12);
    const loose = clipScale([a, b], 10);
    assert.equal(loose.gradScale, 1);
    // Accumulated over 2 micro-batches: the mean gradient has norm 2.5.
    const accumulated = clipScale([a, b], 1, 0.5);
    assert.equal(accumulated.norm, 2.5);
    assert.ok(Math.abs(accumulated.gradScale - 0.5 / (2.5 + 1e-6)) < 1e-12);
    assert.equal(clipScale([a, b], null).gradScale, 1);
  });
});
