/**
 * LlamaForCausalLM's checkpoint names: the only place they are spelled out. Module paths
 * (blocks/) and the parameter plan (decoder/shapes.ts) are built from these.
 */
import type { ArchNames } from '../decoder/names.js';

export const llamaNames: ArchNames = {
  body: 'model',
  embed: 'embed_tokens',
  positions: 'embed_positions',
  blocks: 'layers',
  finalNorm: 'norm',
  norm1: 'input_layernorm',
  attention: 'self_attn',
  norm2: 'post_attention_layernorm',
  mlp: 'mlp',
  projections: { kind: 'separate', q: 'q_proj', k: 'k_proj', v: 'v_proj', out: 'o_proj' },
  layout: 'outIn',
  mlpNames: {
    gelu: { kind: 'gelu', up: 'up_proj', down: 'down_proj' },
    swiglu: { kind: 'swiglu', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' },
  },
  // Recomputed from rope_theta.
  bufferKeys: [/^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/],
};
