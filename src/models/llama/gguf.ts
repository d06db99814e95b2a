/**
 * LlamaForCausalLM (and MistralForCausalLM, MixtralForCausalLM) <-> GGUF architecture
 * `llama`, as llama.cpp's convert_hf_to_gguf.py writes them (its LlamaModel converts all
 * three) and src/models/llama.cpp reads them: keys `llama.*` (rope.freq_base,
 * attention.layer_norm_rms_epsilon, expert_count, expert_used_count, ...), tensors
 * token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate,
 * ffn_up, ffn_down}, output_norm, output (absent when the head is tied); a MoE layer has
 * blk.N.ffn_gate_inp (the router) and the experts stacked in ffn_gate_exps, ffn_up_exps,
 * ffn_down_exps instead of the MLP. The converter permutes q and k (rows of each head from
 * HF's rotate-half order to ggml's interleaved RoPE pairs); the plan undoes it on read.
 *
 * llama.cpp's MoE llama routes as Mixtral (softmax over the router logits, the top k
 * renormalised: lmforge's 'topk-softmax'), with no shared experts. It has no sliding
 * window: a Mistral is written without its window (as the converter does), which is exact
 * while the context is no longer than the window and said as an approximation otherwise.
 * A file read back is a Llama (a Mixtral when it has experts).
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../../io/index.js';
import { FormatError } from '../../util/errors.js';
import type { DecoderConfig } from '../decoder/config.js';
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
} from '../decoder/gguf-common.js';
import type { GgufMapping, GgufTensorPlan } from '../gguf-mapping.js';

const architecture = 'llama';
const epsKey = 'attention.layer_norm_rms_epsilon';

export const llamaGguf: GgufMapping<DecoderConfig> = {
  architecture,
  modelType: 'llama',
  writes: ['llama', 'mistral', 'mixtral'],

  configToGguf(config: DecoderConfig, where: string): Map<string, GgufValue> {
    checkRepresentable(
      config,
      architecture,
      [
        ['positional.kind', ['rope'], 'rotary positions'],
        ['norm', ['rmsNorm'], 'RMSNorm'],
        ['mlp', ['swiglu'], 'a SwiGLU MLP'],
        ['activation', ['silu'], 'SiLU gating'],
        ['positional.scaling.kind', ['none', 'linear'], 'no RoPE scaling or linear scaling'],
        // A Mistral's window is dropped as llama.cpp's converter drops it (see approximations).
        [
          'slidingWindow',
          config.arch === 'mistral' ? [null, config.slidingWindow] : [null],
          'no sliding window',
        ],
        ['moe', [config.moe], 'a dense MLP or Mixtral experts'],
        ['moe.routing', [null, 'topk-softmax'], "Mixtral's routing (softmax, top k renormalised)"],
        ['moe.sharedExperts', [null, 0], 'no shared experts'],
      ],
      where,
    );
    const keys = commonKeys(architecture, config);
    keys.set(`${architecture}.rope.dimension_count`, ggufUint32(config.headSize));
    for (const entry of ropeKeys(architecture, config)) keys.set(...entry);
    keys.set(`${architecture}.${epsKey}`, ggufFloat32(config.normEps));
    if (config.moe !== null) {
      keys.set(`${architecture}.expert_count`, ggufUint32(config.moe.experts));
      keys.set(`${architecture}.expert_used_count`, ggufUint32(config.moe.expertsPerToken));
    }
    return keys;
  },

  configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): DecoderConfig {
    const common = commonFromGguf(metadata, tensors, architecture, {
      headSize: 'derived',
      experts: true,
      ropeScaling: true,
    });
    if (tensors.has('blk.0.attn_qkv.weight')) {
      throw new FormatError('a fused attn_qkv in a llama file is not supported', {
        where: `${metadata.source}: blk.0.attn_qkv.weight`,
        hint: 'llama.cpp writes separate attn_q, attn_k and attn_v for llama',
      });
    }
    const experts = metadata.integer(`${architecture}.expert_count`) ?? 0;
    const up = tensors.get(experts > 0 ? 'blk.0.ffn_up_exps.weight' : 'blk.0.ffn_up.weight');
    const raw = {
      ...common,
      arch: experts > 0 ? 'mixtral' : 'llama',
      intermediateSize: metadata.integer(`${architecture}.feed_forward_length`) ?? up?.dims[1],
      normEps: metadata.requiredFloat(`${architecture}.${epsKey}`),
      positional: ropeFromGguf(metadata, architecture),
      bias: tensors.has('blk.0.attn_q.bias'),
      norm: 'rmsNorm',
      mlp: 'swiglu',
      activation: 'silu',
      dropout: 0,
      ...(experts > 0
        ? {
            moe: {
              experts,
              // llama.cpp requires expert_used_count with expert_count.
              expertsPerToken: metadata.requiredInteger(`${architecture}.expert_used_count`, 1, experts),
              routing: 'topk-softmax',
              sharedExperts: 0,
            },
          }
        : {}),
    };
    return resolveFromGguf(raw, metadata.source, ggufFieldNames(architecture, epsKey));
  },

  tensorPlan(config: DecoderConfig): GgufTensorPlan[] {
    return llamaStylePlan(config, 'interleaved');
  },

  approximations: (config) =>
    config.arch === 'mistral' && config.slidingWindow !== null && config.slidingWindow.size < config.blockSize
      ? [
          `llama.cpp's llama has no sliding window: beyond ${config.slidingWindow.size} tokens its attention sees the whole context where the model's sees only the latest ${config.slidingWindow.size} (as for Mistral 7B converted by llama.cpp); lmforge reading the file computes llama.cpp's`,
        ]
      : [],
};
