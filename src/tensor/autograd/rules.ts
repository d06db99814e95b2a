/**
 * THE table of backward rules: one entry per differentiable op, each mapping the output
 * gradient `g` to one gradient per input (null where an input gets none).
 *
 * A rule sees the op's inputs and what its forward saved. Rules run under noGrad() and
 * must return fresh tensors (views with their own reference are fine), never `g` itself.
 */
import type { Tensor } from '../tensor.js';
import { alias, reshape, permute, contiguous, narrowBackward, type NarrowSaved } from '../ops/layout.js';
import { binaryBackward, unaryBackward, type BinarySaved, type UnarySaved } from '../ops/elementwise.js';
import { matmulBackward, type MatmulSaved } from '../ops/matmul.js';
import { sumBackward, sumToShape, maxBackward, type SumSaved, type MaxSaved } from '../ops/reduce.js';
import { softmaxBackward, type SoftmaxSaved } from '../ops/softmax.js';
import { crossEntropyBackward, type CrossEntropySaved } from '../ops/loss.js';
import { normBackward, type NormSaved } from '../ops/norm.js';
import { embeddingBackward, type EmbeddingSaved } from '../ops/embedding.js';
import { attentionBackward, type AttentionSaved } from '../ops/attention.js';
import { ropeBackward, type RopeSaved } from '../ops/rope.js';
import { concatBackward, type ConcatSaved } from '../ops/join.js';
import { whereBackward, gatherBackward, type GatherSaved } from '../ops/select.js';
import {
  combineBackward,
  dispatchBackward,
  groupedMatmulBackward,
  routerGatesBackward,
  type GatesSaved,
  type MoeSaved,
} from '../ops/moe.js';
import { lstmBackward, gruBackward, type LstmSaved, type GruSaved } from '../ops/rnn.js';

type Rule<S> = (g: Tensor, inputs: readonly Tensor[], saved: S) => ReadonlyArray<Tensor | null>;
const rule = <S>(fn: Rule<S>): Rule<S> => fn;

export const rules = {
  // ---- layout (views) --------------------------------------------------------------
  // y = x.reshape(shape)  =>  dx = dy.reshape(x.shape)
  reshape: rule<null>((g, [x]) => [reshape(contiguous(g), x!.shape)]),
  // y = x.permute(order)  =>  dx = dy.permute(inverse(order))
  permute: rule<{ inverse: readonly number[] }>((g, _, s) => [permute(g, s.inverse)]),
  // y = x.expand(shape)  =>  dx = dy summed over the expanded dimensions
  expand: rule<{ shape: readonly number[] }>((g, [x]) => [alias(sumToShape(g, x!.shape))]),
  // y = x.narrow(axis, start, length)  =>  dx = zeros, with dy at [start, start + length)
  narrow: rule<NarrowSaved>((g, [x], s) => [narrowBackward(g, x!, s)]),
  // y = copy(x)  =>  dx = dy
  contiguous: rule<null>((g) => [alias(g)]),

  // ---- elementwise ---------------------------------------------------------------
  binary: rule<BinarySaved>((g, [a, b], s) => binaryBackward(g, a!, b!, s)),
  unary: rule<UnarySaved>((g, [x], s) => [unaryBackward(g, x!, s)]),

  // ---- matmul and reductions ------------------------------------------------------
  matmul: rule<MatmulSaved>((g, [a, b], s) => matmulBackward(g, a!, b!, s)),
  sum: rule<SumSaved>((g, [x], s) => [sumBackward(g, x!, s)]),
  max: rule<MaxSaved>((g, [x], s) => [maxBackward(g, x!, s)]),

  // ---- fused kernels (derivations next to the JS kernels in src/backend/js) ---------
  // y = softmax(x) or log_softmax(x) over the last axis
  softmax: rule<SoftmaxSaved>((g, [x], s) => [softmaxBackward(g, x!, s)]),
  // losses[r] = -sum_j q_rj log softmax(logits[r])_j  =>  dlogits[r] = (softmax - q) dlosses[r]
  crossEntropy: rule<CrossEntropySaved>((g, [logits], s) => [crossEntropyBackward(g, logits!, s)]),
  // y = layerNorm(x, w, b) or rmsNorm(x, w); inputs [x, w?, b?]
  norm: rule<NormSaved>((g, inputs, s) => normBackward(g, inputs, s)),
  // out[i] = weight[ids[i]]  =>  dweight[ids[i]] += dout[i]
  embedding: rule<EmbeddingSaved>((g, [weight], s) => [embeddingBackward(g, weight!, s)]),
  // out = softmax(q k^T * scale + mask) v  =>  dq, dk, dv (dk, dv summed over a kv group)
  attention: rule<AttentionSaved>((g, [q, k, v], s) => attentionBackward(g, q!, k!, v!, s)),
  // y = R(angle) x (rotary embedding)  =>  dx = R(-angle) dy
  rope: rule<RopeSaved>((g, _, s) => [ropeBackward(g, s)]),
  // h_1..h_T of an LSTM / GRU layer  =>  backward through time (ops/rnn.ts), inputs
  // [xProj, W_hh, h0, c0] / [xProj, W_hh, b_hh, h0]
  lstm: rule<LstmSaved>((g, inputs, s) => lstmBackward(g, inputs, s)),
  gru: rule<GruSaved>((g, inputs, s) => gruBackward(g, inputs, s)),

  // ---- joining and selection -------------------------------------------------------
  // y = concat(x_0, x_1, ..., axis)  =>  dx_i = dy narrowed to x_i's slice
  concat: rule<ConcatSaved>((g, inputs, s) => concatBackward(g, inputs, s)),
  // y = where(c, a, b)  =>  da = where(c, dy, 0), db = where(c, 0, dy); c gets none
  where: rule<null>((g, [condition, a, b]) => whereBackward(g, condition!, a!, b!)),
  // y = gather(x, axis, index)  =>  dx = scatter-add of dy at index
  gather: rule<GatherSaved>((g, [x], s) => [gatherBackward(g, x!, s)]),

  // ---- mixture of experts (ops/moe.ts): rows grouped by expert ----------------------
  // g = softmax(l_S) (or softmax(l)_S)  =>  dl = g (dg - <dg, g>) on S (or p (dp - <dg, g>))
  moeGates: rule<GatesSaved>((g, [logits], s) => [routerGatesBackward(g, logits!, s)]),
  // xs[slot(n, j)] = x[n]  =>  dx[n] = sum_j dxs[slot(n, j)]
  moeDispatch: rule<MoeSaved>((g, _, s) => [dispatchBackward(g, s)]),
  // y[n] = sum_j gate[n, j] ys[slot(n, j)]  =>  dys[slot] = gate dy[n], dgate[n, j] = <dy[n], ys[slot]>
  moeCombine: rule<MoeSaved>((g, [ys, gates], s) => combineBackward(g, ys!, gates!, s)),
  // y_e = x_e W_e^T per expert group  =>  dx_e = dy_e W_e, dW_e = dy_e^T x_e; inputs [x, W_0, ..., W_E-1]
  groupedMatmul: rule<MoeSaved>((g, inputs, s) => groupedMatmulBackward(g, inputs, s)),
};

export type OpName = keyof typeof rules;
export type SavedOf<K extends OpName> = Parameters<(typeof rules)[K]>[2];
