/**
 * Writes the lmforge side of the reverse golden check of the BERT family and the
 * classification heads: seeded models saved with saveModelFolder() into
 * test/golden/bert/from-lmforge/<name>/, plus expected.safetensors holding a padded batch
 * (ids, attention_mask, token_type_ids) and lmforge's logits for it, computed on the JS
 * backend (the reference kernels; test/models/bert/golden.test.ts reloads on it and expects
 * the same bits). make_bert_goldens.py runs this, then loads each folder by HF names into its
 * PyTorch reference and stores that reference's logits beside them.
 *
 * Run: npx tsx tools/reference/write_lmforge_bert_models.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../../src/backend/index.js';
import { Rng, Tensor, noGrad } from '../../src/tensor/index.js';
import { writeSafetensorsFile } from '../../src/io/index.js';
import { paddingKeys } from '../../src/nn/index.js';
import {
  bertPreset,
  createModel,
  gpt2Preset,
  llamaPreset,
  saveModelFolder,
  type ModelConfig,
} from '../../src/models/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const out = join(root, 'test', 'golden', 'bert', 'from-lmforge');

const V = 40;
const bert = {
  vocabSize: V,
  nEmbd: 16,
  nLayer: 2,
  nHead: 4,
  intermediateSize: 32,
  maxPositions: 12,
  dropout: 0,
  initStd: 0.2,
  padTokenId: 0,
};
const decoder = { vocabSize: V, nLayer: 2, nHead: 4, nEmbd: 16, blockSize: 12, initStd: 0.2 };
const seqcls = { head: 'sequence-classification', padTokenId: 0 } as const;

const models: ReadonlyArray<[string, ModelConfig]> = [
  ['bert-mlm', bertPreset(bert)],
  ['bert-seqcls', bertPreset({ ...bert, head: 'sequence-classification', labels: ['no', 'yes', 'maybe'] })],
  ['bert-tokcls', bertPreset({ ...bert, head: 'token-classification', labels: ['O', 'B-X', 'I-X', 'B-Y'] })],
  ['gpt2-seqcls', gpt2Preset({ ...decoder, ...seqcls, labels: ['a', 'b', 'c'] })],
  [
    'llama-seqcls',
    llamaPreset({ ...decoder, ...seqcls, nKvHead: 2, intermediateSize: 48, labels: ['p', 'q'] }),
  ],
];

useBackend('js');
const [B, T] = [2, 10];
const lengths = [10, 6];
for (const [name, config] of models) {
  const model = createModel(config, { seed: 7 });
  // Norm weights start at one and biases at zero: perturb every parameter so that a
  // swapped or mis-laid tensor changes the logits.
  const rng = new Rng(11);
  for (const parameter of model.parameters()) {
    const values = parameter.floats();
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + 0.05 * rng.normal();
  }
  const folder = join(out, name);
  await saveModelFolder(folder, model);
  // A right-padded batch without the pad id inside a sequence; segment 1 on each row's second half.
  const batch = new Rng(3);
  const ids = new Int32Array(B * T);
  const types = new Int32Array(B * T);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      ids[b * T + t] = batch.randint(1, V);
      types[b * T + t] = t >= n / 2 && config.arch === 'bert' ? 1 : 0;
    }
  });
  const idsTensor = Tensor.fromArray(ids, [B, T]);
  const keys = paddingKeys(lengths, T, 'right');
  const tokenTypes = Tensor.fromArray(types, [B, T]);
  const logits = noGrad(
    () =>
      model.forward(
        {
          ids: idsTensor,
          attentionMask: { kind: 'padding', keys },
          ...(config.arch === 'bert' ? { tokenTypes } : {}),
        },
        { mode: 'eval' },
      ).logits!,
  );
  await writeSafetensorsFile(
    join(folder, 'expected.safetensors'),
    { ids: idsTensor, attention_mask: keys, token_type_ids: tokenTypes, logits },
    { format: 'pt' },
  );
  model.dispose();
}
