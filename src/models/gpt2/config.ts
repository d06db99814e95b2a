/** The GPT-2 preset's defaults: every DecoderConfig field a GPT-2 config does not set. */
import type { DecoderDefaults } from '../decoder/config.js';

/** GPT-2 small (124M), as Hugging Face's GPT2Config defaults. */
export const gpt2Defaults: DecoderDefaults = {
  vocabSize: 50257,
  nLayer: 12,
  nHead: 12,
  nEmbd: 768,
  blockSize: 1024,
  positional: 'learned',
  ropeTheta: 10000,
  norm: 'layerNorm',
  normEps: 1e-5,
  mlp: 'gelu',
  activation: 'geluTanh',
  bias: true,
  tiedEmbeddings: true,
  dropout: 0,
  initStd: 0.02,
};
