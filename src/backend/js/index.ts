/**
 * The portable TypeScript backend: readable reference kernels that run anywhere
 * (Node or a browser). Every other backend is tested against it.
 */
import type { Backend } from '../../tensor/backend.js';
import { copyStrided } from './copy.js';
import { gemm } from './gemm.js';
import { unary, unaryBackward, binary, affine } from './elementwise.js';
import { reduceSum, reduceMax } from './reduce.js';
import { softmax, softmaxBackward } from './softmax.js';
import { crossEntropyForward, crossEntropyBackward } from './loss.js';
import { layerNormForward, layerNormBackward, rmsNormForward, rmsNormBackward } from './norm.js';
import { embeddingForward, embeddingBackward } from './embedding.js';
import { attentionForward, attentionBackward } from './attention.js';
import { rope } from './rope.js';
import { quantMatmul } from './quant.js';
import { decodeLayer } from './decode.js';
import {
  groupedGemm,
  moeCombine,
  moeDispatch,
  moeGateGrad,
  moeGates,
  moeGatesBackward,
  moeTopk,
} from './moe.js';
import { lstmCellForward, lstmCellBackward, gruCellForward, gruCellBackward } from './rnn.js';
import { sumOfSquares, adamw } from './optim.js';

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
  softmax,
  softmaxBackward,
  crossEntropyForward,
  crossEntropyBackward,
  layerNormForward,
  layerNormBackward,
  rmsNormForward,
  rmsNormBackward,
  embeddingForward,
  embeddingBackward,
  attentionForward,
  attentionBackward,
  rope,
  quantMatmul,
  decodeLayer,
  groupedGemm,
  moeTopk,
  moeGates,
  moeGatesBackward,
  moeDispatch,
  moeCombine,
  moeGateGrad,
  lstmCellForward,
  lstmCellBackward,
  gruCellForward,
  gruCellBackward,
  sumOfSquares,
  adamw,
};
