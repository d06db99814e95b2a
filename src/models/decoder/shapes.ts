/**
 * The decoder's parameter plan: every parameter path with its shape, in namedParameters()
 * order, computed from the config alone. It lets a loader compare a checkpoint's header
 * with what the config implies, and the registry refuse a model too large for the
 * machine, before a single parameter is allocated. A test checks the plan against the
 * modules' own namedParameters() for every variant (tests/models/model-files.test.ts).
 */
import { sizeOfPlan, type ModelSize } from '../size.js';
import type { DecoderConfig } from './config.js';
import { archNames, qkNormNames } from './names.js';
import { moeParameterShapes } from '../mixtral/shapes.js';

/** Parameter path -> shape, in the order DecoderLM registers them. */
export function parameterShapes(config: DecoderConfig): Map<string, readonly number[]> {
  const names = archNames[config.arch];
  const { vocabSize: V, nEmbd: C, blockSize, intermediateSize: hidden, bias, headSize: hs } = config;
  const qWidth = config.nHead * hs;
  const kvWidth = config.nKvHead * hs;
  const inOut = names.layout === 'inOut';
  const shapes = new Map<string, readonly number[]>();
  const linear = (path: string, inFeatures: number, outFeatures: number, biased: boolean): void => {
    shapes.set(`${path}.weight`, inOut ? [inFeatures, outFeatures] : [outFeatures, inFeatures]);
    if (biased) shapes.set(`${path}.bias`, [outFeatures]);
  };
  const qkvBias = config.attentionBias !== 'none';
  const outBias = config.attentionBias === 'all';
  const norm = (path: string): void => {
    shapes.set(`${path}.weight`, [C]);
    if (config.norm === 'layerNorm' && bias) shapes.set(`${path}.bias`, [C]);
  };
  const body = names.body;
  shapes.set(`${body}.${names.embed}.weight`, [V, C]);
  if (config.positional.kind === 'learned') shapes.set(`${body}.${names.positions}.weight`, [blockSize, C]);
  for (let layer = 0; layer < config.nLayer; layer++) {
    const block = `${body}.${names.blocks}.${layer}`;
    norm(`${block}.${names.norm1}`);
    const attention = `${block}.${names.attention}`;
    const p = names.projections;
    if (p.kind === 'fused') {
      linear(`${attention}.${p.qkv}`, C, qWidth + 2 * kvWidth, qkvBias);
    } else {
      linear(`${attention}.${p.q}`, C, qWidth, qkvBias);
      linear(`${attention}.${p.k}`, C, kvWidth, qkvBias);
      linear(`${attention}.${p.v}`, C, kvWidth, qkvBias);
    }
    linear(`${attention}.${p.out}`, qWidth, C, outBias);
    if (config.qkNorm) {
      const qk = qkNormNames(names);
      shapes.set(`${attention}.${qk.q}.weight`, [hs]);
      shapes.set(`${attention}.${qk.k}.weight`, [hs]);
    }
    norm(`${block}.${names.norm2}`);
    const mlp = `${block}.${names.mlp}`;
    if (config.moe !== null) {
      for (const [path, shape] of moeParameterShapes(mlp, config, config.moe, names.moe!))
        shapes.set(path, shape);
      continue;
    }
    const m = names.mlpNames[config.mlp];
    if (m.kind === 'swiglu') linear(`${mlp}.${m.gate}`, C, hidden, config.mlpBias);
    linear(`${mlp}.${m.up}`, C, hidden, config.mlpBias);
    linear(`${mlp}.${m.down}`, hidden, C, config.mlpBias);
  }
  norm(`${body}.${names.finalNorm}`);
  if (config.head === 'sequence-classification') shapes.set('score.weight', [config.labels!.names.length, C]);
  else if (!config.tiedEmbeddings) shapes.set('lm_head.weight', [V, C]);
  return shapes;
}

/** Parameters and bytes of a decoder: its plan plus the RoPE / sinusoidal tables it builds. */
export function decoderSize(config: DecoderConfig): ModelSize {
  const positional = config.positional.kind;
  const tables =
    positional === 'rope'
      ? 2 * config.blockSize * config.headSize // cos and sin, (P, hs) each
      : positional === 'sinusoidal'
        ? config.blockSize * config.nEmbd
        : 0;
  return sizeOfPlan(parameterShapes(config), tables);
}
