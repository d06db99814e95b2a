/**
 * Golden tests of the BERT family and the classification heads against the PyTorch
 * reference (tools/reference/make_bert_goldens.py, HF's formulas and keys):
 * - forward: HF folders written by the reference (BertForMaskedLM post- and pre-norm,
 *   BertForSequenceClassification, BertForTokenClassification, GPT2/LlamaForSequenceClassification)
 *   load in lmforge and give the same logits, loss and every parameter gradient on a padded
 *   batch with token types; bert-mlm's file also holds the tied decoder copy and buffers,
 *   which loading skips;
 * - reverse: folders lmforge saved were loaded by HF names into the reference, whose logits
 *   are stored beside them: lmforge's logits equal them within tolerance, and reloading
 *   reproduces lmforge's own logits bit for bit on the JS backend that wrote them.
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
} from '../../../src/index.js';
import { readSafetensorsFile } from '../../../src/io/index.js';
import { loadModelFolder, type ModelInputs } from '../../../src/models/index.js';
import { REPO_ROOT } from '../../util/repo-root.js';
import { assertBitEqual, assertClose, type Tolerance } from '../../util/close.js';

const bertGoldenDir = join(REPO_ROOT, 'test', 'golden', 'bert');

interface Manifest {
  readonly tolerance: Record<'logits' | 'loss' | 'gradients' | 'reverse', { atol: number; rtol?: number }>;
  readonly forward: ReadonlyArray<{ folder: string; architecture: string; gradients: string[] }>;
  readonly reverse: ReadonlyArray<{ folder: string; ok: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(bertGoldenDir, 'manifest.json'), 'utf8')) as Manifest;
const tol = (kind: keyof Manifest['tolerance']): Tolerance => ({
  atol: manifest.tolerance[kind].atol,
  rtol: manifest.tolerance[kind].rtol ?? 0,
});

async function tensors(path: string): Promise<(name: string) => Tensor> {
  const file = (await readSafetensorsFile(path)).tensors;
  return (name) => {
    const t = file.get(name);
    assert.ok(t !== undefined, `${path} lacks ${name}`);
    return t;
  };
}

/** The batch of a fixture as the contract's inputs (token types for BERT only). */
function inputsOf(get: (name: string) => Tensor, bert: boolean): ModelInputs {
  return {
    ids: get('ids'),
    attentionMask: { kind: 'padding', keys: get('attention_mask') },
    ...(bert ? { tokenTypes: get('token_type_ids') } : {}),
  };
}

for (const fixture of manifest.forward) {
  test(`golden ${fixture.folder} (${fixture.architecture}): logits, loss and every gradient match PyTorch`, async () => {
    const folder = join(bertGoldenDir, fixture.folder);
    const { model } = await loadModelFolder(folder);
    const get = await tensors(join(folder, 'debug.safetensors'));
    // One parameter per reference parameter (a tied weight once), by its HF key.
    assert.deepEqual(
      model
        .namedParameters()
        .map(([path]) => path)
        .sort(),
      fixture.gradients.map((g) => g.slice('grad.'.length)).sort(),
    );
    scope(() => {
      const { logits } = model.forward(inputsOf(get, model.family === 'bert'));
      assertClose('logits', logits!, get('logits'), tol('logits'));
      const loss = crossEntropy(logits!, get('labels')); // -100 ignored
      assertClose('loss', loss, get('loss'), tol('loss'));
      backward(loss);
    });
    for (const [path, parameter] of model.namedParameters()) {
      assert.ok(parameter.grad !== null, `${path} got no gradient`);
      assertClose(`grad ${path}`, parameter.grad, get(`grad.${path}`), tol('gradients'));
    }
    model.dispose();
  });
}

for (const fixture of manifest.reverse) {
  test(`golden ${fixture.folder}: PyTorch loading lmforge's folder by HF names reproduces its logits`, async () => {
    assert.ok(fixture.ok, 'the PyTorch reference did not reproduce these logits when the fixtures were made');
    const folder = join(bertGoldenDir, fixture.folder);
    const { model } = await loadModelFolder(folder);
    const expected = await tensors(join(folder, 'expected.safetensors'));
    const pytorch = await tensors(join(folder, 'pytorch.safetensors'));
    const previous = currentBackend();
    useBackend('js');
    try {
      const logits = noGrad(() => model.forward(inputsOf(expected, model.family === 'bert')).logits!);
      assertClose('logits vs PyTorch', logits, pytorch('logits'), tol('reverse'));
      assertBitEqual('logits vs the saving run', logits, expected('logits'));
    } finally {
      setBackend(previous);
      model.dispose();
    }
  });
}
