/**
 * Writes the lmforge side of the reverse Marian golden check: seeded lmforge Marian models
 * saved with saveModelFolder() into test/golden/marian/from-lmforge/<name>/, plus
 * expected.safetensors holding a padded batch and lmforge's logits for it.
 * make_marian_goldens.py runs this, then loads each folder by HF names into its PyTorch
 * reference. `marian` is HF-clean (MarianMTModel loads it as is); `marian-pre` has lmforge's
 * other settings (pre-norm, learned positions, separate vocabularies, untied head).
 *
 * Run: npx tsx tools/reference/write_lmforge_marian.ts (on the JS backend, whose bits the test expects)
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../../src/backend/index.js';
import { Rng, Tensor, noGrad } from '../../src/tensor/index.js';
import { writeSafetensorsFile } from '../../src/io/index.js';
import { MarianMTModel, marianPreset, saveModelFolder, type MarianConfig } from '../../src/models/index.js';

// The JS reference kernels: the golden test reloads these folders and expects the same bits there.
useBackend('js');

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
const out = join(root, 'test', 'golden', 'marian', 'from-lmforge');

const shape = {
  dModel: 16,
  encoderFfnDim: 24,
  decoderFfnDim: 24,
  maxPositions: 12,
  initStd: 0.2,
  dropout: 0,
};
const models: ReadonlyArray<[string, MarianConfig]> = [
  [
    'marian',
    marianPreset({
      ...shape,
      vocabSize: 30,
      encoderHeads: 4,
      decoderHeads: 2,
      padTokenId: 29,
      eosTokenId: 0,
    }),
  ],
  [
    'marian-pre',
    marianPreset({
      ...shape,
      vocabSize: 30,
      decoderVocabSize: 34,
      shareEmbeddings: false,
      tieWordEmbeddings: false,
      normPlacement: 'pre',
      positions: 'learned',
      activation: 'gelu',
      scaleEmbedding: false,
      padTokenId: 1,
    }),
  ],
];

for (const [name, config] of models) {
  const model = new MarianMTModel(config, { seed: 7 });
  // Norm weights start at one, biases and the pad rows at zero: perturb every parameter and
  // the output bias so that a swapped or mis-laid tensor changes the logits.
  const rng = new Rng(11);
  for (const tensor of model.stateDict().values()) {
    const values = tensor.floats();
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + 0.05 * rng.normal();
  }
  const folder = join(out, name);
  await saveModelFolder(folder, model);
  const { padTokenId: pad, decoderStartTokenId: start } = config;
  // Sources of 7 and 4 tokens (right-padded), decoder inputs of 6 positions.
  const sourceIds = Tensor.fromArray(
    Int32Array.from([5, 6, 7, 8, 9, 10, 2, 11, 12, 13, 2, pad, pad, pad]),
    [2, 7],
  );
  const sourceMask = Tensor.fromArray(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]), [2, 7]);
  const decoderInputIds = Tensor.fromArray(
    Int32Array.from([start, 14, 15, 16, 17, 18, start, 19, 20, 21, 22, 23]),
    [2, 6],
  );
  const logits = noGrad(
    () => model.forward({ ids: decoderInputIds, sourceIds, sourceMask }, { mode: 'eval' }).logits!,
  );
  await writeSafetensorsFile(
    join(folder, 'expected.safetensors'),
    { source_ids: sourceIds, source_mask: sourceMask, decoder_input_ids: decoderInputIds, logits },
    { format: 'pt' },
  );
  model.dispose();
}
