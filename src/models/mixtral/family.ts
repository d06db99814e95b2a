/**
 * The Mixtral family (MixtralForCausalLM): Llama blocks whose MLP is a sparse mixture of
 * experts (../../nn/layers/moe.ts), with Mixtral's names (./names.ts), defaults
 * (./config.ts) and config.json mapping (./hf.ts). It routes as Mixtral does by default:
 * top-2 of 8 experts, softmax over the two chosen logits.
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { mixtralFromHf, mixtralToHf } from './hf.js';

export const mixtralFamily = decoderFamily('mixtral', { fromHf: mixtralFromHf, toHf: mixtralToHf });

/**
 * Mixtral style: Llama's RoPE, RMSNorm and grouped-query attention, and in every block a
 * sparse MoE of SwiGLU experts (`intermediateSize` is each expert's hidden size).
 *
 * @example
 * const config = mixtralPreset({ vocabSize: 512, nLayer: 2, nHead: 4, nEmbd: 64, intermediateSize: 96,
 *   moe: { experts: 8, expertsPerToken: 2, auxLossCoef: 0.01 } });
 */
export function mixtralPreset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'mixtral' });
}
