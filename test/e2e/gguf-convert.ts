/**
 * A small, independent stand-in for llama.cpp's convert_hf_to_gguf.py, for the test that a
 * GGUF written by llama.cpp's conventions loads in lmforge: it takes a model's weights by
 * their Hugging Face names and writes them the converter's way (its tensor names, q/k
 * permuted with the reshape/swapaxes of gguf-py's `permute`, GPT-2's Conv1D weights
 * transposed, its metadata keys and SentencePiece vocabulary layout), through the test's
 * own byte builder (../io/gguf-bytes.ts). None of lmforge's GGUF mapping code is used.
 */
import type { LanguageModel } from '../../src/models/index.js';
import { buildGguf, f32Bytes, kv, type RawKv, type RawTensor } from '../io/gguf-bytes.js';

/** SentencePiece token types (sentencepiece_model.proto, as gguf-py's SentencePieceTokenTypes). */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

export interface SpmVocabulary {
  readonly tokens: string[];
  readonly scores: number[];
  readonly types: number[];
}

/**
 * A Llama-style SentencePiece vocabulary for `text`: <unk>, <s>, </s>, the 256 byte tokens,
 * then every character (space as ▁) and `merges` pieces found by repeatedly joining the most
 * frequent adjacent pair inside words, scored like SentencePiece BPE (later pieces lower).
 */
export function spmVocabulary(text: string, merges: number): SpmVocabulary {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [UNKNOWN, CONTROL, CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(BYTE);
  }
  const words = text
    .split(/[ \n]+/)
    .filter((w) => w !== '')
    .map((w) => `\u2581${w}`);
  const chars = [...new Set(Array.from(text.replaceAll(' ', '\u2581')).filter((c) => c !== '\n'))].sort();
  const merged: string[] = [];
  let split = words.map((w) => Array.from(w));
  for (let m = 0; m < merges; m++) {
    const counts = new Map<string, number>();
    for (const w of split) {
      for (let i = 0; i + 1 < w.length; i++) {
        const pair = `${w[i]}\0${w[i + 1]}`;
        counts.set(pair, (counts.get(pair) ?? 0) + 1);
      }
    }
    let best = '';
    let most = 1;
    for (const [pair, n] of counts) if (n > most || (n === most && pair < best)) [best, most] = [pair, n];
    if (best === '') break;
    const [a, b] = best.split('\0') as [string, string];
    if (!merged.includes(a + b)) merged.push(a + b);
    split = split.map((w) => {
      const out: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w[i]!);
      }
      return out;
    });
  }
  // SentencePiece BPE scores: merged pieces -1, -2, ... in merge order; characters below them.
  const scores = new Array<number>(tokens.length).fill(0);
  for (const [i, piece] of merged.entries()) {
    tokens.push(piece);
    types.push(NORMAL);
    scores.push(-(i + 1));
  }
  for (const [i, char] of chars.entries()) {
    tokens.push(char);
    types.push(NORMAL);
    scores.push(-(merged.length + 1 + i));
  }
  return { tokens, scores, types };
}

/** gguf-py's permute: rows of each head from HF's rotate-half halves to ggml's interleaved pairs. */
function permute(values: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  // reshape(heads, 2, rows / heads / 2, cols).swapaxes(1, 2).reshape(rows, cols)
  const half = rows / heads / 2;
  const out = new Float32Array(values.length);
  let at = 0;
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < half; j++)
      for (let i = 0; i < 2; i++) {
        const from = (h * 2 + i) * half + j;
        out.set(values.subarray(from * cols, (from + 1) * cols), at * cols);
        at++;
      }
  return out;
}

function parameters(model: LanguageModel): Map<string, { values: Float32Array; shape: readonly number[] }> {
  return new Map(
    model
      .namedParameters()
      .map(([name, p]) => [name, { values: Float32Array.from(p.floats()), shape: p.shape }]),
  );
}

const f32Type = 0;
const tensor = (name: string, shape: readonly number[], values: Float32Array): RawTensor => ({
  name,
  dims: [...shape].reverse(),
  type: f32Type,
  data: f32Bytes(values),
});

export interface LlamaShape {
  readonly nLayer: number;
  readonly nHead: number;
  readonly nKvHead: number;
  readonly nEmbd: number;
  readonly intermediate: number;
  readonly context: number;
  readonly ropeTheta: number;
  readonly eps: number;
}

/** A LlamaForCausalLM's weights and a SentencePiece vocabulary, the converter's way (F32). */
export function convertLlama(model: LanguageModel, shape: LlamaShape, vocab: SpmVocabulary): Uint8Array {
  const p = parameters(model);
  const get = (name: string) => p.get(name)!;
  const tensors: RawTensor[] = [
    tensor(
      'token_embd.weight',
      get('model.embed_tokens.weight').shape,
      get('model.embed_tokens.weight').values,
    ),
  ];
  for (let l = 0; l < shape.nLayer; l++) {
    const hf = (n: string) => get(`model.layers.${l}.${n}.weight`);
    const q = hf('self_attn.q_proj');
    const k = hf('self_attn.k_proj');
    tensors.push(
      tensor(`blk.${l}.attn_norm.weight`, hf('input_layernorm').shape, hf('input_layernorm').values),
      tensor(`blk.${l}.attn_q.weight`, q.shape, permute(q.values, q.shape[0]!, q.shape[1]!, shape.nHead)),
      tensor(`blk.${l}.attn_k.weight`, k.shape, permute(k.values, k.shape[0]!, k.shape[1]!, shape.nKvHead)),
      tensor(`blk.${l}.attn_v.weight`, hf('self_attn.v_proj').shape, hf('self_attn.v_proj').values),
      tensor(`blk.${l}.attn_output.weight`, hf('self_attn.o_proj').shape, hf('self_attn.o_proj').values),
      tensor(
        `blk.${l}.ffn_norm.weight`,
        hf('post_attention_layernorm').shape,
        hf('post_attention_layernorm').values,
      ),
      tensor(`blk.${l}.ffn_gate.weight`, hf('mlp.gate_proj').shape, hf('mlp.gate_proj').values),
      tensor(`blk.${l}.ffn_up.weight`, hf('mlp.up_proj').shape, hf('mlp.up_proj').values),
      tensor(`blk.${l}.ffn_down.weight`, hf('mlp.down_proj').shape, hf('mlp.down_proj').values),
    );
  }
  tensors.push(tensor('output_norm.weight', get('model.norm.weight').shape, get('model.norm.weight').values));
  tensors.push(tensor('output.weight', get('lm_head.weight').shape, get('lm_head.weight').values));
  const kvs: RawKv[] = [
    kv.str('general.architecture', 'llama'),
    kv.str('general.name', 'tiny converted llama'),
    kv.u32('llama.block_count', shape.nLayer),
    kv.u32('llama.context_length', shape.context),
    kv.u32('llama.embedding_length', shape.nEmbd),
    kv.u32('llama.feed_forward_length', shape.intermediate),
    kv.u32('llama.attention.head_count', shape.nHead),
    kv.u32('llama.attention.head_count_kv', shape.nKvHead),
    kv.f32('llama.rope.freq_base', shape.ropeTheta),
    kv.f32('llama.attention.layer_norm_rms_epsilon', shape.eps),
    kv.u32('general.file_type', 0),
    kv.u32('llama.vocab_size', vocab.tokens.length),
    kv.u32('llama.rope.dimension_count', shape.nEmbd / shape.nHead),
    kv.str('tokenizer.ggml.model', 'llama'),
    kv.str('tokenizer.ggml.pre', 'default'),
    kv.strs('tokenizer.ggml.tokens', vocab.tokens),
    kv.f32s('tokenizer.ggml.scores', vocab.scores),
    kv.i32s('tokenizer.ggml.token_type', vocab.types),
    kv.u32('tokenizer.ggml.bos_token_id', 1),
    kv.u32('tokenizer.ggml.eos_token_id', 2),
    kv.u32('tokenizer.ggml.unknown_token_id', 0),
    kv.bool('tokenizer.ggml.add_bos_token', true),
    kv.bool('tokenizer.ggml.add_eos_token', false),
  ];
  return buildGguf({ kvs, tensors });
}

export interface Gpt2Vocabulary {
  readonly tokens: readonly string[];
  readonly merges: readonly string[];
  readonly eosId: number;
}

/** A GPT2LMHeadModel's weights (biases included) and a byte-level BPE, the converter's way (F32). */
export function convertGpt2(
  model: LanguageModel,
  shape: { nLayer: number; nHead: number; nEmbd: number; context: number; eps: number },
  vocab: Gpt2Vocabulary,
): Uint8Array {
  const p = parameters(model);
  const get = (name: string) => p.get(name)!;
  // The converter transposes Conv1D weights, stored (in, out), to (out, in).
  const conv1d = (name: string, hf: string): RawTensor => {
    const {
      values,
      shape: [rows, cols],
    } = get(hf) as { values: Float32Array; shape: [number, number] };
    const t = new Float32Array(values.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = values[r * cols + c]!;
    return tensor(name, [cols, rows], t);
  };
  const same = (name: string, hf: string): RawTensor => tensor(name, get(hf).shape, get(hf).values);
  const tensors: RawTensor[] = [
    same('token_embd.weight', 'transformer.wte.weight'),
    same('position_embd.weight', 'transformer.wpe.weight'),
  ];
  for (let l = 0; l < shape.nLayer; l++) {
    const h = `transformer.h.${l}`;
    tensors.push(
      same(`blk.${l}.attn_norm.weight`, `${h}.ln_1.weight`),
      same(`blk.${l}.attn_norm.bias`, `${h}.ln_1.bias`),
      conv1d(`blk.${l}.attn_qkv.weight`, `${h}.attn.c_attn.weight`),
      same(`blk.${l}.attn_qkv.bias`, `${h}.attn.c_attn.bias`),
      conv1d(`blk.${l}.attn_output.weight`, `${h}.attn.c_proj.weight`),
      same(`blk.${l}.attn_output.bias`, `${h}.attn.c_proj.bias`),
      same(`blk.${l}.ffn_norm.weight`, `${h}.ln_2.weight`),
      same(`blk.${l}.ffn_norm.bias`, `${h}.ln_2.bias`),
      conv1d(`blk.${l}.ffn_up.weight`, `${h}.mlp.c_fc.weight`),
      same(`blk.${l}.ffn_up.bias`, `${h}.mlp.c_fc.bias`),
      conv1d(`blk.${l}.ffn_down.weight`, `${h}.mlp.c_proj.weight`),
      same(`blk.${l}.ffn_down.bias`, `${h}.mlp.c_proj.bias`),
    );
  }
  tensors.push(
    same('output_norm.weight', 'transformer.ln_f.weight'),
    same('output_norm.bias', 'transformer.ln_f.bias'),
  );
  const kvs: RawKv[] = [
    kv.str('general.architecture', 'gpt2'),
    kv.u32('gpt2.block_count', shape.nLayer),
    kv.u32('gpt2.context_length', shape.context),
    kv.u32('gpt2.embedding_length', shape.nEmbd),
    kv.u32('gpt2.feed_forward_length', 4 * shape.nEmbd),
    kv.u32('gpt2.attention.head_count', shape.nHead),
    kv.f32('gpt2.attention.layer_norm_epsilon', shape.eps),
    kv.u32('general.file_type', 0),
    kv.str('tokenizer.ggml.model', 'gpt2'),
    kv.str('tokenizer.ggml.pre', 'gpt-2'),
    kv.strs('tokenizer.ggml.tokens', vocab.tokens),
    kv.i32s(
      'tokenizer.ggml.token_type',
      vocab.tokens.map((t) => (t === '<|endoftext|>' ? CONTROL : NORMAL)),
    ),
    kv.strs('tokenizer.ggml.merges', vocab.merges),
    kv.u32('tokenizer.ggml.bos_token_id', vocab.eosId),
    kv.u32('tokenizer.ggml.eos_token_id', vocab.eosId),
  ];
  return buildGguf({ kvs, tensors });
}
