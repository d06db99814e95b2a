/**
 * Writes the lmforge side of the reverse golden check: seeded GPT-2 and Llama presets saved
 * with saveModelFolder() into test/golden/models/from-lmforge/<name>/, plus
 * expected.safetensors holding the ids and lmforge's logits for them. make_model_goldens.py
 * runs this, then loads each folder by HF names into its PyTorch reference.
 *
 * Run: npx tsx tools/reference/write_lmforge_models.ts
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { useBackend } from '../../src/backend/index.js';
import { Rng, noGrad, randint } from '../../src/tensor/index.js';
import { writeSafetensorsFile } from '../../src/io/index.js';
import {
  DecoderLM,
  gpt2Preset,
  llamaPreset,
  saveModelFolder,
  type DecoderConfig,
} from '../../src/models/index.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const out = join(root, 'test', 'golden', 'models', 'from-lmforge');

const models: ReadonlyArray<[string, DecoderConfig]> = [
  ['gpt2', gpt2Preset({ vocabSize: 40, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12, initStd: 0.2 })],
  [
    'llama',
    llamaPreset({
      vocabSize: 40,
      nLayer: 2,
      nHead: 4,
      nKvHead: 2,
      nEmbd: 16,
      intermediateSize: 48,
      blockSize: 12,
      initStd: 0.2,
    }),
  ],
];

/** Saves a seeded model of `config` into `folder` with expected.safetensors (ids and lmforge's logits). */
export async function writeLmforgeModel(folder: string, config: DecoderConfig): Promise<void> {
  // The golden tests reproduce these logits bit for bit on the backend that wrote them.
  useBackend('js');
  const model = new DecoderLM(config, { seed: 7 });
  // Norm weights start at one and biases at zero: perturb every parameter so that a
  // swapped or mis-laid tensor changes the logits.
  const rng = new Rng(11);
  for (const parameter of model.parameters()) {
    const values = parameter.floats();
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + 0.05 * rng.normal();
  }
  await saveModelFolder(folder, model);
  const ids = randint(0, config.vocabSize, [2, 10], new Rng(3));
  const logits = noGrad(() => model.eval().forward(ids));
  writeSafetensorsFile(join(folder, 'expected.safetensors'), { ids, logits }, { format: 'pt' });
  model.dispose();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, config] of models) await writeLmforgeModel(join(out, name), config);
}
