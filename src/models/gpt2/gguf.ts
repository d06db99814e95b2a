/**
 * GPT2LMHeadModel <-> GGUF architecture `gpt2`, as llama.cpp's converter writes it and
 * src/models/gpt2.cpp reads it: keys `gpt2.*` (attention.layer_norm_epsilon, ...), tensors
 * token_embd, position_embd, blk.N.{attn_norm, attn_qkv, attn_output, ffn_norm, ffn_up,
 * ffn_down} (weight and bias each), output_norm, output (absent when tied). The fused
 * c_attn keeps its q | k | v order; every Conv1D weight, stored (in, out), is transposed
 * to ggml's (out, in) rows as the converter does.
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import type { DecoderConfig } from '../decoder/config.js';
import {
  checkRepresentable,
  commonFromGguf,
  commonKeys,
  decoderTensorPlan,
  ggufFieldNames,
  ggufFloat32,
  resolveFromGguf,
  splitPath,
} from '../decoder/gguf-common.js';
import type { GgufLayout, GgufMapping, GgufTensorPlan } from '../gguf-mapping.js';

const architecture = 'gpt2';
const epsKey = 'attention.layer_norm_epsilon';

/** Module path inside a block -> ggml tensor name, and whether its weight is a Conv1D. */
const layerTensors: Readonly<Record<string, readonly [string, boolean]>> = {
  ln_1: ['attn_norm', false],
  'attn.c_attn': ['attn_qkv', true],
  'attn.c_proj': ['attn_output', true],
  ln_2: ['ffn_norm', false],
  'mlp.c_fc': ['ffn_up', true],
  'mlp.c_proj': ['ffn_down', true],
};

const outerTensors: Readonly<Record<string, string>> = {
  'wte.weight': 'token_embd.weight',
  'wpe.weight': 'position_embd.weight',
  'ln_f.weight': 'output_norm.weight',
  'ln_f.bias': 'output_norm.bias',
  'lm_head.weight': 'output.weight',
};

function tensorOf(config: DecoderConfig, path: string): { name: string; layout: GgufLayout } {
  const [layer, inner] = splitPath(config, path);
  if (layer === null) return { name: outerTensors[inner]!, layout: { kind: 'rows' } };
  const dot = inner.lastIndexOf('.');
  const [name, conv1d] = layerTensors[inner.slice(0, dot)]!;
  const kind = inner.slice(dot + 1);
  return {
    name: `blk.${layer}.${name}.${kind}`,
    layout: { kind: conv1d && kind === 'weight' ? 'transposed' : 'rows' },
  };
}

export const gpt2Gguf: GgufMapping<DecoderConfig> = {
  architecture,
  modelType: 'gpt2',
  writes: ['gpt2'],

  configToGguf(config: DecoderConfig, where: string): Map<string, GgufValue> {
    checkRepresentable(
      config,
      architecture,
      [
        ['positional.kind', ['learned'], 'learned positions'],
        ['norm', ['layerNorm'], 'LayerNorm'],
        ['mlp', ['gelu'], 'a GELU MLP'],
        ['activation', ['geluTanh', 'gelu'], 'the tanh GELU'],
      ],
      where,
    );
    const keys = commonKeys(architecture, config);
    keys.set(`${architecture}.${epsKey}`, ggufFloat32(config.normEps));
    return keys;
  },

  configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): DecoderConfig {
    const common = commonFromGguf(metadata, tensors, architecture);
    const up = tensors.get('blk.0.ffn_up.weight');
    const raw = {
      ...common,
      arch: 'gpt2',
      intermediateSize:
        metadata.integer(`${architecture}.feed_forward_length`) ??
        up?.dims[1] ??
        4 * (common['nEmbd'] as number),
      normEps: metadata.requiredFloat(`${architecture}.${epsKey}`),
      positional: 'learned',
      norm: 'layerNorm',
      mlp: 'gelu',
      activation: 'geluTanh',
      bias: true,
      dropout: 0,
    };
    return resolveFromGguf(raw, metadata.source, ggufFieldNames(architecture, epsKey));
  },

  /**
   * llama.cpp's gpt2 graph has every bias: a model without them gets zero biases (the same
   * function), right after the weight each belongs to.
   */
  tensorPlan(config: DecoderConfig): GgufTensorPlan[] {
    const plan = decoderTensorPlan(config, (path) => tensorOf(config, path));
    if (config.bias) return plan;
    return plan.flatMap((entry) => {
      const isWeight =
        entry.name.endsWith('.weight') &&
        entry.name !== 'token_embd.weight' &&
        !entry.name.startsWith('position_embd') &&
        entry.name !== 'output.weight';
      if (!isWeight) return [entry];
      const dims = entry.layout.kind === 'transposed' ? entry.shape[1]! : entry.shape[0]!;
      const bias: GgufTensorPlan = {
        name: entry.name.replace(/weight$/, 'bias'),
        path: null,
        shape: [dims],
        layout: { kind: 'rows' },
      };
      return [entry, bias];
    });
  },

  /** llama.cpp's gpt2 runs the tanh GELU (through an fp16 table on CPU). */
  approximations: (config) =>
    config.activation === 'gelu'
      ? [
          "the model's exact (erf) GELU is written as llama.cpp's gpt2 GELU, the tanh approximation (at most 5e-4 apart per activation); lmforge reading the file computes the tanh GELU too",
        ]
      : [],
};
