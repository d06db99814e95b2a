/**
 * Writes the lmforge side of the reverse golden check of the BERT family and the
 * classification heads: seeded models saved with saveModelFolder() into
 * test/golden/bert/from-lmforge/<name>/, plus expected.safetensors holding a padded batch
 * (ids, attention_mask, token_type_ids) and lmforge's logits for it, computed on the JS
 * backend (the reference kernels; test/models/bert/golden.test.ts reloads on it and expects
 * the same bits). make_bert_goldens.py runs this, then loads each folder by HF names into its
 * PyTorch reference and stores that reference's logits beside them.
 *
 * Two more folders are what `lmforge finetune DIR --task classify | tag --out OUT` writes
 * (the compiled CLI, so `npm run build` first): a tiny BertForMaskedLM with a trained
 * WordPiece tokenizer is fine-tuned for a few steps on a small labelled set, and OUT's
 * config.json and model.safetensors are kept as `finetune-classify` and `finetune-tag`, so
 * that PyTorch loads the finetune output itself by HF names.
 *
 * Run: npm run build && npx tsx tools/reference/write_lmforge_bert_models.ts
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  loadModelFolder,
  saveModelFolder,
  type LanguageModel,
  type ModelConfig,
} from '../../src/models/index.js';
import { trainWordPiece } from '../../src/tokenizers/index.js';

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
/** The padded batch of the file header for a model of `config`, with lmforge's logits, into `folder`. */
async function writeExpected(folder: string, model: LanguageModel, config: ModelConfig): Promise<void> {
  // A right-padded batch without the pad id inside a sequence; segment 1 on each row's second half.
  const batch = new Rng(3);
  const ids = new Int32Array(B * T);
  const types = new Int32Array(B * T);
  lengths.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      ids[b * T + t] = batch.randint(1, model.vocabSize);
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
}

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
  await writeExpected(folder, model, config);
  model.dispose();
}

// The folders `lmforge finetune --task classify | tag --out` writes.
const work = mkdtempSync(join(tmpdir(), 'lmforge-finetune-golden-'));
const texts = ['the cat ate grass', 'a saw cuts wood', 'the dog ate hay', 'a drill cuts metal'];
const tokenizer = trainWordPiece([texts.join('\n') + '\nJohn met Mary in Paris .'], { vocabSize: 120 });
const base = join(work, 'base');
{
  const mlm = createModel(bertPreset({ ...bert, vocabSize: tokenizer.vocabSize }), { seed: 5 });
  await saveModelFolder(base, mlm, { tokenizerJson: tokenizer.toJSON() });
  mlm.dispose();
}
const labelled = join(work, 'train.jsonl');
writeFileSync(
  labelled,
  Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({ text: texts[i % 4], label: ['animal', 'tool', 'animal', 'tool'][i % 4] }),
  ).join('\n') + '\n',
);
const conll = join(work, 'train.conll');
writeFileSync(conll, 'John B-PER\nmet O\nMary B-PER\nin O\nParis B-LOC\n. O\n\n'.repeat(10));
for (const [name, task, data] of [
  ['finetune-classify', 'classify', labelled],
  ['finetune-tag', 'tag', conll],
] as const) {
  const runDir = join(work, name);
  const cli = [join(root, 'bin', 'lmforge.js'), 'finetune', base, '--task', task, '--data', data];
  const flags = ['--out', runDir, '--epochs', '2', '--lr', '3e-2', '--batch-size', '4', '--no-progress'];
  const result = spawnSync(process.execPath, [...cli, ...flags, '--backend', 'js'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`lmforge finetune --task ${task} failed: ${result.stderr}`);
  const folder = join(out, name);
  mkdirSync(folder, { recursive: true });
  for (const file of ['config.json', 'model.safetensors'])
    copyFileSync(join(runDir, file), join(folder, file));
  const { model, config } = await loadModelFolder(folder);
  await writeExpected(folder, model, config);
  model.dispose();
}
