/** The Llama preset's defaults: every DecoderConfig field a Llama config does not set. */
import type { DecoderDefaults } from '../decoder/config.js';

/** llama2.c's stories15M shape (a Llama small enough to train and run on a CPU). */
export const llamaDefaults: DecoderDefaults = {
  vocabSize: 32000,
  nLayer: 6,
  nHead: 6,
  nEmbd: 288,
  blockSize: 256,
  positional: 'rope',
  ropeTheta: 10000,
  norm: 'rmsNorm',
  normEps: 1e-5,
  mlp: 'swiglu',
  activation: 'silu',
  bias: false,
  tiedEmbeddings: false,
  dropout: 0,
  initStd: 0.02,
};
