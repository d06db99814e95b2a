/**
 * Golden test: tiny Marian models written as HF model folders by the PyTorch reference
 * (tools/reference/make_marian_goldens.py: HF modeling_marian.py's formulas) load in lmforge
 * and give the same logits, label-smoothed loss and every parameter gradient on a padded
 * batch; and the lmforge-saved folders that the reference loaded by HF names still reload
 * with identical logits. The reference computed in float64; the tolerances (from the
 * manifest, with reasons) bound lmforge's float32 error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  backward,
  crossEntropy,
  currentBackend,
  noGrad,
  scope,
  setBackend,
  useBackend,
  type Tensor,
} from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { MarianMTModel, loadModelFolder } from '../../src/models/index.js';
import { assertBitEqual, assertClose, type Tolerance } from '../util/close.js';
import { goldenDir as goldenRoot } from '../golden/golden.js';

const goldenDir = join(goldenRoot, 'marian');

interface Manifest {
  readonly tolerance: Record<'logits' | 'loss' | 'gradients', { atol: number; rtol?: number }>;
  readonly forward: ReadonlyArray<{
    folder: string;
    labelSmoothing: number;
    stored: string[];
    gradients: string[];
  }>;
  readonly reverse: ReadonlyArray<{ folder: string; ok: boolean; hfClean: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(goldenDir, 'manifest.json'), 'utf8')) as Manifest;
const tol = (kind: keyof Manifest['tolerance']): Tolerance => ({
  atol: manifest.tolerance[kind].atol,
  rtol: manifest.tolerance[kind].rtol ?? 0,
});

const getter =
  (tensors: Map<string, Tensor>, file: string) =>
  (name: string): Tensor => {
    const t = tensors.get(name);
    assert.ok(t !== undefined, `${file} lacks ${name}`);
    return t;
  };

for (const fixture of manifest.forward) {
  test(`golden ${fixture.folder}: logits, label-smoothed loss and every gradient match PyTorch (HF Marian formulas)`, async () => {
    const folder = join(goldenDir, fixture.folder);
    const { model } = await loadModelFolder(folder);
    assert.ok(model instanceof MarianMTModel);
    const get = getter((await readSafetensorsFile(join(folder, 'debug.safetensors'))).tensors, 'debug');
    // The file's final_logits_bias (non-zero here) was loaded into the buffer.
    const stored = getter((await readSafetensorsFile(join(folder, 'model.safetensors'))).tensors, 'model');
    assertBitEqual('final_logits_bias', model.finalLogitsBias, stored('final_logits_bias'));
    model.train();
    scope(() => {
      const { logits } = model.forward(
        { ids: get('decoder_input_ids'), sourceIds: get('source_ids'), sourceMask: get('source_mask') },
        { mode: 'train' }, // dropout is 0 in these configs: train mode runs the training path
      ); // (B, T, V)
      const loss = crossEntropy(logits!, get('labels'), { labelSmoothing: fixture.labelSmoothing });
      assertClose('logits', logits!, get('logits'), tol('logits'));
      assertClose('loss', loss, get('loss'), tol('loss'));
      backward(loss);
    });
    const gradients = new Map(model.namedParameters());
    assert.deepEqual(
      fixture.gradients.map((g) => g.slice('grad.'.length)).sort(),
      [...gradients.keys()].sort(),
      'one gradient per parameter, under the reference’s names',
    );
    for (const [path, parameter] of gradients) {
      assert.ok(parameter.grad !== null, `${path} got no gradient`);
      assertClose(`grad ${path}`, parameter.grad, get(`grad.${path}`), tol('gradients'));
    }
    model.dispose();
  });
}

for (const fixture of manifest.reverse) {
  test(`golden ${fixture.folder}: lmforge-saved Marian folder reloads with identical logits (PyTorch check ${fixture.ok ? 'passed' : 'FAILED'})`, async () => {
    assert.ok(fixture.ok, 'the PyTorch reference did not reproduce these logits when the fixtures were made');
    const folder = join(goldenDir, fixture.folder);
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(fixture.hfClean, !('normalize_before' in config));
    const { model } = await loadModelFolder(folder);
    const get = getter((await readSafetensorsFile(join(folder, 'expected.safetensors'))).tensors, 'expected');
    const previous = currentBackend();
    useBackend('js');
    try {
      const logits = noGrad(
        () =>
          model.forward(
            { ids: get('decoder_input_ids'), sourceIds: get('source_ids'), sourceMask: get('source_mask') },
            { mode: 'eval' },
          ).logits!,
      );
      assertBitEqual('logits', logits, get('logits'));
    } finally {
      setBackend(previous);
      model.dispose();
    }
  });
}
