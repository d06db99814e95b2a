/**
 * The Mixtral preset's defaults, and MoeConfig: the sparse mixture-of-experts part of a
 * DecoderConfig (the MLP of every block becomes a SparseMoe, ../../nn/layers/moe.ts), with
 * its resolver (raw -> readonly, every bad field reported).
 */
import type { MoeRouting } from '../../nn/index.js';
import type { DecoderDefaults } from '../decoder/config.js';
import { jsonText } from '../../util/preview.js';

export interface MoeConfig {
  /** E: experts per layer (HF num_local_experts). */
  readonly experts: number;
  /** k: experts each token runs through (HF num_experts_per_tok). */
  readonly expertsPerToken: number;
  /** 'topk-softmax' (Mixtral: softmax over the k chosen logits) or 'softmax-topk' (Switch, GShard). */
  readonly routing: MoeRouting;
  /** Coefficient of the load-balancing loss in the objective (HF router_aux_loss_coef); 0 for none. */
  readonly auxLossCoef: number;
  /** Coefficient of the router z-loss (ST-MoE); 0 for none. */
  readonly zLossCoef: number;
  /** null: dropless; else each expert takes at most ceil(factor * tokens * k / E) assignments in training. */
  readonly capacityFactor: number | null;
  /** Dense experts every token also runs through (DeepSeek-MoE); 0 for none. */
  readonly sharedExperts: number;
  /** Router jitter noise in training (HF router_jitter_noise); 0 for none. */
  readonly jitter: number;
}

/** Tiny defaults to train on a CPU: the stories15M-sized Llama (../llama/config.ts) with MixtralConfig's norm epsilon and rope theta. */
export const mixtralDefaults: DecoderDefaults = {
  vocabSize: 32000,
  nLayer: 6,
  nHead: 6,
  nEmbd: 288,
  blockSize: 256,
  positional: 'rope',
  ropeTheta: 1e6,
  norm: 'rmsNorm',
  normEps: 1e-5,
  mlp: 'swiglu',
  activation: 'silu',
  bias: false,
  tiedEmbeddings: false,
  dropout: 0,
  initStd: 0.02,
};

/**
 * MixtralConfig's expert settings, except the load-balancing coefficient: 0.01, the Switch
 * Transformer's (HF's default 0.001 is for fine-tuning a balanced model; from scratch it lets
 * small routers collapse, test/models/router-collapse.test.ts). A config.json that leaves
 * router_aux_loss_coef out still gets HF's 0.001 (./hf.ts).
 */
export const moeDefaults: MoeConfig = {
  experts: 8,
  expertsPerToken: 2,
  routing: 'topk-softmax',
  auxLossCoef: 0.01,
  zLossCoef: 0,
  capacityFactor: null,
  sharedExperts: 0,
  jitter: 0,
};

/** Upper bound of the expert counts: above any published model (DeepSeek-V3: 256 routed experts). */
export const maxExperts = 2 ** 12;

const moeFields: Readonly<Record<keyof MoeConfig, true>> = {
  experts: true,
  expertsPerToken: true,
  routing: true,
  auxLossCoef: true,
  zLossCoef: true,
  capacityFactor: true,
  sharedExperts: true,
  jitter: true,
};

/**
 * Resolves a raw `moe` setting (an object of MoeConfig fields, any left out taking
 * `defaults`); each problem is pushed to `problems` under `label(field)` (a config.json key
 * for a converted HF config). Returns null when raw is not an object.
 */
export function resolveMoeConfig(
  raw: unknown,
  defaults: MoeConfig,
  label: (field: keyof MoeConfig) => string,
  problems: string[],
): MoeConfig | null {
  if (raw === undefined) return defaults;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`moe: expected an object of expert settings, got ${jsonText(raw)}`);
    return null;
  }
  const given = raw as Readonly<Record<string, unknown>>;
  for (const key of Object.keys(given))
    if (!Object.hasOwn(moeFields, key)) problems.push(`moe.${key}: unknown field`);
  const pick = (key: keyof MoeConfig): unknown => (given[key] === undefined ? defaults[key] : given[key]);
  const int = (key: keyof MoeConfig, min: number, max: number, range = `[${min}, ${max}]`): number => {
    const value = pick(key);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${label(key)}: expected an integer in ${range}, got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const real = (key: keyof MoeConfig, ok: (v: number) => boolean, range: string): number => {
    const value = pick(key);
    if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
      problems.push(`${label(key)}: expected a number ${range}, got ${jsonText(value)}`);
      return NaN;
    }
    return value;
  };
  const experts = int('experts', 1, maxExperts);
  const expertsPerToken = int(
    'expertsPerToken',
    1,
    Number.isNaN(experts) ? maxExperts : experts,
    `[1, ${Number.isNaN(experts) ? label('experts') : `${experts}`}] (at most ${label('experts')})`,
  );
  const routing = pick('routing');
  if (routing !== 'topk-softmax' && routing !== 'softmax-topk') {
    problems.push(
      `${label('routing')}: expected one of topk-softmax | softmax-topk, got ${jsonText(routing)}`,
    );
  }
  const auxLossCoef = real('auxLossCoef', (v) => v >= 0, '>= 0');
  const zLossCoef = real('zLossCoef', (v) => v >= 0, '>= 0');
  const rawFactor = pick('capacityFactor');
  const capacityFactor =
    rawFactor === null ? null : real('capacityFactor', (v) => v > 0, '> 0 (or null: dropless)');
  const sharedExperts = int('sharedExperts', 0, maxExperts);
  const jitter = real('jitter', (v) => v >= 0 && v < 1, 'in [0, 1)');
  return Object.freeze({
    experts,
    expertsPerToken,
    routing: routing as MoeRouting,
    auxLossCoef,
    zLossCoef,
    capacityFactor,
    sharedExperts,
    jitter,
  });
}
