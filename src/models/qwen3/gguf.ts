/**
 * Qwen3ForCausalLM <-> GGUF architecture `qwen3`, as llama.cpp's converter writes it and
 * src/models/qwen3.cpp reads it: Qwen2's keys and tensors (../qwen2/gguf.ts, rotate-half
 * RoPE, optional q/k/v biases) plus blk.N.attn_q_norm / attn_k_norm (the per-head RMSNorms,
 * [head size]) and qwen3.attention.key_length / value_length for a head size other than
 * embedding_length / head_count.
 */
import { qwenGguf } from '../qwen2/gguf.js';

export const qwen3Gguf = qwenGguf('qwen3', true);
