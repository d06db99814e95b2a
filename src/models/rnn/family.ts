/**
 * The recurrent families, `lmforge-lstm` and `lmforge-gru`: the ModelFamily the registry
 * needs (config.json mapping, model, parameter plan, checkpoint keys, size, summary).
 */
import type { ArchitectureSummary, ModelFamily } from '../family.js';
import { sizeOfPlan, type ModelSize } from '../size.js';
import { gatesOf, resolveRnnConfig, rnnArchOf, type RnnCell, type RnnConfig } from './config.js';
import { rnnFromHf, rnnToHf } from './hf.js';
import { RnnLM } from './model.js';

/** Parameter path -> shape, in the order RnnLM registers them (word_language_model's state_dict, tied head once). */
export function rnnParameterShapes(c: RnnConfig): Map<string, readonly number[]> {
  const G = gatesOf[c.cell] * c.hiddenSize;
  const shapes = new Map<string, readonly number[]>([['encoder.weight', [c.vocabSize, c.nEmbd]]]);
  for (let k = 0; k < c.nLayer; k++) {
    shapes.set(`rnn.weight_ih_l${k}`, [G, k === 0 ? c.nEmbd : c.hiddenSize]);
    shapes.set(`rnn.weight_hh_l${k}`, [G, c.hiddenSize]);
    shapes.set(`rnn.bias_ih_l${k}`, [G]);
    shapes.set(`rnn.bias_hh_l${k}`, [G]);
  }
  if (!c.tiedEmbeddings) shapes.set('decoder.weight', [c.vocabSize, c.hiddenSize]);
  shapes.set('decoder.bias', [c.vocabSize]);
  return shapes;
}

/** A tied head's `decoder.weight`, which PyTorch's state_dict holds as a second name of `encoder.weight`, is not loaded. */
function rnnCheckpointKeys(c: RnnConfig, stored: readonly string[]): Map<string, string> {
  return new Map(
    stored.filter((key) => !(c.tiedEmbeddings && key === 'decoder.weight')).map((key) => [key, key]),
  );
}

function describeRnn(c: RnnConfig): ArchitectureSummary {
  return {
    layers: c.nLayer,
    heads: 0,
    kvHeads: 0,
    width: c.hiddenSize,
    mlp: { kind: `${c.cell} cell`, intermediateSize: gatesOf[c.cell] * c.hiddenSize },
    context: c.maxPositions,
    vocabSize: c.vocabSize,
    positions: 'none (recurrent state)',
    norm: 'none',
    tiedEmbeddings: c.tiedEmbeddings,
  };
}

function rnnFamily(cell: RnnCell): ModelFamily<RnnConfig> {
  const arch = rnnArchOf[cell];
  return {
    modelType: arch,
    fromHf: (json, where) => rnnFromHf(arch, json, where),
    toHf: rnnToHf,
    create: (config, options) => new RnnLM(config, options),
    parameterShapes: rnnParameterShapes,
    checkpointKeys: rnnCheckpointKeys,
    size: (config): ModelSize => sizeOfPlan(rnnParameterShapes(config)),
    describe: describeRnn,
  };
}

export const lstmFamily = rnnFamily('lstm');
export const gruFamily = rnnFamily('gru');

/**
 * An LSTM (or GRU, with `cell: 'gru'`) language model config; defaults in resolveRnnConfig.
 * @example
 * const config = rnnPreset('lstm', { vocabSize: 65, nLayer: 2, nEmbd: 256 });
 */
export function rnnPreset(
  cell: RnnCell,
  overrides: Partial<Omit<RnnConfig, 'arch' | 'cell'>> & { readonly vocabSize: number },
): RnnConfig {
  return resolveRnnConfig({ ...overrides, arch: rnnArchOf[cell] });
}
