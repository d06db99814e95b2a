/**
 * LoRA goldens (tools/reference/make_lora_goldens.py): on the tiny GPT-2 (Conv1D) and Llama
 * checkpoints, lmforge's adapters give PyTorch's logits, loss and every adapter gradient
 * (the base frozen); and PEFT-format adapter folders written by lmforge, applied in PyTorch by
 * their key names alone (one with a grown vocabulary, rank_pattern; one with fan_in_fan_out
 * and rsLoRA), reproduce lmforge's logits. Tolerances and their reasons are in the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backward, crossEntropy, noGrad, reshape, scope, type Tensor } from '../../src/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import { resolveLoraConfig } from '../../src/nn/index.js';
import { loadAdapterFolder, loadModelFolder, withLora } from '../../src/models/index.js';
import { assertClose, type Tolerance } from '../util/close.js';

// Compiled tests run from dist/test/models: the fixtures stay in the source tree.
const here = fileURLToPath(new URL('.', import.meta.url));
const goldenDir = join(
  here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..'),
  'test',
  'golden',
  'models',
);
const loraDir = join(goldenDir, 'lora');
interface Manifest {
  readonly tolerance: Record<'logits' | 'loss' | 'gradients' | 'reverse', { atol: number; rtol?: number }>;
  readonly forward: ReadonlyArray<{
    base: string;
    file: string;
    rank: number;
    alpha: number;
    targets: string[];
    modules: string[];
  }>;
  readonly reverse: ReadonlyArray<{ folder: string; base: string; ok: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(loraDir, 'manifest.json'), 'utf8')) as Manifest;
const tol = (kind: keyof Manifest['tolerance']): Tolerance => ({
  atol: manifest.tolerance[kind].atol,
  rtol: manifest.tolerance[kind].rtol ?? 0,
});

for (const fixture of manifest.forward) {
  test(`LoRA golden on ${fixture.base}: logits, loss and every adapter gradient match PyTorch`, async () => {
    const { model } = await loadModelFolder(join(goldenDir, fixture.base));
    const debug = (await readSafetensorsFile(join(loraDir, fixture.file))).tensors;
    const get = (name: string): Tensor => {
      const t = debug.get(name);
      assert.ok(t !== undefined, `${fixture.file} lacks ${name}`);
      return t;
    };
    const config = resolveLoraConfig({ rank: fixture.rank, alpha: fixture.alpha, targets: fixture.targets });
    const lora = withLora(model, config, { init: 'empty' });
    assert.deepEqual([...lora.adapter.paths].sort(), fixture.modules);
    for (const path of lora.adapter.paths) {
      const branch = lora.adapter.layer(path).branches.get('default')!;
      branch.a.weight.floats().set(get(`A.${path}`).floats());
      branch.b.weight.floats().set(get(`B.${path}`).floats());
    }
    scope(() => {
      const ids = get('ids');
      const [B, T] = ids.shape as [number, number];
      const logits = lora.forward(ids, { mode: 'train' }); // (B, T, V)
      const loss = crossEntropy(reshape(logits, [B * T, -1]), reshape(get('targets'), [B * T]));
      assertClose('logits', logits, get('logits'), tol('logits'));
      assertClose('loss', loss, get('loss'), tol('loss'));
      backward(loss);
    });
    const adapter = new Set(lora.adapter.namedParameters().map(([, t]) => t));
    for (const [path, tensor] of lora.namedParameters())
      if (!adapter.has(tensor)) assert.equal(tensor.grad, null, path);
    for (const path of lora.adapter.paths) {
      const branch = lora.adapter.layer(path).branches.get('default')!;
      assertClose(`grad A ${path}`, branch.a.weight.grad!, get(`grad.A.${path}`), tol('gradients'));
      assertClose(`grad B ${path}`, branch.b.weight.grad!, get(`grad.B.${path}`), tol('gradients'));
    }
    lora.dispose();
    model.dispose();
  });
}

for (const fixture of manifest.reverse) {
  test(`LoRA reverse golden ${fixture.folder}: PyTorch applying the PEFT keys reproduces lmforge's logits`, async () => {
    assert.ok(fixture.ok, 'the reference script found a mismatch');
    const folder = join(loraDir, fixture.folder);
    const { model } = await loadModelFolder(join(goldenDir, fixture.base));
    const loaded = await loadAdapterFolder(folder, model);
    const expected = (await readSafetensorsFile(join(folder, 'expected.safetensors'))).tensors;
    const torchLogits = (await readSafetensorsFile(join(folder, 'torch.safetensors'))).tensors.get('logits')!;
    const logits = noGrad(() => loaded.model.forward(expected.get('ids')!, { mode: 'eval' }));
    assertClose('lmforge vs PyTorch by key names', logits, torchLogits, tol('reverse'));
    loaded.model.dispose();
    loaded.base.dispose();
  });
}
