/**
 * Golden test: tiny GPT-2 and Llama models written as HF model folders by the PyTorch
 * reference (tools/reference/make_model_goldens.py) load in lmforge and give the same
 * logits, loss and every parameter gradient. The reference computed in float64; the
 * tolerances (from the manifest, with reasons) bound lmforge's float32 error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  backward,
  crossEntropy,
  currentBackend,
  noGrad,
  reshape,
  scope,
  setBackend,
  useBackend,
  type Tensor,
} from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { loadModelFolder } from '../../src/models/index.js';
import { assertClose, assertBitEqual, type Tolerance } from '../util/close.js';

// Compiled tests run from dist/test/models: the fixtures stay in the source tree.
const here = fileURLToPath(new URL('.', import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
export const goldenDir = join(root, 'test', 'golden', 'models');

interface Manifest {
  readonly tolerance: Record<'logits' | 'loss' | 'gradients', { atol: number; rtol?: number }>;
  readonly forward: ReadonlyArray<{ folder: string; parameters: string[]; gradients: string[] }>;
  readonly reverse: ReadonlyArray<{ folder: string; ok: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(goldenDir, 'manifest.json'), 'utf8')) as Manifest;
const tol = (kind: keyof Manifest['tolerance']): Tolerance => ({
  atol: manifest.tolerance[kind].atol,
  rtol: manifest.tolerance[kind].rtol ?? 0,
});

for (const fixture of manifest.forward) {
  test(`golden ${fixture.folder}: logits, loss and every gradient match PyTorch`, async () => {
    const { model } = await loadModelFolder(join(goldenDir, fixture.folder));
    const debug = (await readSafetensorsFile(join(goldenDir, fixture.folder, 'debug.safetensors'))).tensors;
    const get = (name: string): Tensor => {
      const t = debug.get(name);
      assert.ok(t !== undefined, `debug.safetensors lacks ${name}`);
      return t;
    };
    // Every saved HF key is a parameter path, and nothing else is.
    assert.deepEqual(
      model
        .namedParameters()
        .map(([path]) => path)
        .sort(),
      [...fixture.parameters].sort(),
    );
    model.train();
    scope(() => {
      const ids = get('ids');
      const [B, T] = ids.shape as [number, number];
      const logits = model.forward(ids); // (B, T, V)
      const loss = crossEntropy(reshape(logits, [B * T, -1]), reshape(get('targets'), [B * T]));
      assertClose('logits', logits, get('logits'), tol('logits'));
      assertClose('loss', loss, get('loss'), tol('loss'));
      backward(loss);
    });
    const gradients = new Map(model.namedParameters());
    assert.deepEqual(
      fixture.gradients.map((g) => g.slice('grad.'.length)).sort(),
      [...gradients.keys()].sort(),
      'one gradient per parameter',
    );
    for (const [path, parameter] of gradients) {
      assert.ok(parameter.grad !== null, `${path} got no gradient`);
      assertClose(`grad ${path}`, parameter.grad, get(`grad.${path}`), tol('gradients'));
    }
    model.dispose();
  });
}

// The reverse direction (PyTorch loading lmforge's folders by HF names) is checked by the
// generator; here the committed lmforge folders must still load and reproduce their logits
// bit for bit, so that a format change cannot silently invalidate that check. Bit equality
// holds on the backend that wrote them (the JS reference); other backends are compared to it
// by the conformance suite.
for (const fixture of manifest.reverse) {
  test(`golden ${fixture.folder}: lmforge-saved folder reloads with identical logits (PyTorch check ${fixture.ok ? 'passed' : 'FAILED'})`, async () => {
    assert.ok(fixture.ok, 'the PyTorch reference did not reproduce these logits when the fixtures were made');
    const folder = join(goldenDir, fixture.folder);
    const { model } = await loadModelFolder(folder);
    const expected = (await readSafetensorsFile(join(folder, 'expected.safetensors'))).tensors;
    const previous = currentBackend();
    useBackend('js');
    try {
      const logits = noGrad(() => model.forward(expected.get('ids')!));
      assertBitEqual('logits', logits, expected.get('logits')!);
    } finally {
      setBackend(previous);
      model.dispose();
    }
  });
}
