/**
 * Writes the lmforge side of the LoRA reverse golden check: PEFT-format adapter folders
 * saved by saveAdapterFolder() over the committed tiny checkpoints, into
 * test/golden/models/lora/from-lmforge/<name>/, each with expected.safetensors holding ids
 * and lmforge's logits of the base with the adapter applied (unmerged):
 *   llama: q/k/v/o/gate/up/down adapters (rank 4, rank 2 on layer 1's q_proj via
 *          rank_pattern), the vocabulary grown 50 -> 52 (the resized embed_tokens and
 *          lm_head saved as PEFT saves embedding layers), ids using the new tokens;
 *   gpt2:  c_attn / c_proj / c_fc adapters on Conv1D weights (fan_in_fan_out), rsLoRA scale.
 * make_lora_goldens.py runs this, then applies each folder by its key names in PyTorch.
 *
 * Run: npx tsx tools/reference/write_lmforge_adapters.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../src/backend/index.js';
import { Rng, noGrad, randint } from '../../src/tensor/index.js';
import { writeSafetensorsFile } from '../../src/io/index.js';
import { resolveLoraConfig, type RawLoraConfig } from '../../src/nn/index.js';
import {
  loadModelFolder,
  resizeVocabulary,
  saveAdapterFolder,
  vocabularyParameters,
  withLora,
  type AnyLanguageModel,
} from '../../src/models/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const models = join(root, 'test', 'golden', 'models');

interface Case {
  readonly name: string;
  readonly base: string;
  readonly config: RawLoraConfig;
  readonly vocabSize: number | null;
}

const cases: readonly Case[] = [
  {
    name: 'llama',
    base: 'llama-tiny',
    config: {
      rank: 4,
      alpha: 8,
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
      rankPattern: { 'layers.1.self_attn.q_proj': 2 },
    },
    vocabSize: 52,
  },
  {
    name: 'gpt2',
    base: 'gpt2-tiny',
    config: { rank: 4, alpha: 6, rslora: true, targets: ['c_attn', 'c_proj', 'c_fc'] },
    vocabSize: null,
  },
];

for (const c of cases) {
  const loaded = (await loadModelFolder(join(models, c.base))).model;
  let base: AnyLanguageModel = loaded;
  const rng = new Rng(21);
  if (c.vocabSize !== null) {
    base = resizeVocabulary(loaded, c.vocabSize);
    loaded.dispose();
    // The new rows as a fine-tune would leave them: not the mean any more.
    for (const path of vocabularyParameters(base)) {
      const values = base
        .namedParameters()
        .find(([p]) => p === path)![1]
        .floats();
      for (let i = values.length - 2 * 32; i < values.length; i++) values[i] = 0.3 * rng.normal();
    }
  }
  const trainBase =
    c.vocabSize === null ? [] : vocabularyParameters(base).map((p) => p.slice(0, p.lastIndexOf('.')));
  const lora = withLora(base, resolveLoraConfig(c.config), { init: 'random', rng }, { trainBase });
  for (const [path, tensor] of lora.adapter.namedParameters()) {
    if (path.includes('.lora_B.')) tensor.floats().forEach((_, i, a) => (a[i] = 0.1 * rng.normal()));
  }
  const folder = join(models, 'lora', 'from-lmforge', c.name);
  await saveAdapterFolder(folder, lora, { baseModel: `test/golden/models/${c.base}` });
  const ids = randint(0, base.vocabSize, [2, 10], new Rng(3));
  if (c.vocabSize !== null) ids.values().set([50, 51], 3); // the new tokens appear
  const logits = noGrad(() => lora.forward(ids, { mode: 'eval' }));
  await writeSafetensorsFile(join(folder, 'expected.safetensors'), { ids, logits }, { format: 'pt' });
  lora.dispose();
  base.dispose();
}
