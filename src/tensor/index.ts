/**
 * lmforge/tensor: the tensor engine (Tensor, ops, autograd, PRNG). Kernels come from the
 * installed backend; import 'lmforge' (or src/backend) once to install the default.
 */
export { Tensor, isTensor } from './tensor.js';
export type { DType, FloatDType, TypedArray, FloatArray } from './dtype.js';
export { type Shape, numel, shapesEqual, broadcastShapes } from './shape.js';
export { scope, keep } from './scope.js';
export { poolStats, clearPool, setPoolLimit } from './storage.js';
export { backend, setBackend, type Backend } from './backend.js';
export { backward, noGrad, isGradEnabled, zeroGrad } from './autograd/tape.js';
export * from './ops/layout.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/matmul.js';
export { Rng, type RngState } from './random.js';
export * from './ops/create.js';
export * from './ops/softmax.js';
export * from './ops/loss.js';
export * from './ops/norm.js';
export * from './ops/embedding.js';
export * from './ops/attention.js';
export { composedAttention, type AttentionWithProbabilities } from './ops/attention-composed.js';
export { attentionDropoutFactors } from './ops/attention-dropout.js';
export * from './ops/dropout.js';
export * from './ops/join.js';
export * from './ops/select.js';
