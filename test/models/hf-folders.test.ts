/**
 * Hugging Face folders written by PyTorch (tools/reference/make_hf_folders.py: GPT-2, Llama 3
 * with llama3 rope_scaling and head_dim != hidden / heads, Llama with linear scaling, Mistral
 * with a sliding window shorter than the input, Qwen2 with q/k/v biases and a tied head, Qwen2
 * with a window in its second layer only, Qwen3 with q/k norms, BertForMaskedLM; single,
 * sharded, F16 and BF16 weights, bare base-model keys, a stored copy of a tied head) load in
 * lmforge and give PyTorch's logits (BERT's for a right-padded batch with token types) and,
 * for the decoders, greedy tokens, and the KV cache gives the same logits as recomputing;
 * checkModelFolder says what was loaded. The tolerance and its reason are in the manifest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import '../../src/backend/index.js';
import { concat, narrow, noGrad, type Tensor } from '../../src/tensor/index.js';
import { readSafetensorsFile } from '../../src/io/index.js';
import {
  checkModelFolder,
  loadModelFolder,
  type LanguageModel,
  type ModelInputs,
} from '../../src/models/index.js';
import { generate } from '../../src/generate/index.js';
import { loadTokenizer } from '../../src/tokenizers/index.js';
import { assertClose } from '../util/close.js';
import { hfFoldersDir, hfManifest } from './hf-fixtures.js';

const { atol, rtol } = hfManifest.tolerance.logits;

async function reference(name: string): Promise<Map<string, Tensor>> {
  return (await readSafetensorsFile(join(hfFoldersDir, 'reference', `${name}.safetensors`))).tensors;
}

/** The reference batch as the contract's inputs: BERT's with its padding mask and token types. */
function inputsOf(ref: Map<string, Tensor>): ModelInputs {
  const ids = ref.get('ids')!;
  const mask = ref.get('attention_mask');
  const types = ref.get('token_type_ids');
  return {
    ids,
    ...(mask === undefined ? {} : { attentionMask: { kind: 'padding' as const, keys: mask } }),
    ...(types === undefined ? {} : { tokenTypes: types }),
  };
}

/** Greedy tokens equal PyTorch's, and the KV cache gives the logits of recomputing. */
async function checkDecoding(
  name: string,
  dir: string,
  model: LanguageModel,
  ref: Map<string, Tensor>,
  logits: Tensor,
): Promise<void> {
  const ids = ref.get('ids')!;
  // Token by token through the KV cache (past the sliding window, where there is one).
  const [B, T] = ids.shape as [number, number];
  const cache = model.createCache(B, T);
  const steps = noGrad(() =>
    Array.from({ length: T }, (_, t) => model.forward(narrow(ids, 1, t, 1), { cache })),
  );
  assertClose(`${name} cached logits`, concat(steps, 1), logits, { atol: 2e-5, rtol: 1e-5 });
  cache.dispose();

  const tokenizer = await loadTokenizer(dir);
  const prompt = [...ref.get('prompt')!.toArray()] as number[];
  const greedy = [...ref.get('greedy')!.toArray()] as number[];
  const out: number[] = [];
  const stream = generate(model, tokenizer, prompt, {
    maxNewTokens: greedy.length,
    sampling: { kind: 'greedy' },
    stopAtEos: false,
  });
  for await (const token of stream) out.push(token.id);
  assert.deepEqual(out, greedy, 'greedy tokens equal PyTorch greedy decoding');
}

for (const fixture of hfManifest.folders) {
  const dir = join(hfFoldersDir, fixture.folder);
  const what =
    fixture.head === 'causal-lm' ? "PyTorch's logits, greedy tokens, cache = recompute" : "PyTorch's logits";
  test(`HF folder ${fixture.folder} (${fixture.features.join(', ')}): ${what}`, async () => {
    const { model, config, weights } = await loadModelFolder(dir);
    const ref = await reference(fixture.folder);
    try {
      assert.equal(config.arch, fixture.model_type);
      assert.equal((model as LanguageModel).head?.kind ?? 'causal-lm', fixture.head);
      const logits = noGrad(() => model.forward(inputsOf(ref)).logits!); // (B, T, V)
      assertClose(`${fixture.folder} logits`, logits, ref.get('logits')!, { atol, rtol });
      if (fixture.head === 'causal-lm') await checkDecoding(fixture.folder, dir, model, ref, logits);

      assert.deepEqual(Object.keys(weights.dtypes), [fixture.weights.dtype]);
      assert.equal(weights.files.length, fixture.weights.shards);
      assert.equal(weights.index === null, fixture.weights.shards === 1);
      assert.equal(weights.bareKeys, fixture.weights.bare_keys);
      assert.deepEqual([...weights.ignoredKeys].sort(), fixture.weights.ignored_keys);
    } finally {
      model.dispose();
    }
  });
}

test('checkModelFolder reports what loadModelFolder loads, without building the model', async () => {
  for (const fixture of hfManifest.folders) {
    const dir = join(hfFoldersDir, fixture.folder);
    const checked = await checkModelFolder(dir);
    assert.equal(checked.config.arch, fixture.model_type);
    assert.deepEqual(Object.keys(checked.weights.dtypes), [fixture.weights.dtype], fixture.folder);
    assert.equal(checked.weights.files.length, fixture.weights.shards, fixture.folder);
  }
});
