/**
 * lmforge/tensor: the tensor engine (Tensor, ops, autograd, PRNG). Kernels come from the
 * installed backend; import 'lmforge' (or src/backend) once to install the default.
 *
 * The public API only, named one by one: each op's backward function and saved-state type
 * (matmulBackward, MatmulSaved, ...) stay internal to the autograd rules table.
 */
export { Tensor, isTensor } from './tensor.js';
export type { DType, FloatDType, TypedArray, FloatArray } from './dtype.js';
export { type Shape, numel, shapesEqual, broadcastShapes } from './shape.js';
export { scope, keep } from './scope.js';
export { poolStats, clearPool, setPoolLimit } from './storage.js';
export { backend, setBackend, type Backend } from './backend.js';
export { backward, noGrad, isGradEnabled, zeroGrad } from './autograd/tape.js';
export {
  layoutOf,
  contiguous,
  reshape,
  permute,
  transpose,
  narrow,
  expand,
  unsqueeze,
  squeeze,
} from './ops/layout.js';
export {
  type TensorLike,
  scalar,
  binary,
  unary,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  neg,
  exp,
  log,
  sqrt,
  rsqrt,
  tanh,
  sigmoid,
  relu,
  gelu,
  geluTanh,
  silu,
  abs,
  square,
} from './ops/elementwise.js';
export { type ReduceOptions, sum, mean, variance, max } from './ops/reduce.js';
export { matmul, matmulTransposed } from './ops/matmul.js';
export { Rng, type RngState } from './random.js';
export { tensor, full, zeros, ones, arange, type RandnOptions, randn, rand, randint } from './ops/create.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { type Reduction, type CrossEntropyOptions, crossEntropy } from './ops/loss.js';
export { layerNorm, rmsNorm } from './ops/norm.js';
export { embedding, type EmbeddingOpOptions } from './ops/embedding.js';
export { type AttentionOptions, scaledDotProductAttention } from './ops/attention.js';
export { composedAttention, type AttentionWithProbabilities } from './ops/attention-composed.js';
export { attentionDropoutFactors } from './ops/attention-dropout.js';
export { dropout } from './ops/dropout.js';
export { type RecurrentResult, lstm, gru } from './ops/rnn.js';
export { concat, split, stack } from './ops/join.js';
export { where, maskedFill, gather, argmax, type TopK, topk, triu, tril } from './ops/select.js';
export {
  type ExpertRouting,
  type GateRule,
  expertChoices,
  routerGates,
  routeTokens,
  dispatchTokens,
  combineExperts,
  groupedMatmul,
} from './ops/moe.js';
