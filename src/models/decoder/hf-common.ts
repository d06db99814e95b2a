/**
 * What the decoder presets' Hugging Face mappings (gpt2/hf.ts, hf-llama-style.ts) share: HF
 * activation names, RoPE's theta and scaling in both of transformers' spellings, the check
 * that the fields sizing the weights are given, the fields no family supports, and the one
 * error for HF fields lmforge cannot represent.
 *
 * Settings HF has no field for (sinusoidal positions, bias on/off for GPT-2, RMSNorm in a
 * GPT-2, ...) are stored under `lmforge_*` keys, written only when they differ from what
 * the architecture implies, so an HF-compatible model writes an HF-clean config and every
 * config round-trips exactly.
 */
import type { Activation, RopeScaling } from '../../nn/index.js';
import { ConfigError } from '../../util/errors.js';
import { labelsFromHf, labelsToHf } from '../heads/labels.js';
import type { DecoderConfig } from './config.js';
import { jsonText } from '../../util/preview.js';

/** A config.json object (snake_case keys, as HF writes it). */
export type HfConfigJson = Readonly<Record<string, unknown>>;

/** HF activation names (ACT2FN keys) for each lmforge activation. */
export const activationToHf: Readonly<Record<Activation, string>> = {
  gelu: 'gelu',
  geluTanh: 'gelu_new',
  relu: 'relu',
  silu: 'silu',
};

const activationFromHf: Readonly<Record<string, Activation>> = {
  gelu: 'gelu',
  gelu_new: 'geluTanh',
  gelu_pytorch_tanh: 'geluTanh',
  relu: 'relu',
  silu: 'silu',
  swish: 'silu',
};

/** The lmforge activation of HF field `field` (default `fallback`); an unknown name is added to `problems`. */
export function activationOf(c: HfConfigJson, field: string, fallback: string, problems: string[]): unknown {
  const name = c[field] ?? fallback;
  const mapped = typeof name === 'string' ? activationFromHf[name] : undefined;
  if (mapped === undefined) {
    problems.push(
      `${field}: expected one of ${Object.keys(activationFromHf).join(' | ')}, got ${jsonText(name)}`,
    );
  }
  return mapped;
}

/**
 * The raw `positional` setting: lmforge_positional, else the architecture's kind (with
 * theta and the scaling, lmforge's RopeScaling form, for rope).
 */
export function positionalOf(c: HfConfigJson, fallback: string, theta: unknown, scaling: unknown): unknown {
  const kind = c['lmforge_positional'] ?? fallback;
  return kind === 'rope' ? { kind, theta, scaling } : kind;
}

/** transformers' rope_type values lmforge computes (modeling_rope_utils.py ROPE_INIT_FUNCTIONS). */
const ropeTypes = ['default', 'linear', 'llama3', 'dynamic'];

/**
 * RoPE's theta and scaling from a config.json, in either of transformers' spellings:
 * `rope_theta` + `rope_scaling` (v4; `type` is the older name of `rope_type`) or
 * `rope_parameters` (v5: { rope_type, rope_theta, ...the scaling's fields }). The scaling
 * comes back in lmforge's RopeScaling form; what lmforge cannot compute is a problem:
 * - default: theta^(-2i/hs); linear: frequencies / factor; llama3: Llama 3.1's bands;
 * - dynamic (NTK): transformers recomputes the frequencies only for sequences longer than
 *   max_position_embeddings and uses the default ones up to it; lmforge never runs past
 *   max_position_embeddings, so 'dynamic' reads as default, exactly;
 * - yarn, longrope, mrope, ... and a partial_rotary_factor other than 1: rejected.
 * Keys transformers does not read for the given rope_type are ignored, as it ignores them.
 */
export function ropeFromHf(
  c: HfConfigJson,
  defaultTheta: number,
  problems: string[],
): { readonly theta: unknown; readonly scaling: unknown } {
  let theta = c['rope_theta'];
  let scaling = c['rope_scaling'];
  let field = 'rope_scaling';
  const parameters = c['rope_parameters'];
  if (parameters !== undefined && parameters !== null) {
    if (typeof parameters !== 'object' || Array.isArray(parameters)) {
      problems.push(`rope_parameters: expected an object, got ${jsonText(parameters)}`);
      return { theta: defaultTheta, scaling: undefined };
    }
    const p = parameters as Record<string, unknown>;
    if (scaling !== undefined && scaling !== null) {
      problems.push('rope_scaling: give the scaling once, in rope_parameters or in rope_scaling, not both');
    }
    if (theta !== undefined && p['rope_theta'] !== undefined && theta !== p['rope_theta']) {
      problems.push(
        `rope_theta: ${jsonText(theta)} disagrees with rope_parameters.rope_theta ${jsonText(p['rope_theta'])}`,
      );
    }
    theta = p['rope_theta'] ?? theta;
    scaling = p;
    field = 'rope_parameters';
  }
  const factor =
    c['partial_rotary_factor'] ??
    (field === 'rope_parameters' ? (scaling as Record<string, unknown>)['partial_rotary_factor'] : undefined);
  if (factor !== undefined && factor !== null && factor !== 1) {
    problems.push(
      `partial_rotary_factor: RoPE on part of each head is not supported, got ${jsonText(factor)}`,
    );
  }
  return { theta: theta ?? defaultTheta, scaling: ropeScalingFromHf(scaling, field, problems) };
}

function ropeScalingFromHf(raw: unknown, field: string, problems: string[]): unknown {
  if (raw === undefined || raw === null) return { kind: 'none' };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    problems.push(`${field}: expected an object or null, got ${jsonText(raw)}`);
    return undefined;
  }
  const s = raw as Record<string, unknown>;
  if (s['rope_type'] !== undefined && s['type'] !== undefined && s['rope_type'] !== s['type']) {
    problems.push(
      `${field}.type: disagrees with rope_type, got ${jsonText(s['type'])} and ${jsonText(s['rope_type'])}`,
    );
  }
  const type = s['rope_type'] ?? s['type'] ?? 'default';
  const positive = (key: string): number | undefined => {
    const value = s[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
    problems.push(`${field}.${key}: expected a number > 0, got ${jsonText(value)}`);
    return undefined;
  };
  switch (type) {
    case 'default':
    case 'dynamic':
      return { kind: 'none' };
    case 'linear':
      return { kind: 'linear', factor: positive('factor') };
    case 'llama3': {
      const scaling = {
        kind: 'llama3',
        factor: positive('factor'),
        lowFreqFactor: positive('low_freq_factor'),
        highFreqFactor: positive('high_freq_factor'),
        originalMaxPositions: positive('original_max_position_embeddings'),
      };
      if (
        scaling.lowFreqFactor !== undefined &&
        scaling.highFreqFactor !== undefined &&
        scaling.highFreqFactor <= scaling.lowFreqFactor
      ) {
        problems.push(
          `${field}.high_freq_factor: expected a number > low_freq_factor ${scaling.lowFreqFactor}, got ${scaling.highFreqFactor}`,
        );
      }
      return scaling;
    }
    default:
      problems.push(
        `${field}.rope_type: ${jsonText(type)} is not supported (supported: ${ropeTypes.join(', ')})`,
      );
      return undefined;
  }
}

/** A RopeScaling as config.json's rope_scaling (null for none). */
export function ropeToHf(scaling: RopeScaling): Record<string, unknown> | null {
  switch (scaling.kind) {
    case 'none':
      return null;
    case 'linear':
      return { rope_type: 'linear', factor: scaling.factor };
    case 'llama3':
      return {
        rope_type: 'llama3',
        factor: scaling.factor,
        low_freq_factor: scaling.lowFreqFactor,
        high_freq_factor: scaling.highFreqFactor,
        original_max_position_embeddings: scaling.originalMaxPositions,
      };
  }
}

/**
 * Fields of any family's config.json that change the model and that lmforge does not
 * implement, whatever the family: quantized weights, custom modeling code, pruned heads,
 * cross-attention added to a decoder, an encoder-decoder.
 */
export function rejectCommonUnsupported(c: HfConfigJson, problems: string[]): void {
  const present = (key: string): boolean => c[key] !== undefined && c[key] !== null;
  if (present('quantization_config')) {
    problems.push(
      'quantization_config: quantized checkpoints (bitsandbytes, GPTQ, AWQ, ...) are not supported',
    );
  }
  if (present('auto_map')) {
    problems.push(
      'auto_map: the model ships its own modeling code (trust_remote_code); lmforge runs only its built-in math',
    );
  }
  const pruned = c['pruned_heads'];
  if (typeof pruned === 'object' && pruned !== null && Object.keys(pruned).length > 0) {
    problems.push(`pruned_heads: pruned attention heads are not supported, got ${jsonText(pruned)}`);
  }
  if (c['add_cross_attention'] === true)
    problems.push('add_cross_attention: a decoder-only model has no cross-attention');
  if (c['is_encoder_decoder'] === true) problems.push('is_encoder_decoder: this family is decoder-only');
}

/**
 * The fields that size the weights: HF's own defaults for them describe GPT-2 small and
 * Llama-7B, which a config.json that leaves them out almost never means (and which would
 * be allocated before the weights could disagree), so they must be given.
 */
export function requireFields(
  c: HfConfigJson,
  required: readonly string[],
  modelType: string,
  where: string,
): void {
  const missing = required.filter((field) => c[field] === undefined || c[field] === null);
  if (missing.length > 0) {
    throw new ConfigError(`required field${missing.length === 1 ? '' : 's'} missing: ${missing.join(', ')}`, {
      where,
      hint: `a ${modelType} config.json must give the model's dimensions (${required.join(', ')})`,
    });
  }
}

/** Throws one ConfigError listing HF fields lmforge cannot represent. */
export function rejectUnsupported(problems: readonly string[], where: string): void {
  if (problems.length > 0) {
    throw new ConfigError(`${problems.length} unsupported field${problems.length === 1 ? '' : 's'}`, {
      where,
      actual: problems.join('; '),
    });
  }
}

/** The HF class names of a preset's heads (GPT2LMHeadModel, GPT2ForSequenceClassification). */
export interface DecoderClassNames {
  readonly causalLm: string;
  readonly sequenceClassification: string;
}

/**
 * The head fields of a raw DecoderConfig from config.json: `architectures` naming the
 * preset's *ForSequenceClassification class gives that head with its labels (id2label ...,
 * every inconsistency added to `problems`) and pad_token_id; any other class is the causal LM.
 */
export function decoderHeadFromHf(
  c: HfConfigJson,
  classes: DecoderClassNames,
  problems: string[],
): Record<string, unknown> {
  const architectures = c['architectures'];
  const classifies = Array.isArray(architectures) && architectures[0] === classes.sequenceClassification;
  if (!classifies) return { head: 'causal-lm' };
  return {
    head: 'sequence-classification',
    ...labelsFromHf(c, problems),
    padTokenId: c['pad_token_id'] ?? null,
  };
}

/** config.json's `architectures` and head fields for a DecoderConfig. */
export function decoderHeadToHf(config: DecoderConfig, classes: DecoderClassNames): Record<string, unknown> {
  if (config.head === 'causal-lm') return { architectures: [classes.causalLm] };
  return {
    architectures: [classes.sequenceClassification],
    ...labelsToHf(config.labels!),
    pad_token_id: config.padTokenId,
  };
}
