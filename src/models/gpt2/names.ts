/**
 * GPT2LMHeadModel's checkpoint names: the only place they are spelled out. Module paths
 * (blocks/) and the parameter plan (decoder/shapes.ts) are built from these.
 */
import type { ArchNames } from '../decoder/names.js';

export const gpt2Names: ArchNames = {
  body: 'transformer',
  embed: 'wte',
  positions: 'wpe',
  blocks: 'h',
  finalNorm: 'ln_f',
  norm1: 'ln_1',
  attention: 'attn',
  norm2: 'ln_2',
  mlp: 'mlp',
  projections: { kind: 'fused', qkv: 'c_attn', out: 'c_proj' },
  layout: 'inOut',
  mlpNames: {
    gelu: { kind: 'gelu', up: 'c_fc', down: 'c_proj' },
    // Not an HF architecture (GPT-2 has no gated MLP): lmforge-only name for the gate.
    swiglu: { kind: 'swiglu', gate: 'c_gate', up: 'c_fc', down: 'c_proj' },
  },
  // The causal mask (1, 1, P, P) and its -1e4 fill value, saved by older transformers.
  bufferKeys: [/^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/],
};
