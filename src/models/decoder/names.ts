/**
 * The checkpoint names a decoder-only preset gives its modules, and the table of every
 * preset's names (gpt2/names.ts, llama/names.ts, mixtral/names.ts, ...). The blocks (../blocks/) and the
 * parameter plan (./shapes.ts) both build their paths from these.
 */
import type { AttentionProjections, LinearLayout, MlpNames, MoeNames } from '../../nn/index.js';
import { gpt2Names } from '../gpt2/names.js';
import { llamaNames } from '../llama/names.js';
import { mistralNames } from '../mistral/names.js';
import { qwen2Names } from '../qwen2/names.js';
import { qwen3Names } from '../qwen3/names.js';
import { mixtralNames } from '../mixtral/names.js';
import type { DecoderArch } from './config.js';

export interface ArchNames {
  /** The body module; also HF's base_model_prefix. */
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
  /** The per-head q/k norms below the attention (Qwen3's q_norm, k_norm), for configs with qkNorm. */
  readonly qkNorm?: { readonly q: string; readonly k: string };
  /** The names inside a sparse MoE block (presets with MoE layers: mixtral). */
  readonly moe?: MoeNames;
  /** Checkpoint keys that hold buffers, not weights: skipped on load. */
  readonly bufferKeys: readonly RegExp[];
}

export const archNames: Readonly<Record<DecoderArch, ArchNames>> = {
  gpt2: gpt2Names,
  llama: llamaNames,
  mistral: mistralNames,
  qwen2: qwen2Names,
  qwen3: qwen3Names,
  mixtral: mixtralNames,
};

/** The q/k norm names of `arch`; a preset without its own uses q_norm / k_norm (lmforge-only then). */
export function qkNormNames(names: ArchNames): { readonly q: string; readonly k: string } {
  return names.qkNorm ?? { q: 'q_norm', k: 'k_norm' };
}
