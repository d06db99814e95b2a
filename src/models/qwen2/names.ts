/**
 * Qwen2ForCausalLM's checkpoint names: LlamaForCausalLM's (model.layers.N.self_attn.q_proj
 * with its bias, mlp.gate_proj, ...), which Qwen2's modeling file keeps.
 */
import type { ArchNames } from '../decoder/names.js';
import { llamaNames } from '../llama/names.js';

export const qwen2Names: ArchNames = llamaNames;
