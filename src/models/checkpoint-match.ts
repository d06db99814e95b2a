/**
 * Checkpoint tensors <-> model parameters for any registered family: which stored key
 * loads into which parameter path (the family's checkpointKeys), and the check of a
 * checkpoint's header against the parameter plan its config implies.
 */
import type { Tensor } from '../tensor/index.js';
import { floatDTypes, type SafetensorsEntry } from '../io/index.js';
import { FormatError } from '../util/errors.js';
import type { ModelConfig } from './model.js';
import { familyOf } from './registry.js';

/** The checkpoint keys to load as parameters, by parameter path (buffers and tied copies dropped). */
export function parameterKeys(config: ModelConfig, stored: readonly string[]): Map<string, string> {
  return familyOf(config.arch).checkpointKeys(config, stored);
}

/** The checkpoint tensors to load as parameters, by parameter path (see parameterKeys). */
export function parametersFromCheckpoint(
  config: ModelConfig,
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
 * data for every (float) weight; a persistent buffer (the family's bufferShapes) may be
 * absent, and is checked like a weight when present. One FormatError at `where` lists the
 * mismatches, each naming the tensor, its shape in the file and the shape the config
 * implies. Returns the entry to load into each parameter (and present buffer) path.
 */
export function matchCheckpoint(
  config: ModelConfig,
  entries: readonly SafetensorsEntry[],
  where: string,
): Map<string, SafetensorsEntry> {
  const family = familyOf(config.arch);
  const plan = family.parameterShapes(config);
  const buffers = family.bufferShapes?.(config) ?? new Map<string, readonly number[]>();
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const keys = parameterKeys(config, [...byName.keys()]);
  const problems: string[] = [];
  const matched = new Map<string, SafetensorsEntry>();
  for (const [path, shape] of [...plan, ...buffers]) {
    const key = keys.get(path);
    if (key === undefined && buffers.has(path)) continue;
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
    if (!plan.has(path) && !buffers.has(path))
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
 * The tensors to save: the parameters (and persistent buffers: pass model.stateDict()) by
 * path. A tied head is one tensor reachable under the embedding's path only, so
 * `lm_head.weight` is not written, as HF does.
 */
export function checkpointFromParameters(
  named: ReadonlyArray<[string, Tensor]> | ReadonlyMap<string, Tensor>,
): Map<string, Tensor> {
  return new Map(named);
}
