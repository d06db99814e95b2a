/**
 * Every op case of test/golden/manifest.json (written by tools/reference/make_goldens.py
 * with PyTorch): run the op on the fixture's inputs, back-propagate the fixture's random
 * upstream gradient, and compare the outputs and the gradient of every float input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, useBackend } from '../../src/index.js';
import {
  type Tensor,
  add,
  backward,
  concat,
  crossEntropy,
  div,
  embedding,
  exp,
  gather,
  gelu,
  geluTanh,
  layerNorm,
  log,
  logSoftmax,
  matmul,
  maskedFill,
  max,
  mean,
  mul,
  pow,
  relu,
  rmsNorm,
  rsqrt,
  scaledDotProductAttention,
  sigmoid,
  silu,
  softmax,
  split,
  sqrt,
  stack,
  sub,
  sum,
  tanh,
  transpose,
  variance,
  where,
  type Reduction,
} from '../../src/tensor/index.js';
import { assertClose } from '../util/close.js';
import { loadFixture, loadManifest, need, type OpCase } from './golden.js';

type Inputs = Readonly<Record<string, Tensor>>;
type Args = Readonly<Record<string, unknown>>;
type Runner = (x: Inputs, args: Args, c: OpCase) => Tensor | Tensor[];

const num = (args: Args, key: string): number => args[key] as number;
/** The manifest's reduce options; axis null means all axes. */
const reduceOptions = (args: Args): { axis?: number | number[]; keepDims: boolean } => ({
  keepDims: args.keepDims as boolean,
  ...(args.axis === null ? {} : { axis: args.axis as number | number[] }),
});
const listed = (x: Inputs, c: OpCase): Tensor[] => c.inputs.map((name) => x[name]!);

/** Each manifest op name -> the lmforge call it checks. */
const runners: Readonly<Record<string, Runner>> = {
  add: (x) => add(x.a!, x.b!),
  sub: (x) => sub(x.a!, x.b!),
  mul: (x, a) => (a.scalar === undefined ? mul(x.a!, x.b!) : mul(x.a!, num(a, 'scalar'))),
  div: (x) => div(x.a!, x.b!),
  pow: (x) => pow(x.a!, x.b!),
  exp: (x) => exp(x.x!),
  log: (x) => log(x.x!),
  sqrt: (x) => sqrt(x.x!),
  rsqrt: (x) => rsqrt(x.x!),
  tanh: (x) => tanh(x.x!),
  sigmoid: (x) => sigmoid(x.x!),
  relu: (x) => relu(x.x!),
  gelu: (x) => gelu(x.x!),
  geluTanh: (x) => geluTanh(x.x!),
  silu: (x) => silu(x.x!),
  sum: (x, a) => sum(x.x!, reduceOptions(a)),
  mean: (x, a) => mean(x.x!, reduceOptions(a)),
  variance: (x, a) => variance(x.x!, { ...reduceOptions(a), correction: num(a, 'correction') }),
  max: (x, a) => max(x.x!, { axis: num(a, 'axis'), keepDims: a.keepDims as boolean }),
  matmul: (x, a) => matmul(a.transA ? transpose(x.a!) : x.a!, a.transB ? transpose(x.b!) : x.b!),
  softmax: (x, a) => softmax(x.x!, num(a, 'axis')),
  logSoftmax: (x, a) => logSoftmax(x.x!, num(a, 'axis')),
  crossEntropy: (x, a) =>
    crossEntropy(x.logits!, x.targets!, {
      ignoreIndex: num(a, 'ignoreIndex'),
      labelSmoothing: num(a, 'labelSmoothing'),
      reduction: a.reduction as Reduction,
    }),
  layerNorm: (x, a) => layerNorm(x.x!, x.weight!, x.bias!, num(a, 'eps')),
  rmsNorm: (x, a) => rmsNorm(x.x!, x.weight!, num(a, 'eps')),
  embedding: (x) => embedding(x.weight!, x.ids!),
  scaledDotProductAttention: (x, a) =>
    scaledDotProductAttention(x.q!, x.k!, x.v!, {
      causal: a.causal as boolean,
      ...(x.mask === undefined ? {} : { mask: x.mask }),
      ...(a.scale === undefined ? {} : { scale: num(a, 'scale') }),
    }),
  concat: (x, a, c) => concat(listed(x, c), num(a, 'axis')),
  split: (x, a) => split(x.x!, a.sizes as number[], num(a, 'axis')),
  stack: (x, a, c) => stack(listed(x, c), num(a, 'axis')),
  gather: (x, a) => gather(x.x!, num(a, 'axis'), x.index!),
  where: (x) => where(x.cond!, x.a!, x.b!),
  maskedFill: (x, a) => maskedFill(x.x!, x.mask!, num(a, 'value')),
};

const manifest = loadManifest();

test('the manifest covers every op runner and names no unknown op', () => {
  const ops = new Set(manifest.cases.map((c) => c.op));
  assert.deepEqual(
    [...ops].filter((op) => !(op in runners)),
    [],
    'manifest ops without a runner',
  );
  assert.deepEqual(
    Object.keys(runners).filter((op) => !ops.has(op)),
    [],
    'runners without a case',
  );
});

// Every available backend runs every case (the native one hands float64 to the JS kernels).
for (const backendName of availableBackends()) {
  for (const c of manifest.cases) {
    test(`[${backendName}] ${c.name} (${c.op}, ${c.dtype}) matches torch ${manifest.torch}: forward and gradients`, (t) => {
      useBackend(backendName);
      const fixture = loadFixture(c.file);
      const inputs: Record<string, Tensor> = {};
      for (const name of c.inputs) {
        const tensor = need(fixture, name);
        tensor.requiresGrad = name in c.grads;
        inputs[name] = tensor;
      }
      const result = runners[c.op]!(inputs, c.args, c);
      const outputs = Array.isArray(result) ? result : [result];
      assert.equal(outputs.length, c.outputs.length, 'number of outputs');
      const worst = { maxAbs: 0, maxRel: 0 };
      const track = (r: { maxAbs: number; maxRel: number }): void => {
        worst.maxAbs = Math.max(worst.maxAbs, r.maxAbs);
        worst.maxRel = Math.max(worst.maxRel, r.maxRel);
      };
      outputs.forEach((out, i) =>
        track(assertClose(`${c.name} ${c.outputs[i]}`, out, need(fixture, c.outputs[i]!), c.tolerance)),
      );

      if (outputs.length === 1) {
        backward(outputs[0]!, need(fixture, c.upstream[0]!));
      } else {
        // Several outputs: back-propagate L = sum_i <out_i, dout_i>, whose gradient w.r.t.
        // out_i is exactly dout_i (what torch.autograd.grad was given).
        const terms = outputs.map((out, i) => sum(mul(out, need(fixture, c.upstream[i]!))));
        backward(terms.reduce((acc, term) => add(acc, term)));
      }
      for (const [name, gradName] of Object.entries(c.grads)) {
        const grad = inputs[name]!.grad;
        assert.ok(grad !== null, `${c.name}: no gradient reached input '${name}'`);
        track(assertClose(`${c.name} d${name}`, grad, need(fixture, gradName), c.tolerance));
      }
      t.diagnostic(
        `max abs diff ${worst.maxAbs.toExponential(2)}, max rel diff ${worst.maxRel.toExponential(2)} ` +
          `(rtol ${c.tolerance.rtol}, atol ${c.tolerance.atol}; torch f32 vs f64 ${c.torchFloat32MaxAbsErrorVsFloat64.toExponential(2)})`,
      );
    });
  }
}
