/** The Qwen2 preset's defaults: every DecoderConfig field a Qwen2 config does not set. */
import type { DecoderDefaults } from '../decoder/config.js';
import { llamaDefaults } from '../llama/config.js';

/** Llama's small CPU shape with Qwen2's choices: biases on q/k/v only, RMSNorm eps 1e-6. */
export const qwen2Defaults: DecoderDefaults = {
  ...llamaDefaults,
  normEps: 1e-6,
  attentionBias: 'qkv',
  mlpBias: false,
};
