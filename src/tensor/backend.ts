/**
 * The Backend interface: every numeric kernel the tensor ops dispatch to.
 *
 * Kernels are pure functions over flat typed arrays and sizes (as in llm.c): no tensors,
 * no allocation, no autograd. Inputs are contiguous unless a layout argument says
 * otherwise. `F` kernels must accept Float32Array and Float64Array (float64 runs only on
 * the JS reference backend; a native backend hands it to the JS kernels).
 * Kernels that produce gradients for parameters ACCUMULATE (+=) into them, so that a
 * parameter used twice (tied embeddings) sums its gradients; input gradients are written.
 *
 * Legend: B batch, T time, C channels, V vocab, nH query heads, nKV key/value heads,
 * hs head size, Tq/Tk query/key lengths, N element count; E experts, k experts per token,
 * R expert rows (the token-expert assignments kept, sorted by expert).
 *
 * Implementations: src/backend/js (portable reference), src/backend/native (C via N-API).
 * The active one is chosen in src/backend and installed here with setBackend().
 */
import type { FloatArray } from './dtype.js';
import type { Kernels } from './kernels.gen.js';
import { BackendError } from '../util/errors.js';

export type F = FloatArray;

/** C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b], op(X) = X or X^T, row-major. */
export interface GemmParams {
  readonly batch: number;
  /** op(A) is (m, k), op(B) is (k, n), C is (m, n). */
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transA: boolean;
  readonly transB: boolean;
  /** Row strides (leading dimensions) of A, B, C as stored. */
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  /** Element offsets of the first matrix. */
  readonly offsetA: number;
  readonly offsetB: number;
  readonly offsetC: number;
  /** Elements between consecutive batch matrices; 0 reuses one matrix for every batch. */
  readonly strideA: number;
  readonly strideB: number;
  readonly strideC: number;
  readonly alpha: number;
  /** 0 overwrites C (its old contents are ignored, even NaN); 1 accumulates. */
  readonly beta: number;
}

/**
 * A grouped GEMM (mixture of experts): one kernel call runs a product per group g < groups,
 * each over the contiguous rows [offsets[g], offsets[g + 1]) of row-sorted matrices (the
 * rows routed to expert g). Two kinds:
 * - rows (`inner` false): C[rows_g] = alpha * A[rows_g] @ op(B_g) + beta * C[rows_g], with A
 *   (R, k) and C (R, n) row-major (lda, ldc) and B_g at offsetB + g * strideB, stored (k, n),
 *   or (n, k) when transB (ldb). The forward and the input gradient of the expert layers.
 * - inner (`inner` true): C_g = alpha * A[rows_g]^T @ B[rows_g] + beta * C_g, with A (R, m) and
 *   B (R, n) row-major and C_g (m, n) at offsetC + g * strideC (ldc): the per-expert weight
 *   gradient. A group without rows gets beta * C_g (zeros when beta is 0).
 * `m` is unused by the rows kind (a group's row count is its own), `k` and `transB` by the inner kind.
 */
export interface GroupedGemmParams {
  readonly groups: number;
  readonly inner: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly transB: boolean;
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  readonly offsetA: number;
  readonly offsetB: number;
  readonly offsetC: number;
  readonly strideB: number;
  readonly strideC: number;
  readonly alpha: number;
  /** 0 overwrites C (its old contents are ignored, even NaN); 1 accumulates. */
  readonly beta: number;
}

export type { BinaryOp, QuantOp, UnaryOp } from './kernels.gen.js';

/**
 * A broadcast binary op over an N-d output of shape `shape` (contiguous), reading A and B
 * through their own strides (0 on broadcast dimensions) and offsets.
 */
export interface BroadcastLayout {
  readonly shape: readonly number[];
  readonly stridesA: readonly number[];
  readonly stridesB: readonly number[];
  readonly offsetA: number;
  readonly offsetB: number;
}

/** A strided read of `shape` from `src` starting at `offset`. */
export interface StridedLayout {
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * Scaled dot-product attention, softmax(Q K^T * scale + mask) V, for
 * Q (B, nH, Tq, hs), K and V (B, nKV, Tk, hs), nH a multiple of nKV (grouped-query:
 * query head h reads kv head floor(h / (nH / nKV))): the sizes and rules both the kernel
 * parameters below and the ops' checked arguments (ops/attention-args.ts) carry.
 */
export interface AttentionShape {
  readonly B: number;
  readonly nH: number;
  readonly nKV: number;
  readonly Tq: number;
  readonly Tk: number;
  readonly hs: number;
  readonly scale: number;
  /** Query i may attend key j only when j <= i + causalOffset (causalOffset = Tk - Tq with a KV cache). */
  readonly causal: boolean;
  readonly causalOffset: number;
  /**
   * Attention dropout: each probability P[b, h, i, j] is zeroed with probability `dropout`
   * and the survivors scaled by 1 / (1 - dropout), after the softmax (the normaliser uses
   * every key). 0 for none. Which ones are zeroed is a pure function of (dropoutSeed, row,
   * j) — dropRowKey and isDropped in src/tensor/ops/attention-dropout.ts — so the backward
   * regenerates the forward's mask instead of storing a (Tq, Tk) matrix per head.
   */
  readonly dropout: number;
  /** 32-bit seed of the dropout mask (an unsigned integer). */
  readonly dropoutSeed: number;
}

/** The attention kernels' parameters: the shape, and the mask as flat strides. */
export interface AttentionParams extends AttentionShape {
  /**
   * Optional additive mask, read as mask[maskOffset + b*maskStrideB + h*maskStrideH + i*maskStrideQ + j]
   * (j contiguous over Tk; a stride of 0 broadcasts). -Infinity removes a key.
   */
  readonly mask: F | null;
  readonly maskStrideB: number;
  readonly maskStrideH: number;
  readonly maskStrideQ: number;
  readonly maskOffset: number;
}

/**
 * One KV-cached decode step of a pre-norm Llama-style block (kernel decodeLayer): RMSNorm,
 * the q/k/v projections (nn.Linear's (out, in) weights, optional biases: Qwen2), RoPE at
 * position `pos` from the (P, hs/2) tables, the key and value written at `pos` of the
 * layer's (nKV, maxT, hs) cache, causal attention over positions 0..pos (grouped-query when
 * nKV < nH), the output projection and residual, then RMSNorm and the SwiGLU MLP
 * (down(silu(gate(m)) * up(m))) and its residual. Weights and tables are whole buffers
 * (offset 0); a null bias is none.
 */
export interface DecodeLayerParams {
  readonly C: number;
  readonly nH: number;
  readonly nKV: number;
  readonly hs: number;
  /** The MLP's intermediate size. */
  readonly hidden: number;
  /** The cache's capacity (positions per head). */
  readonly maxT: number;
  /** The token's position: keys 0..pos are attended, pos is written. */
  readonly pos: number;
  readonly eps: number;
  /** The attention scale (1 / sqrt(hs) unless the family says otherwise). */
  readonly scale: number;
  readonly norm1: F; // (C)
  readonly wq: F; // (nH hs, C)
  readonly bq: F | null; // (nH hs)
  readonly wk: F; // (nKV hs, C)
  readonly bk: F | null;
  readonly wv: F; // (nKV hs, C)
  readonly bv: F | null;
  readonly wo: F; // (C, nH hs)
  readonly bo: F | null; // (C)
  readonly norm2: F; // (C)
  readonly wGate: F; // (hidden, C)
  readonly wUp: F; // (hidden, C)
  readonly wDown: F; // (C, hidden)
  readonly cos: F; // (P, hs/2), P > pos
  readonly sin: F; // (P, hs/2)
}

export interface AdamWParams {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** 1-based step count, for bias correction. */
  readonly step: number;
  /** Multiplies the gradient first (gradient clipping, loss scaling); 1 for none. */
  readonly gradScale: number;
}

/**
 * A backend: the kernels of the kernel manifest (src/backend/manifest.ts, one line each;
 * their methods are generated into kernels.gen.ts) and its identity.
 */
export interface Backend extends Kernels {
  readonly name: 'js' | 'native';
  /** Instruction set in use, e.g. 'avx512', 'avx2', 'portable', 'js'. */
  readonly isa: string;
  readonly threads: number;
  setThreads(threads: number): void;
}

let active: Backend | null = null;

/** The backend ops dispatch to. src/backend installs it when imported. */
export function backend(): Backend {
  if (active === null) {
    throw new BackendError('no backend is installed', {
      where: 'tensor.backend',
      hint: "import 'lmforge' (or 'lmforge/backend') before using tensor ops",
    });
  }
  return active;
}

export function setBackend(next: Backend): void {
  active = next;
}
