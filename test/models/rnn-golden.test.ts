/**
 * Golden test of the recurrent families against PyTorch (tools/reference/make_rnn_goldens.py):
 * model folders holding an nn.LSTM / nn.GRU word_language_model RNNModel's state_dict load
 * in lmforge by PyTorch's names, and give the same logits, loss, every parameter gradient,
 * the same state after the sequence (h_n, c_n) and the same weights after 3 AdamW steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, crossEntropy, noGrad, reshape, scope, zeroGrad, type Tensor } from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { RnnLM, loadModelFolder } from '../../src/models/index.js';
import { AdamW } from '../../src/train/index.js';
import { goldenDir } from '../golden/golden.js';
import { assertClose, type Tolerance } from '../util/close.js';

interface Manifest {
  readonly cases: ReadonlyArray<{
    folder: string;
    cell: 'lstm' | 'gru';
    parameters: string[];
    stored: string[];
  }>;
  readonly tolerance: Record<'logits' | 'gradients' | 'steps' | 'state', { atol: number; rtol?: number }>;
}
const dir = join(goldenDir, 'rnn');
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const tol = (kind: keyof Manifest['tolerance']): Tolerance => ({
  atol: manifest.tolerance[kind].atol,
  rtol: manifest.tolerance[kind].rtol ?? 0,
});

for (const fixture of manifest.cases) {
  test(`golden ${fixture.folder}: logits, loss, every gradient, the final state and 3 AdamW steps match PyTorch`, async () => {
    const { model } = await loadModelFolder(join(dir, fixture.folder));
    assert.ok(model instanceof RnnLM);
    assert.equal(model.config.cell, fixture.cell);
    assert.deepEqual(
      model.namedParameters().map(([path]) => path),
      fixture.parameters,
      'parameter paths, in order, are the state_dict keys',
    );
    const debug = (await readSafetensorsFile(join(dir, fixture.folder, 'debug.safetensors'))).tensors;
    const get = (name: string): Tensor => {
      const t = debug.get(name);
      assert.ok(t !== undefined, `debug.safetensors lacks ${name}`);
      return t;
    };
    const ids = get('ids');
    const targets = get('targets');
    const [B, T] = ids.shape as [number, number];
    const loss = (): Tensor =>
      crossEntropy(reshape(model.forward(ids, { mode: 'eval' }), [B * T, -1]), reshape(targets, [B * T]));
    scope(() => {
      const logits = model.forward(ids, { mode: 'eval' });
      assertClose('logits', logits, get('logits'), tol('logits'));
      const value = crossEntropy(reshape(logits, [B * T, -1]), reshape(targets, [B * T]));
      assertClose('loss', value, get('loss'), tol('logits'));
      backward(value);
    });
    for (const [path, parameter] of model.namedParameters()) {
      assert.ok(parameter.grad !== null, `${path} got no gradient`);
      assertClose(`grad ${path}`, parameter.grad, get(`grad.${path}`), tol('gradients'));
    }
    // The state after the sequence, through the model's cache.
    const state = model.createCache(B);
    noGrad(() => scope(() => void model.forward({ ids, cache: state }, { logits: 'none', mode: 'eval' })));
    const BH = B * model.config.hiddenSize;
    const rowsOf = (name: string, layer: number): number[] =>
      get(name)
        .toArray()
        .slice(layer * BH, (layer + 1) * BH);
    for (let layer = 0; layer < model.config.nLayer; layer++) {
      assertClose(`h_n[${layer}]`, state.state(layer).h, rowsOf('h_n', layer), tol('state'));
      if (fixture.cell === 'lstm') {
        assertClose(`c_n[${layer}]`, state.state(layer).c!, rowsOf('c_n', layer), tol('state'));
      }
    }
    state.dispose();
    // Three AdamW steps (decay on matrices, as torch's two parameter groups).
    const optimizer = new AdamW(model.namedParameters(), {
      beta1: 0.9,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0.1,
    });
    const expectedLosses = get('losses').toArray();
    for (let step = 1; step <= 3; step++) {
      zeroGrad(model.parameters());
      scope(() => {
        const value = loss();
        assertClose(`loss before step ${step}`, [value.item()], [expectedLosses[step - 1]!], {
          atol: 1e-5,
          rtol: 0,
        });
        backward(value);
      });
      optimizer.update(1e-2);
      for (const [path, parameter] of model.namedParameters()) {
        assertClose(`step ${step} ${path}`, parameter, get(`step${step}.${path}`), tol('steps'));
      }
    }
    optimizer.dispose();
    model.dispose();
  });
}
