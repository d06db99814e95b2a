/**
 * LlamaForCausalLM <-> GGUF architecture `llama`, as llama.cpp's convert_hf_to_gguf.py
 * writes it and src/models/llama.cpp reads it: keys `llama.*` (rope.freq_base,
 * attention.layer_norm_rms_epsilon, ...), tensors token_embd, blk.N.{attn_norm, attn_q,
 * attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, output
 * (absent when the head is tied). The converter permutes q and k (rows of each head from
 * HF's rotate-half order to ggml's interleaved RoPE pairs); the plan undoes it on read.
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import { FormatError } from '../../util/errors.js';
import type { DecoderConfig } from '../decoder/config.js';
import {
  checkRepresentable,
  commonFromGguf,
  commonKeys,
  decoderTensorPlan,
  ggufFieldNames,
  ggufFloat32,
  ggufUint32,
  resolveFromGguf,
  splitPath,
} from '../decoder/gguf-common.js';
import type { GgufLayout, GgufMapping, GgufTensorPlan } from '../gguf-mapping.js';

const architecture = 'llama';
const epsKey = 'attention.layer_norm_rms_epsilon';

/** Module path inside a layer -> ggml tensor name. */
const layerTensors: Readonly<Record<string, string>> = {
  input_layernorm: 'attn_norm',
  'self_attn.q_proj': 'attn_q',
  'self_attn.k_proj': 'attn_k',
  'self_attn.v_proj': 'attn_v',
  'self_attn.o_proj': 'attn_output',
  post_attention_layernorm: 'ffn_norm',
  'mlp.gate_proj': 'ffn_gate',
  'mlp.up_proj': 'ffn_up',
  'mlp.down_proj': 'ffn_down',
};

const outerTensors: Readonly<Record<string, string>> = {
  'embed_tokens.weight': 'token_embd.weight',
  'norm.weight': 'output_norm.weight',
  'lm_head.weight': 'output.weight',
};

function tensorOf(config: DecoderConfig, path: string): { name: string; layout: GgufLayout } {
  const [layer, inner] = splitPath(config, path);
  if (layer === null) return { name: outerTensors[inner]!, layout: { kind: 'rows' } };
  const dot = inner.lastIndexOf('.');
  const module = inner.slice(0, dot);
  const name = `blk.${layer}.${layerTensors[module]!}.${inner.slice(dot + 1)}`;
  if (module === 'self_attn.q_proj')
    return { name, layout: { kind: 'ropeInterleaved', heads: config.nHead } };
  if (module === 'self_attn.k_proj')
    return { name, layout: { kind: 'ropeInterleaved', heads: config.nKvHead } };
  return { name, layout: { kind: 'rows' } };
}

export const llamaGguf: GgufMapping<DecoderConfig> = {
  architecture,
  modelType: 'llama',

  configToGguf(config: DecoderConfig, where: string): Map<string, GgufValue> {
    checkRepresentable(
      config,
      architecture,
      [
        ['positional.kind', ['rope'], 'rotary positions'],
        ['norm', ['rmsNorm'], 'RMSNorm'],
        ['mlp', ['swiglu'], 'a SwiGLU MLP'],
        ['activation', ['silu'], 'SiLU gating'],
      ],
      where,
    );
    const keys = commonKeys(architecture, config);
    keys.set(`${architecture}.rope.dimension_count`, ggufUint32(config.headSize));
    keys.set(
      `${architecture}.rope.freq_base`,
      ggufFloat32(config.positional.kind === 'rope' ? config.positional.theta : 10000),
    );
    keys.set(`${architecture}.${epsKey}`, ggufFloat32(config.normEps));
    return keys;
  },

  configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): DecoderConfig {
    const common = commonFromGguf(metadata, tensors, architecture);
    if (tensors.has('blk.0.attn_qkv.weight')) {
      throw new FormatError('a fused attn_qkv in a llama file is not supported', {
        where: `${metadata.source}: blk.0.attn_qkv.weight`,
        hint: 'llama.cpp writes separate attn_q, attn_k and attn_v for llama',
      });
    }
    const up = tensors.get('blk.0.ffn_up.weight');
    const raw = {
      ...common,
      arch: 'llama',
      intermediateSize: metadata.integer(`${architecture}.feed_forward_length`) ?? up?.dims[1],
      normEps: metadata.requiredFloat(`${architecture}.${epsKey}`),
      positional: { kind: 'rope', theta: metadata.float(`${architecture}.rope.freq_base`) ?? 10000 },
      bias: tensors.has('blk.0.attn_q.bias'),
      norm: 'rmsNorm',
      mlp: 'swiglu',
      activation: 'silu',
      dropout: 0,
    };
    return resolveFromGguf(raw, metadata.source, ggufFieldNames(architecture, epsKey));
  },

  tensorPlan(config: DecoderConfig): GgufTensorPlan[] {
    return decoderTensorPlan(config, (path) => tensorOf(config, path));
  },

  approximations: () => [],
};
