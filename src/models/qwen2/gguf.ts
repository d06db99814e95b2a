/**
 * Qwen2ForCausalLM <-> GGUF architecture `qwen2`, as llama.cpp's convert_hf_to_gguf.py
 * writes it and src/models/qwen2.cpp reads it: keys `qwen2.*` (as llama's: rope.freq_base,
 * attention.layer_norm_rms_epsilon, ...), tensors token_embd, blk.N.{attn_norm, attn_q,
 * attn_k, attn_v (each with its bias), attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down},
 * output_norm, output (absent when the head is tied). llama.cpp runs Qwen with NeoX RoPE,
 * HF's rotate-half: q and k are written unpermuted. Qwen3 (../qwen3/gguf.ts) is this with
 * per-head q/k norms and its own head size.
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import type { DecoderArch, DecoderConfig } from '../decoder/config.js';
import {
  checkRepresentable,
  commonFromGguf,
  commonKeys,
  ggufFieldNames,
  ggufFloat32,
  ggufUint32,
  llamaStylePlan,
  resolveFromGguf,
  ropeFromGguf,
  ropeKeys,
  type Requirement,
} from '../decoder/gguf-common.js';
import type { GgufMapping, GgufTensorPlan } from '../gguf-mapping.js';

const epsKey = 'attention.layer_norm_rms_epsilon';

/**
 * The mapping of a Qwen architecture (`qwen2`, `qwen3`): Llama's block with optional
 * biases on q, k and v only (llama.cpp loads attn_{q,k,v}.bias when present, has no
 * attn_output or MLP bias) and rotate-half RoPE; with `qkNorm`, the per-head norms
 * attn_q_norm / attn_k_norm and a head size of its own (attention.key_length).
 */
export function qwenGguf(architecture: 'qwen2' | 'qwen3', qkNorm: boolean): GgufMapping<DecoderConfig> {
  const arch: DecoderArch = architecture;
  return {
    architecture,
    modelType: arch,
    writes: [arch],

    configToGguf(config: DecoderConfig, where: string): Map<string, GgufValue> {
      const requirements: Requirement[] = [
        ['positional.kind', ['rope'], 'rotary positions'],
        ['norm', ['rmsNorm'], 'RMSNorm'],
        ['mlp', ['swiglu'], 'a SwiGLU MLP'],
        ['activation', ['silu'], 'SiLU gating'],
        ['positional.scaling.kind', ['none', 'linear'], 'no RoPE scaling or linear scaling'],
        ['attentionBias', ['qkv', 'none'], 'biases on q, k and v or none (none on o_proj)'],
        ['mlpBias', [false], 'no MLP biases'],
        ['qkNorm', [qkNorm], qkNorm ? 'per-head q/k norms' : 'no q/k norms'],
      ];
      if (qkNorm) requirements.push(['headSize', [config.headSize], 'any head size (key_length)']);
      checkRepresentable(config, architecture, requirements, where);
      const keys = commonKeys(architecture, config);
      if (qkNorm) {
        keys.set(`${architecture}.attention.key_length`, ggufUint32(config.headSize));
        keys.set(`${architecture}.attention.value_length`, ggufUint32(config.headSize));
      }
      keys.set(`${architecture}.rope.dimension_count`, ggufUint32(config.headSize));
      for (const entry of ropeKeys(architecture, config)) keys.set(...entry);
      keys.set(`${architecture}.${epsKey}`, ggufFloat32(config.normEps));
      return keys;
    },

    configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): DecoderConfig {
      const common = commonFromGguf(metadata, tensors, architecture, {
        headSize: qkNorm ? 'keyLength' : 'derived',
        experts: false,
        ropeScaling: true,
      });
      const up = tensors.get('blk.0.ffn_up.weight');
      const raw = {
        ...common,
        arch,
        intermediateSize: metadata.integer(`${architecture}.feed_forward_length`) ?? up?.dims[1],
        normEps: metadata.requiredFloat(`${architecture}.${epsKey}`),
        positional: ropeFromGguf(metadata, architecture),
        bias: false,
        attentionBias: tensors.has('blk.0.attn_q.bias') ? 'qkv' : 'none',
        mlpBias: false,
        qkNorm,
        norm: 'rmsNorm',
        mlp: 'swiglu',
        activation: 'silu',
        dropout: 0,
        slidingWindow: null,
      };
      return resolveFromGguf(raw, metadata.source, ggufFieldNames(architecture, epsKey));
    },

    tensorPlan(config: DecoderConfig): GgufTensorPlan[] {
      return llamaStylePlan(config, 'rotateHalf');
    },

    approximations: () => [],
  };
}

export const qwen2Gguf = qwenGguf('qwen2', false);
