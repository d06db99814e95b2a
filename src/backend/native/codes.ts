/** Op codes shared with native/lmf.h (enum LMF_NEG..., LMF_ADD...): same order, same numbers. */
import type { BinaryOp, UnaryOp } from '../../tensor/backend.js';

export const unaryCode: Readonly<Record<UnaryOp, number>> = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  tanh: 5,
  sigmoid: 6,
  relu: 7,
  gelu: 8,
  geluTanh: 9,
  silu: 10,
  abs: 11,
  square: 12,
  sign: 13,
};

export const binaryCode: Readonly<Record<BinaryOp, number>> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  minimum: 6,
};
