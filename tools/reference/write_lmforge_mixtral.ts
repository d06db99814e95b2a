/**
 * The lmforge side of the Mixtral reverse golden check: a seeded mixtral preset saved with
 * saveModelFolder() into test/golden/moe/from-lmforge/mixtral/ with lmforge's logits
 * (write_lmforge_models.ts's writer); make_moe_goldens.py then loads the folder by HF names
 * into its PyTorch MixtralForCausalLM and compares.
 *
 * Run: npx tsx tools/reference/write_lmforge_mixtral.ts
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mixtralPreset } from '../../src/models/index.js';
import { writeLmforgeModel } from './write_lmforge_models.js';

const root = join(fileURLToPath(import.meta.url), '..', '..', '..');
await writeLmforgeModel(
  join(root, 'test', 'golden', 'moe', 'from-lmforge', 'mixtral'),
  mixtralPreset({
    vocabSize: 40,
    nLayer: 2,
    nHead: 4,
    nKvHead: 2,
    nEmbd: 16,
    intermediateSize: 20,
    blockSize: 12,
    initStd: 0.2,
    moe: { experts: 4, expertsPerToken: 2 },
  }),
);
