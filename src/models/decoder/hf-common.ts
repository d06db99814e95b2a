/**
 * What the decoder presets' Hugging Face mappings (gpt2/hf.ts, llama/hf.ts) share: HF
 * activation names, the check that the fields sizing the weights are given, and the one
 * error for HF fields lmforge cannot represent.
 *
 * Settings HF has no field for (sinusoidal positions, bias on/off for GPT-2, RMSNorm in a
 * GPT-2, ...) are stored under `lmforge_*` keys, written only when they differ from what
 * the architecture implies, so an HF-compatible model writes an HF-clean config and every
 * config round-trips exactly.
 */
import type { Activation } from '../../nn/index.js';
import { ConfigError } from '../../util/errors.js';
import { labelsFromHf, labelsToHf } from '../heads/labels.js';
import type { DecoderConfig } from './config.js';

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
      `${field}: expected one of ${Object.keys(activationFromHf).join(' | ')}, got ${JSON.stringify(name)}`,
    );
  }
  return mapped;
}

/** The raw `positional` setting: lmforge_positional, else the architecture's kind (with theta for rope). */
export function positionalOf(c: HfConfigJson, fallback: string, theta: unknown): unknown {
  const kind = c['lmforge_positional'] ?? fallback;
  return kind === 'rope' ? { kind, theta } : kind;
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
