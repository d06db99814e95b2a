/**
 * Qwen3ForCausalLM's checkpoint names: LlamaForCausalLM's plus the per-head norms
 * model.layers.N.self_attn.q_norm / k_norm.
 */
import type { ArchNames } from '../decoder/names.js';
import { llamaNames } from '../llama/names.js';

export const qwen3Names: ArchNames = { ...llamaNames, qkNorm: { q: 'q_norm', k: 'k_norm' } };
