/**
 * The Qwen2 family (Qwen2ForCausalLM): the decoder-only model with Qwen2's names (./names.ts),
 * defaults (./config.ts) and config.json mapping (./hf.ts).
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { qwen2FromHf, qwen2ToHf } from './hf.js';

export const qwen2Family = decoderFamily('qwen2', { fromHf: qwen2FromHf, toHf: qwen2ToHf });

/**
 * Qwen2 style: Llama's block with biases on q, k and v (none on o_proj or the MLP).
 *
 * @example
 * const config = qwen2Preset({ vocabSize: 512, nLayer: 2, nHead: 4, nKvHead: 2, nEmbd: 64, tiedEmbeddings: true });
 */
export function qwen2Preset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'qwen2' });
}
