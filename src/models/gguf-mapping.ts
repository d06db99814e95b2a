/**
 * What a model family provides to read and write GGUF (./gguf-file.ts dispatches on
 * `general.architecture`): its config from the architecture's metadata keys and back, and
 * the plan that pairs each parameter with a GGUF tensor name and the layout difference
 * between them. Each family writes its mapping beside its model (llama/gguf.ts,
 * gpt2/gguf.ts).
 *
 * Layouts: a ggml tensor lists its dimensions fastest first (ne[0] is the row length), so
 * an nn.Linear weight (out, in) is [in, out] in GGUF with the same bytes ('rows'). GPT-2's
 * Conv1D weights are stored (in, out) by lmforge and HF and transposed by llama.cpp's
 * converter ('transposed'). Llama's q/k projections are permuted by the converter from HF's
 * rotate-half RoPE layout (pairs i, i + hs/2 of each head) to ggml's interleaved one (pairs
 * 2i, 2i + 1) ('ropeInterleaved'); Qwen2 and Qwen3 keep rotate-half (llama.cpp's NeoX RoPE),
 * so theirs are 'rows'. The experts of a MoE layer are stacked into one 3-D tensor per
 * projection (`stack`).
 */
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../io/index.js';
import type { ModelConfig } from './model.js';

export type GgufLayout =
  | { readonly kind: 'rows' }
  | { readonly kind: 'transposed' }
  | { readonly kind: 'ropeInterleaved'; readonly heads: number };

/** One parameter and its GGUF tensor. */
export interface GgufTensorPlan {
  /** The GGUF tensor name (blk.3.attn_q.weight). */
  readonly name: string;
  /**
   * The lmforge parameter path (= HF checkpoint key); null for a tensor llama.cpp requires
   * that the model does not have, written as zeros (a GPT-2 without biases), and for a
   * stacked tensor.
   */
  readonly path: string | null;
  /**
   * The parameters of a stacked tensor, each of `shape`, on a new outermost dimension (the
   * experts of a MoE layer: blk.N.ffn_up_exps holds expert 0's up projection, then expert
   * 1's, ...); absent for a tensor of one parameter.
   */
  readonly stack?: readonly string[];
  /** The parameter's shape (of each stacked parameter). */
  readonly shape: readonly number[];
  readonly layout: GgufLayout;
}

export interface GgufMapping<Config extends ModelConfig = ModelConfig> {
  /** `general.architecture`. */
  readonly architecture: string;
  /** The registered family that builds the model (its model_type). */
  readonly modelType: string;
  /**
   * The families (config.arch) written as this architecture: modelType, and those llama.cpp
   * runs as it (its converter writes Mistral and Mixtral as `llama`).
   */
  readonly writes: readonly string[];
  /**
   * The config a file describes: its `<architecture>.*` keys, and what only the tensors say
   * (vocabulary rows, a tied head, biases). Errors name the key or tensor.
   */
  configFromGguf(metadata: GgufMetadata, tensors: ReadonlyMap<string, GgufTensorInfo>): Config;
  /** The `<architecture>.*` keys of a config; a ConfigError names a field llama.cpp cannot represent. */
  configToGguf(config: Config, where: string): Map<string, GgufValue>;
  /** Every parameter with its tensor, in the order the file lists them. */
  tensorPlan(config: Config): GgufTensorPlan[];
  /**
   * Where the file computes something close to but not exactly what the model does (each a
   * sentence for a warning); empty when it is exact.
   */
  approximations(config: Config): string[];
  /**
   * How the file pools an embedding (`<architecture>.pooling_type`) for an encoder
   * architecture (bert); absent for a decoder. Errors name the key.
   */
  pooling?(metadata: GgufMetadata): 'mean' | 'cls';
}

/** The GGUF dimensions (ne order) of a planned tensor. */
export function ggufDims(plan: GgufTensorPlan): number[] {
  const dims = plan.layout.kind === 'transposed' ? [...plan.shape] : [...plan.shape].reverse();
  return plan.stack === undefined ? dims : [...dims, plan.stack.length];
}

/** The parameter paths a planned tensor holds: its path, the stacked ones, or none (zeros). */
export function planPaths(plan: GgufTensorPlan): readonly string[] {
  return plan.stack ?? (plan.path === null ? [] : [plan.path]);
}

/**
 * The permutation of rows between layouts for rope: `rows` rows of `cols` elements (values,
 * or the bytes of quantized blocks) in heads of hs rows. HF row h*hs + i*hs/2 + j (i = 0, 1:
 * first or second half) is GGUF row h*hs + 2j + i. `toGguf` moves HF rows to GGUF rows,
 * otherwise back.
 */
function permuteRope<A extends Float32Array | Uint8Array>(
  values: A,
  rows: number,
  cols: number,
  heads: number,
  toGguf: boolean,
): A {
  const out = (
    values instanceof Float32Array ? new Float32Array(values.length) : new Uint8Array(values.length)
  ) as A;
  const hs = rows / heads;
  const half = hs / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < half; j++) {
        const hf = h * hs + i * half + j;
        const gguf = h * hs + 2 * j + i;
        const [from, to] = toGguf ? [hf, gguf] : [gguf, hf];
        out.set(values.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/**
 * The bytes of a quantized matrix tensor (whole blocks per row) between GGUF's row order and
 * the (out, in) rows of the parameter's Linear: the same bytes for 'rows' and 'transposed'
 * (GGUF's rows are the output features in both), the rope permutation of rows otherwise.
 */
export function quantizedRows(
  plan: GgufTensorPlan,
  bytes: Uint8Array,
  rows: number,
  toGguf: boolean,
): Uint8Array {
  if (plan.layout.kind !== 'ropeInterleaved') return bytes;
  return permuteRope(bytes, rows, bytes.length / rows, plan.layout.heads, toGguf);
}

/** A (rows, cols) matrix transposed. */
function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** A parameter's values (row-major in its shape) in the tensor's GGUF order. */
export function toGgufLayout(plan: GgufTensorPlan, values: Float32Array): Float32Array {
  const [rows = 1, cols = 1] = plan.shape;
  switch (plan.layout.kind) {
    case 'rows':
      return values;
    case 'transposed':
      return transpose(values, rows, cols);
    case 'ropeInterleaved':
      return permuteRope(values, rows, plan.shape.length > 1 ? cols : 1, plan.layout.heads, true);
  }
}

/** A tensor's values (GGUF order) in the parameter's row-major order: the inverse of toGgufLayout. */
export function fromGgufLayout(plan: GgufTensorPlan, values: Float32Array): Float32Array {
  const [rows = 1, cols = 1] = plan.shape;
  switch (plan.layout.kind) {
    case 'rows':
      return values;
    case 'transposed':
      // GGUF holds (cols, rows) row-major, the transpose of the (rows, cols) parameter.
      return transpose(values, cols, rows);
    case 'ropeInterleaved':
      return permuteRope(values, rows, plan.shape.length > 1 ? cols : 1, plan.layout.heads, false);
  }
}
