/**
 * PEFT's LoRA adapter folder, as `PeftModel.save_pretrained` writes it and
 * `PeftModel.from_pretrained` reads it (formats only: which module a key names is the
 * model's business):
 *
 *   adapter_config.json          peft_type LORA, r, lora_alpha, lora_dropout, target_modules
 *                                (module names, or one regex), fan_in_fan_out (GPT-2 Conv1D),
 *                                use_rslora, rank_pattern / alpha_pattern, modules_to_save,
 *                                base_model_name_or_path, task_type, ...
 *   adapter_model.safetensors    base_model.model.<module path>.lora_A.weight  (r, in)
 *                                base_model.model.<module path>.lora_B.weight  (out, r)
 *                                base_model.model.<parameter path>              saved base weights
 *                                (PEFT's saved-embeddings convention: a resized
 *                                model.embed_tokens.weight and lm_head.weight)
 *
 * PEFT saves without the adapter's name; a key that still has it (`lora_A.default.weight`)
 * is read the same. LoRA variants lmforge does not compute (DoRA, embedding or
 * convolution adapters, layer subsets, bias training) are refused by name.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../tensor/index.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { FormatError } from '../util/errors.js';
import { readSafetensorsFile, writeSafetensorsFile } from './safetensors-file.js';
import { jsonText } from '../util/preview.js';

export const adapterConfigFileName = 'adapter_config.json';
export const adapterWeightsFileName = 'adapter_model.safetensors';
/** The prefix PeftModel puts before the base model's own paths. */
export const peftPrefix = 'base_model.model.';

/** adapter_config.json's LoRA fields, camelCase, checked. */
export interface PeftLoraConfig {
  readonly r: number;
  readonly loraAlpha: number;
  readonly loraDropout: number;
  /** Module names (matched as path suffixes) or one regex (matched against the whole path). */
  readonly targetModules: readonly string[] | { readonly regex: string };
  /** True when the adapted layers store (in, out) weights (GPT-2's Conv1D). */
  readonly fanInFanOut: boolean;
  readonly useRslora: boolean;
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  /** Modules trained fully and saved with the adapter (null: none). */
  readonly modulesToSave: readonly string[] | null;
  readonly baseModelNameOrPath: string | null;
  readonly taskType: string | null;
}

/** A LoRA tensor key: the module it adapts and which matrix; a saved base weight; or neither. */
export type PeftKey =
  | { readonly kind: 'lora'; readonly module: string; readonly matrix: 'A' | 'B' }
  | { readonly kind: 'base'; readonly parameter: string }
  | { readonly kind: 'unknown' };

/** `base_model.model.<module>.lora_A.weight` */
export function peftLoraKey(module: string, matrix: 'A' | 'B'): string {
  return `${peftPrefix}${module}.lora_${matrix}.weight`;
}

/** `base_model.model.<parameter>` (a saved base weight, e.g. model.embed_tokens.weight) */
export function peftBaseKey(parameter: string): string {
  return `${peftPrefix}${parameter}`;
}

const LORA_KEY = /^(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/;

export function parsePeftKey(key: string): PeftKey {
  if (!key.startsWith(peftPrefix)) return { kind: 'unknown' };
  const path = key.slice(peftPrefix.length);
  const lora = LORA_KEY.exec(path);
  if (lora !== null) return { kind: 'lora', module: lora[1]!, matrix: lora[2] as 'A' | 'B' };
  if (/\.lora_[A-Za-z_]+\b/.test(path) || /\.lora_magnitude_vector\b/.test(path)) return { kind: 'unknown' };
  return { kind: 'base', parameter: path };
}

type Raw = Readonly<Record<string, unknown>>;

/**
 * adapter_config.json (parsed JSON) as a PeftLoraConfig; every bad or unsupported field is
 * listed in one FormatError naming the file.
 */
export function parseAdapterConfig(json: unknown, where = adapterConfigFileName): PeftLoraConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError('adapter_config.json must hold a JSON object', { where });
  }
  const raw = json as Raw;
  const problems: string[] = [];
  const number = (
    key: string,
    fallback: number | undefined,
    ok: (v: number) => boolean,
    range: string,
  ): number => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'number' || !ok(value)) {
      problems.push(`${key} must be ${range} (got ${jsonText(value)})`);
      return NaN;
    }
    return value;
  };
  const boolean = (key: string): boolean => {
    const value = raw[key] ?? false;
    if (typeof value !== 'boolean') problems.push(`${key} must be true or false (got ${jsonText(value)})`);
    return value === true;
  };
  const stringOrNull = (key: string): string | null => {
    const value = raw[key] ?? null;
    if (value !== null && typeof value !== 'string') problems.push(`${key} must be a string or null`);
    return typeof value === 'string' ? value : null;
  };
  const pattern = (key: string): Record<string, number> => {
    const value = raw[key] ?? {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${key} must be an object of module pattern -> number`);
      return {};
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'number') problems.push(`${key}[${k}] must be a number (got ${jsonText(v)})`);
    }
    return value as Record<string, number>;
  };
  if (raw['peft_type'] !== 'LORA') {
    problems.push(`peft_type must be "LORA" (got ${jsonText(raw['peft_type'])})`);
  }
  const r = number('r', undefined, (v) => Number.isSafeInteger(v) && v >= 1, 'an integer >= 1');
  const loraAlpha = number('lora_alpha', 8, (v) => Number.isFinite(v) && v > 0, '> 0');
  const loraDropout = number('lora_dropout', 0, (v) => v >= 0 && v < 1, 'in [0, 1)');
  const targets = raw['target_modules'];
  let targetModules: PeftLoraConfig['targetModules'] = [];
  if (typeof targets === 'string') targetModules = { regex: targets };
  else if (Array.isArray(targets) && targets.length > 0 && targets.every((t) => typeof t === 'string')) {
    targetModules = targets as string[];
  } else {
    problems.push(
      `target_modules must be a non-empty list of module names or a regex (got ${jsonText(targets)})`,
    );
  }
  const modules = raw['modules_to_save'] ?? null;
  if (modules !== null && !(Array.isArray(modules) && modules.every((m) => typeof m === 'string'))) {
    problems.push('modules_to_save must be a list of module names or null');
  }
  // What lmforge does not compute: refused rather than silently ignored.
  const unsupported: Array<[string, (v: unknown) => boolean]> = [
    ['use_dora', (v) => v === true],
    ['bias', (v) => v !== undefined && v !== 'none'],
    ['layers_to_transform', (v) => v !== undefined && v !== null],
    ['layer_replication', (v) => v !== undefined && v !== null],
    ['target_parameters', (v) => Array.isArray(v) && v.length > 0],
    ['trainable_token_indices', (v) => v !== undefined && v !== null],
  ];
  for (const [key, isSet] of unsupported) {
    if (isSet(raw[key])) problems.push(`${key} ${jsonText(raw[key])} is not supported by lmforge`);
  }
  const config: PeftLoraConfig = {
    r,
    loraAlpha,
    loraDropout,
    targetModules,
    fanInFanOut: boolean('fan_in_fan_out'),
    useRslora: boolean('use_rslora'),
    rankPattern: pattern('rank_pattern'),
    alphaPattern: pattern('alpha_pattern'),
    modulesToSave: Array.isArray(modules) ? (modules as string[]) : null,
    baseModelNameOrPath: stringOrNull('base_model_name_or_path'),
    taskType: stringOrNull('task_type'),
  };
  if (problems.length > 0) {
    throw new FormatError(`${problems.length} invalid field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
  return config;
}

/** The adapter_config.json object PEFT writes for a LoRA adapter (PEFT 0.13's fields). */
export function adapterConfigToJson(config: PeftLoraConfig): Record<string, unknown> {
  const targets = config.targetModules;
  return {
    alpha_pattern: config.alphaPattern,
    auto_mapping: null,
    base_model_name_or_path: config.baseModelNameOrPath,
    bias: 'none',
    fan_in_fan_out: config.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_dropout: config.loraDropout,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: config.rankPattern,
    revision: null,
    target_modules: Array.isArray(targets)
      ? [...(targets as readonly string[])]
      : (targets as { regex: string }).regex,
    task_type: config.taskType,
    use_dora: false,
    use_rslora: config.useRslora,
  };
}

export interface PeftAdapterFiles {
  readonly config: PeftLoraConfig;
  /** Tensors by their PEFT key. */
  readonly tensors: Map<string, Tensor>;
  readonly configPath: string;
  readonly weightsPath: string;
}

/** Reads a PEFT adapter folder; a missing or malformed file is a FormatError naming it. */
export async function readPeftAdapter(dir: string): Promise<PeftAdapterFiles> {
  const configPath = join(dir, adapterConfigFileName);
  let text: string;
  try {
    text = await readFile(configPath, 'utf8');
  } catch (error) {
    throw new FormatError('not a PEFT adapter folder (no adapter_config.json)', {
      where: configPath,
      hint: 'an adapter folder is what `lmforge finetune --lora R` writes, or PEFT save_pretrained',
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FormatError('not valid JSON', {
      where: configPath,
      actual: (error as Error).message,
      cause: error,
    });
  }
  const config = parseAdapterConfig(json, configPath);
  const weightsPath = join(dir, adapterWeightsFileName);
  const { tensors } = await readSafetensorsFile(weightsPath);
  return { config, tensors, configPath, weightsPath };
}

/** Writes adapter_config.json and adapter_model.safetensors into `dir` (which must exist). */
export async function writePeftAdapter(
  dir: string,
  config: PeftLoraConfig,
  tensors: ReadonlyMap<string, Tensor>,
): Promise<void> {
  await writeSafetensorsFile(join(dir, adapterWeightsFileName), tensors, { format: 'pt' });
  await writeFileAtomic(
    join(dir, adapterConfigFileName),
    `${JSON.stringify(adapterConfigToJson(config), null, 2)}\n`,
  );
}
