/**
 * Golden test of the sparse MoE block against PyTorch (tools/reference/make_moe_goldens.py):
 * HF's MixtralSparseMoeBlock with its per-expert loop (Mixtral routing), Switch routing with
 * GELU and shared experts, and top-1; the output, the router logits, HF's load-balancing loss
 * and the ST-MoE z-loss, and the gradient of sum(out * dout) + 0.1 balance + 0.01 z for the
 * input and every weight, router included. Tolerances and their reasons come from the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { add, backward, mul, noGrad, reshape, scope, sum, type Tensor } from '../../src/index.js';
import { parseSafetensors } from '../../src/io/index.js';
import { RouterRecorder, SparseMoe, routerAuxLoss, type MoeRouting } from '../../src/nn/index.js';
import { mixtralMoeNames } from '../../src/models/mixtral/names.js';
import { assertClose, type Tolerance } from '../util/close.js';
import { goldenDir } from './golden.js';

interface BlockCase {
  readonly name: string;
  readonly file: string;
  readonly routing: MoeRouting;
  readonly kind: 'swiglu' | 'gelu';
  readonly activation: 'silu' | 'gelu';
  readonly C: number;
  readonly H: number;
  readonly E: number;
  readonly k: number;
  readonly shared: number;
  readonly auxCoef: number;
  readonly zCoef: number;
  readonly parameters: readonly string[];
}
interface Manifest {
  readonly tolerance: Record<'forward' | 'loss' | 'gradients', Tolerance & { why: string }>;
  readonly blocks: readonly BlockCase[];
}

const dir = join(goldenDir, 'moe');
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;

for (const c of manifest.blocks) {
  test(`golden ${c.name}: output, router logits, losses and every gradient match PyTorch`, () => {
    const fixture = parseSafetensors(readFileSync(join(dir, c.file))).tensors;
    const get = (name: string): Tensor => {
      const t = fixture.get(name);
      assert.ok(t !== undefined, `${c.file} lacks ${name}`);
      return t;
    };
    const moe = new SparseMoe({
      nEmbd: c.C,
      hidden: c.H,
      experts: c.E,
      expertsPerToken: c.k,
      routing: c.routing,
      capacityFactor: null,
      sharedExperts: c.shared,
      jitter: 0,
      kind: c.kind,
      activation: c.activation,
      names: mixtralMoeNames,
      init: 'empty',
    });
    // HF's names are the parameter paths: the state dict loads strictly.
    moe.loadStateDict(new Map(c.parameters.map((p) => [p, get(`weight.${p}`)])));
    const x = get('x');
    x.requiresGrad = true;
    scope(() => {
      const recorder = new RouterRecorder({ losses: true });
      const out = moe.forward(x, { training: true, recorder });
      assertClose('out', out, get('out'), manifest.tolerance.forward);
      const balance = routerAuxLoss(recorder.records, { auxLossCoef: 1, zLossCoef: 0 });
      const z = routerAuxLoss(recorder.records, { auxLossCoef: 0, zLossCoef: 1 });
      assertClose('load-balancing loss', balance, get('balance'), manifest.tolerance.loss);
      assertClose('z-loss', z, get('z_loss'), manifest.tolerance.loss);
      const aux = routerAuxLoss(recorder.records, { auxLossCoef: c.auxCoef, zLossCoef: c.zCoef });
      backward(add(sum(mul(out, get('dout'))), aux));
    });
    const logits = noGrad(() => reshape(moe.gate.forward(x), [-1, c.E])); // (N, E)
    assertClose('router logits', logits, get('router_logits'), manifest.tolerance.forward);
    assertClose('grad x', x.grad!, get('grad.x'), manifest.tolerance.gradients);
    const params = moe.namedParameters();
    assert.deepEqual(params.map(([p]) => p).sort(), [...c.parameters].sort());
    for (const [path, parameter] of params) {
      assertClose(`grad ${path}`, parameter.grad!, get(`grad.${path}`), manifest.tolerance.gradients);
    }
    moe.dispose();
  });
}
