/**
 * The true layout differences between lmforge's parameters and Hugging Face checkpoints.
 * Parameter paths already equal the HF keys and GPT-2's Conv1D weights are used in their
 * stored (in, out) layout (see nn/layers/linear.ts), so no tensor is renamed or transposed;
 * what remains is which keys exist in a file but not as parameters.
 */
import type { Tensor } from '../../tensor/index.js';
import { floatDTypes, type SafetensorsEntry } from '../../io/index.js';
import { FormatError } from '../../util/errors.js';
import type { DecoderConfig } from './config.js';
import { parameterShapes } from './shapes.js';

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
 * The checkpoint keys to load as parameters, by parameter path: buffer keys dropped, and
 * with tied embeddings `lm_head.weight` dropped too (HF ties it to the token embedding,
 * and some checkpoints store the copy anyway). A checkpoint saved from the bare body
 * (GPT2Model, LlamaModel; the original `gpt2` checkpoint has `h.0.attn.c_attn.weight`,
 * `wte.weight`) gets the base-model prefix that from_pretrained would add.
 */
export function parameterKeys(config: DecoderConfig, stored: readonly string[]): Map<string, string> {
  const prefix = basePrefix[config.arch];
  const bare = !stored.some((key) => key.startsWith(prefix));
  const out = new Map<string, string>();
  for (const key of stored) {
    const path = bare && key !== 'lm_head.weight' ? prefix + key : key;
    if (bufferKeys.some((pattern) => pattern.test(path))) continue;
    if (config.tiedEmbeddings && path === 'lm_head.weight') continue;
    out.set(path, key);
  }
  return out;
}

/** The checkpoint tensors to load as parameters, by parameter path (see parameterKeys). */
export function parametersFromCheckpoint(
  config: DecoderConfig,
  tensors: ReadonlyMap<string, Tensor>,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [path, key] of parameterKeys(config, [...tensors.keys()])) out.set(path, tensors.get(key)!);
  return out;
}

/** At most this many mismatches are spelled out in one error. */
const shownProblems = 8;

const showShape = (shape: readonly number[]): string => `(${shape.join(', ')})`;

/**
 * Checks a checkpoint's header against the parameters `config` implies, before anything
 * is allocated: every parameter present, nothing unexpected, every shape equal, float
 * data for every (float) weight. One FormatError at `where` lists the mismatches, each
 * naming the tensor, its shape in the file and the shape the config implies. Returns the
 * entry to load into each parameter path.
 */
export function matchCheckpoint(
  config: DecoderConfig,
  entries: readonly SafetensorsEntry[],
  where: string,
): Map<string, SafetensorsEntry> {
  const plan = parameterShapes(config);
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const keys = parameterKeys(config, [...byName.keys()]);
  const problems: string[] = [];
  const matched = new Map<string, SafetensorsEntry>();
  for (const [path, shape] of plan) {
    const key = keys.get(path);
    if (key === undefined) {
      const tied = path === 'lm_head.weight' ? ' (config.json has tie_word_embeddings false)' : '';
      problems.push(`${path}: missing, config.json implies ${showShape(shape)}${tied}`);
      continue;
    }
    const entry = byName.get(key)!;
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${key}: ${showShape(entry.shape)} in the file, config.json implies ${showShape(shape)}`);
    } else if (!floatDTypes.has(entry.dtype)) {
      problems.push(`${key}: dtype ${entry.dtype}, a float weight needs F32, F64, F16 or BF16`);
    }
    matched.set(path, entry);
  }
  for (const [path, key] of keys) {
    if (!plan.has(path))
      problems.push(
        `${key}: unexpected ${showShape(byName.get(key)!.shape)}, config.json has no such weight`,
      );
  }
  if (problems.length > 0) {
    const more = problems.length > shownProblems ? `; and ${problems.length - shownProblems} more` : '';
    throw new FormatError(
      `${problems.length} tensor${problems.length === 1 ? '' : 's'} disagree${problems.length === 1 ? 's' : ''} with config.json`,
      {
        where,
        actual: problems.slice(0, shownProblems).join('; ') + more,
        hint: 'the weights and config.json come from different models',
      },
    );
  }
  return matched;
}

/**
 * The tensors to save: the parameters by path. A tied head is one tensor reachable under
 * the embedding's path only, so `lm_head.weight` is not written, as HF does.
 */
export function checkpointFromParameters(named: ReadonlyArray<[string, Tensor]>): Map<string, Tensor> {
  return new Map(named);
}
