/**
 * MixtralForCausalLM's checkpoint names: Llama's (../llama/names.ts) with the MLP slot named
 * `block_sparse_moe`, which holds the router `gate` and the `experts` list, each expert with
 * w1 (gate projection), w2 (down) and w3 (up) as in HF's MixtralBlockSparseTop2MLP. GELU
 * experts (lmforge_mlp 'gelu') use w1 (up) and w2 (down); shared experts (an lmforge
 * extension, DeepSeek-MoE style) sit beside them as `shared_experts` with the same names.
 */
import type { MoeNames } from '../../nn/index.js';
import type { ArchNames } from '../decoder/names.js';
import { llamaNames } from '../llama/names.js';

export const mixtralMoeNames: MoeNames = {
  router: 'gate',
  experts: 'experts',
  shared: 'shared_experts',
  expert: {
    swiglu: { kind: 'swiglu', gate: 'w1', up: 'w3', down: 'w2' },
    gelu: { kind: 'gelu', up: 'w1', down: 'w2' },
  },
};

export const mixtralNames: ArchNames = {
  ...llamaNames,
  mlp: 'block_sparse_moe',
  moe: mixtralMoeNames,
};
