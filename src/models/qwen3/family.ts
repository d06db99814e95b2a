/**
 * The Qwen3 family (Qwen3ForCausalLM): the decoder-only model with Qwen3's names (./names.ts),
 * defaults (./config.ts) and config.json mapping (./hf.ts).
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { qwen3FromHf, qwen3ToHf } from './hf.js';

export const qwen3Family = decoderFamily('qwen3', { fromHf: qwen3FromHf, toHf: qwen3ToHf });

/**
 * Qwen3 style: Llama's block with an RMSNorm over each head of q and k before RoPE, and a head size of its own.
 *
 * @example
 * const config = qwen3Preset({ vocabSize: 512, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, headSize: 32 });
 */
export function qwen3Preset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'qwen3' });
}
