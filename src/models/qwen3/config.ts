/** The Qwen3 preset's defaults: every DecoderConfig field a Qwen3 config does not set. */
import type { DecoderDefaults } from '../decoder/config.js';
import { llamaDefaults } from '../llama/config.js';

/** Llama's small CPU shape with Qwen3's choices: per-head q/k RMSNorm, RMSNorm eps 1e-6. */
export const qwen3Defaults: DecoderDefaults = { ...llamaDefaults, normEps: 1e-6, qkNorm: true };
