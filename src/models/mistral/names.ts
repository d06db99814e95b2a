/**
 * MistralForCausalLM's checkpoint names: LlamaForCausalLM's (model.layers.N.self_attn.q_proj,
 * mlp.gate_proj, ...), which Mistral's modeling file keeps.
 */
import type { ArchNames } from '../decoder/names.js';
import { llamaNames } from '../llama/names.js';

export const mistralNames: ArchNames = llamaNames;
