/**
 * The Mistral family (MistralForCausalLM): the decoder-only model with Mistral's names (./names.ts),
 * defaults (./config.ts) and config.json mapping (./hf.ts).
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { mistralFromHf, mistralToHf } from './hf.js';

export const mistralFamily = decoderFamily('mistral', { fromHf: mistralFromHf, toHf: mistralToHf });

/**
 * Mistral style: Llama's block (RoPE, RMSNorm, SwiGLU, grouped-query attention, no biases) with a sliding attention window in every layer.
 *
 * @example
 * const config = mistralPreset({ vocabSize: 512, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, slidingWindow: 16 });
 */
export function mistralPreset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'mistral' });
}
