/**
 * The true layout differences between lmforge's parameters and Hugging Face checkpoints.
 * Parameter paths already equal the HF keys and GPT-2's Conv1D weights are used in their
 * stored (in, out) layout (see nn/layers/linear.ts), so no tensor is renamed or transposed;
 * what remains is which keys exist in a file but not as parameters.
 */
import type { Tensor } from '../../tensor/index.js';
import type { DecoderConfig } from './config.js';

/**
 * HF keys that hold buffers, not weights, and are skipped on load:
 * - GPT-2: `transformer.h.N.attn.bias` (the causal mask, (1, 1, P, P)) and
 *   `transformer.h.N.attn.masked_bias` (the -1e4 fill value), saved by older transformers;
 * - Llama: `model.layers.N.self_attn.rotary_emb.inv_freq`, recomputed from rope_theta.
 */
const bufferKeys: readonly RegExp[] = [
  /^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/,
  /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/,
];

/** HF's base_model_prefix: the body module's name inside the *ForCausalLM model. */
const basePrefix: Readonly<Record<DecoderConfig['arch'], string>> = { gpt2: 'transformer.', llama: 'model.' };

/**
 * The checkpoint tensors to load as parameters: buffer keys dropped, and with tied
 * embeddings `lm_head.weight` dropped too (HF ties it to the token embedding, and some
 * checkpoints store the copy anyway). A checkpoint saved from the bare body (GPT2Model,
 * LlamaModel; the original `gpt2` checkpoint has `h.0.attn.c_attn.weight`, `wte.weight`)
 * gets the base-model prefix that from_pretrained would add.
 */
export function parametersFromCheckpoint(
  config: DecoderConfig,
  tensors: ReadonlyMap<string, Tensor>,
): Map<string, Tensor> {
  const prefix = basePrefix[config.arch];
  const bare = ![...tensors.keys()].some((key) => key.startsWith(prefix));
  const out = new Map<string, Tensor>();
  for (const [stored, tensor] of tensors) {
    const key = bare && stored !== 'lm_head.weight' ? prefix + stored : stored;
    if (bufferKeys.some((pattern) => pattern.test(key))) continue;
    if (config.tiedEmbeddings && key === 'lm_head.weight') continue;
    out.set(key, tensor);
  }
  return out;
}

/**
 * The tensors to save: the parameters by path. A tied head is one tensor reachable under
 * the embedding's path only, so `lm_head.weight` is not written, as HF does.
 */
export function checkpointFromParameters(named: ReadonlyArray<[string, Tensor]>): Map<string, Tensor> {
  return new Map(named);
}
