/**
 * The true layout differences between lmforge's parameters and Hugging Face checkpoints.
 * Parameter paths already equal the HF keys and GPT-2's Conv1D weights are used in their
 * stored (in, out) layout (see nn/layers/linear.ts), so no tensor is renamed or transposed;
 * what remains is which keys exist in a file but not as parameters: buffers (each
 * preset's ArchNames.bufferKeys), a tied head's copy, and the prefix of a bare body.
 */
import type { DecoderConfig } from './config.js';
import { archNames } from './names.js';

/**
 * The checkpoint keys to load as parameters, by parameter path: buffer keys dropped, and
 * with tied embeddings `lm_head.weight` dropped too (HF ties it to the token embedding,
 * and some checkpoints store the copy anyway). A checkpoint saved from the bare body
 * (GPT2Model, LlamaModel; HF's base_model_prefix is the body's name; the original `gpt2` checkpoint has `h.0.attn.c_attn.weight`,
 * `wte.weight`) gets the base-model prefix that from_pretrained would add.
 */
export function decoderCheckpointKeys(config: DecoderConfig, stored: readonly string[]): Map<string, string> {
  const names = archNames[config.arch];
  const prefix = `${names.body}.`;
  const bare = !stored.some((key) => key.startsWith(prefix));
  const out = new Map<string, string>();
  for (const key of stored) {
    const path = bare && key !== 'lm_head.weight' ? prefix + key : key;
    if (names.bufferKeys.some((pattern) => pattern.test(path))) continue;
    if (config.tiedEmbeddings && path === 'lm_head.weight') continue;
    out.set(path, key);
  }
  return out;
}
