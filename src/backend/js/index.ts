/**
 * The portable TypeScript backend: readable reference kernels that run anywhere
 * (Node or a browser). Every other backend is tested against it.
 */
import type { Backend } from '../../tensor/backend.js';
import { copyStrided } from './copy.js';
import { gemm } from './gemm.js';
import { unary, unaryBackward, binary, affine } from './elementwise.js';
import { reduceSum, reduceMax } from './reduce.js';

function pending(name: string): never {
  throw new Error(`js backend: ${name} is not implemented yet`);
}

export const jsBackend: Backend = {
  name: 'js',
  isa: 'js',
  threads: 1,
  setThreads(): void {
    // Single-threaded by design: the reference kernels favour readability.
  },
  copyStrided,
  gemm,
  unary,
  unaryBackward,
  binary,
  affine,
  reduceSum,
  reduceMax,
  softmax: () => pending('softmax'),
  softmaxBackward: () => pending('softmaxBackward'),
  crossEntropyForward: () => pending('crossEntropyForward'),
  crossEntropyBackward: () => pending('crossEntropyBackward'),
  layerNormForward: () => pending('layerNormForward'),
  layerNormBackward: () => pending('layerNormBackward'),
  rmsNormForward: () => pending('rmsNormForward'),
  rmsNormBackward: () => pending('rmsNormBackward'),
  embeddingForward: () => pending('embeddingForward'),
  embeddingBackward: () => pending('embeddingBackward'),
  attentionForward: () => pending('attentionForward'),
  attentionBackward: () => pending('attentionBackward'),
  sumOfSquares: () => pending('sumOfSquares'),
  adamw: () => pending('adamw'),
};
