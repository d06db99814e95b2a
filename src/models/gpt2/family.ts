/**
 * The GPT-2 family (GPT2LMHeadModel): the decoder-only model with GPT-2's names
 * (./names.ts), defaults (./config.ts) and config.json mapping (./hf.ts).
 */
import { resolveDecoderConfig, type DecoderConfig, type DecoderOverrides } from '../decoder/config.js';
import { decoderFamily } from '../decoder/family.js';
import { gpt2FromHf, gpt2ToHf } from './hf.js';

export const gpt2Family = decoderFamily('gpt2', { fromHf: gpt2FromHf, toHf: gpt2ToHf });

/**
 * GPT-2 style: learned positions, LayerNorm, GELU (tanh) MLP, biases, tied embeddings.
 *
 * @example
 * const config = gpt2Preset({ vocabSize: 65, nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, bias: false });
 */
export function gpt2Preset(overrides: DecoderOverrides = {}): DecoderConfig {
  return resolveDecoderConfig({ ...overrides, arch: 'gpt2' });
}
