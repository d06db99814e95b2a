/**
 * The Marian family (HF MarianMTModel, model_type 'marian'): its config.json mapping
 * (./hf.ts), the model (./model.ts), the parameter plan from the config alone (the blocks'
 * through blocks/block-shapes.ts), the buffer `final_logits_bias`, and which checkpoint
 * keys load where: HF's tied copies (`model.encoder.embed_tokens.weight`,
 * `model.decoder.embed_tokens.weight`, `lm_head.weight`) and the sinusoid tables some
 * checkpoints store (`*.embed_positions.weight`, equal to the formula) are dropped, and a
 * bare MarianModel checkpoint (`shared.weight`, `encoder.layers...`) gets the `model.` prefix
 * that from_pretrained adds.
 */
import type { ArchitectureSummary, ModelFamily } from '../family.js';
import { blockParameterShapes } from '../blocks/block-shapes.js';
import { sizeOfPlan, type ModelSize } from '../size.js';
import type { MarianConfig } from './config.js';
import { marianBlockSpec, type MarianSide } from './block-spec.js';
import { marianFromHf, marianToHf } from './hf.js';
import { MarianMTModel } from './model.js';

type Shape = readonly number[];

/** Every parameter path with its shape, in the order MarianMTModel's namedParameters() lists them. */
export function marianParameterShapes(config: MarianConfig): Map<string, Shape> {
  const { vocabSize: V, decoderVocabSize, dModel: C, maxPositions: P } = config;
  const plan = new Map<string, Shape>();
  if (config.shareEmbeddings) plan.set('model.shared.weight', [V, C]);
  for (const side of ['encoder', 'decoder'] as const satisfies readonly MarianSide[]) {
    const prefix = `model.${side}`;
    if (!config.shareEmbeddings)
      plan.set(`${prefix}.embed_tokens.weight`, [side === 'encoder' ? V : decoderVocabSize, C]);
    if (config.positions === 'learned') plan.set(`${prefix}.embed_positions.weight`, [P, C]);
    const layers = side === 'encoder' ? config.encoderLayers : config.decoderLayers;
    const spec = marianBlockSpec(config, side);
    for (let layer = 0; layer < layers; layer++)
      blockParameterShapes(spec, `${prefix}.layers.${layer}`, plan);
    if (config.normPlacement === 'pre') {
      plan.set(`${prefix}.layer_norm.weight`, [C]);
      plan.set(`${prefix}.layer_norm.bias`, [C]);
    }
  }
  if (!config.tieWordEmbeddings) plan.set('lm_head.weight', [decoderVocabSize, C]);
  return plan;
}

/** The persistent buffers: final_logits_bias (1, V). */
export function marianBufferShapes(config: MarianConfig): Map<string, Shape> {
  return new Map([['final_logits_bias', [1, config.decoderVocabSize]]]);
}

/** Keys outside the base model (MarianMTModel's own, not MarianModel's). */
const headKeys = new Set(['lm_head.weight', 'final_logits_bias']);

/** Parameter and buffer path -> the checkpoint key it loads from (see the file header). */
export function marianCheckpointKeys(config: MarianConfig, stored: readonly string[]): Map<string, string> {
  const bare = !stored.some((key) => key.startsWith('model.'));
  const pathOf = (key: string): string => (bare && !headKeys.has(key) ? `model.${key}` : key);
  const out = new Map<string, string>();
  const copies = new Map<string, string>();
  for (const key of stored) {
    const path = pathOf(key);
    const tokens = /^model\.(encoder|decoder)\.embed_tokens\.weight$/.test(path);
    if (config.shareEmbeddings && tokens) copies.set(path, key);
    else if (
      config.positions === 'sinusoidal' &&
      /^model\.(encoder|decoder)\.embed_positions\.weight$/.test(path)
    )
      continue;
    else if (config.tieWordEmbeddings && path === 'lm_head.weight') continue;
    else out.set(path, key);
  }
  // A shared table saved only under a side's name (HF ties them, so either holds it).
  if (config.shareEmbeddings && !out.has('model.shared.weight')) {
    const key =
      copies.get('model.encoder.embed_tokens.weight') ?? copies.get('model.decoder.embed_tokens.weight');
    if (key !== undefined) out.set('model.shared.weight', key);
  }
  return out;
}

export function marianSize(config: MarianConfig): ModelSize {
  const sinusoid = config.positions === 'sinusoidal' ? config.maxPositions * config.dModel : 0;
  return sizeOfPlan(marianParameterShapes(config), sinusoid + config.decoderVocabSize);
}

function describeMarian(c: MarianConfig): ArchitectureSummary {
  return {
    layers: c.decoderLayers,
    heads: c.decoderHeads,
    kvHeads: c.decoderHeads,
    width: c.dModel,
    mlp: { kind: c.activation, intermediateSize: c.decoderFfnDim },
    context: c.maxPositions,
    vocabSize: c.decoderVocabSize,
    positions: c.positions,
    norm: `layerNorm (${c.normPlacement}-norm)`,
    tiedEmbeddings: c.tieWordEmbeddings,
    encoder: {
      layers: c.encoderLayers,
      heads: c.encoderHeads,
      intermediateSize: c.encoderFfnDim,
      vocabSize: c.vocabSize,
      sharedEmbeddings: c.shareEmbeddings,
    },
  };
}

export const marianFamily: ModelFamily<MarianConfig> = {
  modelType: 'marian',
  fromHf: marianFromHf,
  toHf: marianToHf,
  create: (config, options) => new MarianMTModel(config, options),
  parameterShapes: marianParameterShapes,
  bufferShapes: marianBufferShapes,
  checkpointKeys: marianCheckpointKeys,
  size: marianSize,
  describe: describeMarian,
};
