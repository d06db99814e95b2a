/**
 * The Llama family (LlamaForCausalLM): the decoder-only model with Llama's names
 * (./names.ts), defaults (./config.ts) and config.json mapping (./hf.ts).
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { llamaFromHf, llamaToHf } from './hf.js';

export const llamaFamily = decoderFamily('llama', { fromHf: llamaFromHf, toHf: llamaToHf });

/**
 * Llama style: RoPE, RMSNorm, SwiGLU MLP, grouped-query attention, untied head.
 *
 * @example
 * const config = llamaPreset({ vocabSize: 512, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64 });
 */
export function llamaPreset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'llama' });
}
