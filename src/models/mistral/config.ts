/** The Mistral preset's defaults: every DecoderConfig field a Mistral config does not set. */
import type { DecoderDefaults } from '../decoder/config.js';
import { llamaDefaults } from '../llama/config.js';

/** Llama's small CPU shape with Mistral's choices: RMSNorm eps 1e-6 and a 4096-token sliding window. */
export const mistralDefaults: DecoderDefaults = { ...llamaDefaults, normEps: 1e-6, slidingWindow: 4096 };
