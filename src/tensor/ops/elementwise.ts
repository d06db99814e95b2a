/**
 * Elementwise ops: broadcast binary arithmetic and unary math/activations.
 * Scalars are accepted wherever a tensor is and broadcast like a 0-d tensor.
 */
import { Tensor } from '../tensor.js';
import { backend, type BinaryOp, type UnaryOp } from '../backend.js';
import { record } from '../autograd/tape.js';
import { broadcastShapes, broadcastStrides, shapesEqual } from '../shape.js';
import { alias, contiguous } from './layout.js';
import { sumToShape } from './reduce.js';
import { DTypeError } from '../../util/errors.js';
import { isFloat } from '../dtype.js';

export type TensorLike = Tensor | number;

export function scalar(value: number, dtype: Tensor['dtype'] = 'float32'): Tensor {
  const t = Tensor.empty([], dtype, false);
  t.data[0] = value;
  return t;
}

function asTensor(value: TensorLike, like: Tensor): Tensor {
  return typeof value === 'number' ? scalar(value, like.dtype) : value;
}

export interface BinarySaved {
  readonly op: BinaryOp;
}

/** out = op(a, b) with NumPy broadcasting. */
export function binary(op: BinaryOp, aIn: TensorLike, bIn: TensorLike): Tensor {
  const a = typeof aIn === 'number' ? asTensor(aIn, bIn as Tensor) : aIn;
  const b = asTensor(bIn, a);
  if (a.dtype !== b.dtype) {
    throw new DTypeError('operands have different dtypes', { where: op, expected: a.dtype, actual: b.dtype });
  }
  // Equal shapes (residual adds, gating): the output shares a's frozen shape array.
  const shape = shapesEqual(a.shape, b.shape) ? a.shape : broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.emptyOwned(shape, a.dtype, false);
  backend().binary(op, a.data, b.data, out.data, {
    shape,
    stridesA: broadcastStrides(a.shape, a.strides, shape),
    stridesB: broadcastStrides(b.shape, b.strides, shape),
    offsetA: a.offset,
    offsetB: b.offset,
  });
  return record('binary', [a, b], out, { op });
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);

/**
 * Gradients of out = op(a, b), each reduced back over the dimensions it was broadcast on.
 *   add: da = g, db = g            sub: da = g, db = -g
 *   mul: da = g b, db = g a        div: da = g / b, db = -g a / b^2
 *   pow: da = g b a^(b-1), db = g a^b ln a
 *   maximum/minimum: the gradient goes to the selected operand (ties split evenly, as PyTorch does)
 */
export function binaryBackward(
  g: Tensor,
  a: Tensor,
  b: Tensor,
  s: BinarySaved,
): [Tensor | null, Tensor | null] {
  const wantA = a.requiresGrad;
  const wantB = b.requiresGrad;
  const reduce = (grad: Tensor, like: Tensor): Tensor => {
    const r = sumToShape(grad, like.shape);
    return r === grad ? r : (grad.dispose(), r);
  };
  switch (s.op) {
    case 'add':
      return [wantA ? reduce(alias(g), a) : null, wantB ? reduce(alias(g), b) : null];
    case 'sub':
      return [wantA ? reduce(alias(g), a) : null, wantB ? reduce(neg(contiguous(g)), b) : null];
    case 'mul':
      return [wantA ? reduce(mul(g, b), a) : null, wantB ? reduce(mul(g, a), b) : null];
    case 'div':
      return [wantA ? reduce(div(g, b), a) : null, wantB ? reduce(neg(div(mul(g, a), mul(b, b))), b) : null];
    case 'pow':
      return [
        wantA ? reduce(mul(mul(g, b), pow(a, sub(b, 1))), a) : null,
        wantB ? reduce(mul(mul(g, pow(a, b)), unary('log', a)), b) : null,
      ];
    case 'maximum':
    case 'minimum': {
      // share = 1 where this operand was chosen, 0.5 on ties, 0 otherwise.
      const pick = (x: Tensor, y: Tensor): Tensor => {
        const chosen = s.op === 'maximum' ? binary('sub', x, y) : binary('sub', y, x);
        const share = unary('sign', chosen);
        return mul(add(share, 1), 0.5);
      };
      return [wantA ? reduce(mul(g, pick(a, b)), a) : null, wantB ? reduce(mul(g, pick(b, a)), b) : null];
    }
  }
}

export interface UnarySaved {
  readonly op: UnaryOp;
  /** The forward output, for ops whose derivative uses it (exp, tanh, sigmoid). */
  readonly output: Tensor;
}

/** y = op(x) elementwise (float tensors). */
export function unary(op: UnaryOp, xIn: Tensor): Tensor {
  if (!isFloat(xIn.dtype)) {
    throw new DTypeError('expected a float tensor', {
      where: op,
      expected: 'float32 or float64',
      actual: xIn.dtype,
    });
  }
  const x = contiguous(xIn);
  const y = Tensor.empty(x.shape, x.dtype, false);
  backend().unary(op, x.floats(), y.floats(), x.size);
  return record('unary', [x], y, { op, output: y });
}

/** dx = dy * op'(x). */
export function unaryBackward(g: Tensor, x: Tensor, s: UnarySaved): Tensor {
  const dy = contiguous(g);
  const dx = Tensor.empty(x.shape, x.dtype, false);
  backend().unaryBackward(s.op, x.floats(), s.output.floats(), dy.floats(), dx.floats(), x.size);
  return dx;
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** Exact GELU, x * Phi(x). */
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
/** GELU with GPT-2's tanh approximation. */
export const geluTanh = (x: Tensor): Tensor => unary('geluTanh', x);
export const silu = (x: Tensor): Tensor => unary('silu', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const square = (x: Tensor): Tensor => unary('square', x);
