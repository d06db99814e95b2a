/**
 * The checkpoint names of the decoder family's architectures (GPT2LMHeadModel,
 * LlamaForCausalLM): the only place they are spelled out. The modules (./model.ts) and
 * the parameter plan (./shapes.ts) both build their paths from these.
 */
import type { AttentionProjections, LinearLayout, MlpNames } from '../../nn/index.js';
import type { DecoderArch } from './config.js';

/** The checkpoint names of each architecture: the only place they are spelled out. */
export interface ArchNames {
  readonly body: string;
  readonly embed: string;
  /** Learned positions; GPT-2's wpe. Llama has none in HF: lmforge-only name. */
  readonly positions: string;
  readonly blocks: string;
  readonly finalNorm: string;
  readonly norm1: string;
  readonly attention: string;
  readonly norm2: string;
  readonly mlp: string;
  readonly projections: AttentionProjections;
  /** GPT-2 stores its Conv1D weights (in, out); nn.Linear is (out, in). */
  readonly layout: LinearLayout;
  readonly mlpNames: { readonly gelu: MlpNames; readonly swiglu: MlpNames };
}

export const archNames: Readonly<Record<DecoderArch, ArchNames>> = {
  gpt2: {
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
  },
  llama: {
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
  },
};
