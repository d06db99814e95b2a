/**
 * The parameter plan of a sparse MoE block (in SparseMoe's registration order: router, then
 * each expert's projections, then the shared experts), and the parameters a token uses.
 */
import type { MoeNames } from '../../nn/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import type { MoeConfig } from './config.js';

/** Path -> shape of the MoE block at `path` (e.g. model.layers.0.block_sparse_moe). */
export function moeParameterShapes(
  path: string,
  config: DecoderConfig,
  moe: MoeConfig,
  names: MoeNames,
): Array<[string, number[]]> {
  const { nEmbd: C, intermediateSize: H } = config;
  const m = names.expert[config.mlp];
  // (name, out, in) of one expert's projections, (out, in) weights as nn.Linear
  const projections = (hidden: number): Array<[string, number, number]> => [
    ...(m.kind === 'swiglu' ? [[m.gate, hidden, C] as [string, number, number]] : []),
    [m.up, hidden, C],
    [m.down, C, hidden],
  ];
  const shapes: Array<[string, number[]]> = [[`${path}.${names.router}.weight`, [moe.experts, C]]];
  for (let e = 0; e < moe.experts; e++) {
    for (const [name, out, inF] of projections(H))
      shapes.push([`${path}.${names.experts}.${e}.${name}.weight`, [out, inF]]);
  }
  if (moe.sharedExperts > 0) {
    for (const [name, out, inF] of projections(moe.sharedExperts * H))
      shapes.push([`${path}.${names.shared}.${name}.weight`, [out, inF]]);
  }
  return shapes;
}

/** Parameters one token runs through: the total less the unchosen experts' (E - k per layer). */
export function activeParameters(config: DecoderConfig, total: number): number {
  const moe = config.moe;
  if (moe === null) return total;
  const perExpert = (config.mlp === 'swiglu' ? 3 : 2) * config.nEmbd * config.intermediateSize;
  return total - config.nLayer * (moe.experts - moe.expertsPerToken) * perExpert;
}
