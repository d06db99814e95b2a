/**
 * Golden test: a tiny MixtralForCausalLM written as an HF folder by the PyTorch reference
 * (tools/reference/make_moe_goldens.py) loads in lmforge and gives the same logits, the same
 * loss (cross-entropy + router_aux_loss_coef * HF's load-balancing loss over both layers +
 * the z-loss term) and every parameter gradient, routers included. The reverse direction
 * (PyTorch loading lmforge's saved mixtral folder by HF names) is checked by the generator;
 * here that folder must still reload with identical logits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  add,
  backward,
  crossEntropy,
  currentBackend,
  noGrad,
  reshape,
  scope,
  setBackend,
  sub,
  useBackend,
  type Tensor,
} from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { loadModelFolder } from '../../src/models/index.js';
import { assertBitEqual, assertClose, type Tolerance } from '../util/close.js';
import { goldenDir as golden } from '../golden/golden.js';

const dir = join(golden, 'moe');
interface Manifest {
  readonly tolerance: { readonly model: Record<'logits' | 'loss' | 'gradients', Tolerance> };
  readonly model: {
    readonly folder: string;
    readonly parameters: readonly string[];
    readonly gradients: readonly string[];
  };
  readonly reverse: { readonly folder: string; readonly ok: boolean };
}
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const tol = manifest.tolerance.model;

test('golden mixtral-tiny: logits, loss with the auxiliary losses, and every gradient match PyTorch', async () => {
  const folder = join(dir, manifest.model.folder);
  const { model } = await loadModelFolder(folder);
  const debug = (await readSafetensorsFile(join(folder, 'debug.safetensors'))).tensors;
  const get = (name: string): Tensor => {
    const t = debug.get(name);
    assert.ok(t !== undefined, `debug.safetensors lacks ${name}`);
    return t;
  };
  assert.deepEqual(
    model
      .namedParameters()
      .map(([p]) => p)
      .sort(),
    [...manifest.model.parameters].sort(),
  );
  scope(() => {
    const ids = get('ids');
    const [B, T] = ids.shape as [number, number];
    const out = model.forward({ ids }, { mode: 'train' });
    const ce = crossEntropy(reshape(out.logits!, [B * T, -1]), reshape(get('targets'), [B * T]));
    assert.ok(out.auxLoss !== undefined, 'output_router_logits true: the model returns its auxiliary loss');
    const loss = add(ce, out.auxLoss);
    assertClose('logits', out.logits!, get('logits'), tol.logits);
    assertClose('cross-entropy', ce, get('ce'), tol.loss);
    assertClose('auxiliary loss', out.auxLoss, sub(get('loss'), get('ce')), tol.loss);
    assertClose('loss', loss, get('loss'), tol.loss);
    backward(loss);
  });
  const gradients = new Map(model.namedParameters());
  assert.equal(gradients.size, manifest.model.gradients.length);
  for (const [path, parameter] of gradients) {
    assert.ok(parameter.grad !== null, `${path} got no gradient`);
    assertClose(`grad ${path}`, parameter.grad, get(`grad.${path}`), tol.gradients);
  }
  model.dispose();
});

test(`golden ${manifest.reverse.folder}: lmforge-saved mixtral folder reloads with identical logits (PyTorch check ${manifest.reverse.ok ? 'passed' : 'FAILED'})`, async () => {
  assert.ok(
    manifest.reverse.ok,
    'the PyTorch reference did not reproduce these logits when the fixtures were made',
  );
  const folder = join(dir, manifest.reverse.folder);
  const { model } = await loadModelFolder(folder);
  const expected = (await readSafetensorsFile(join(folder, 'expected.safetensors'))).tensors;
  const previous = currentBackend();
  useBackend('js');
  try {
    assertBitEqual(
      'logits',
      noGrad(() => model.forward(expected.get('ids')!)),
      expected.get('logits')!,
    );
  } finally {
    setBackend(previous);
    model.dispose();
  }
});
