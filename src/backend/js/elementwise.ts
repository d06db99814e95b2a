/** Reference elementwise kernels: unary math/activations (and derivatives) and broadcast binary ops. */
import type { TypedArray } from '../../tensor/dtype.js';
import type { BinaryOp, BroadcastLayout, F, UnaryOp } from '../../tensor/backend.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
/** sqrt(2 / pi), GPT-2's tanh-GELU constant. */
const GELU_TANH_C = Math.sqrt(2 / Math.PI);

/** erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit): float32-exact. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

function forward(op: UnaryOp, x: number): number {
  switch (op) {
    case 'neg':
      return -x;
    case 'exp':
      return Math.exp(x);
    case 'log':
      return Math.log(x);
    case 'sqrt':
      return Math.sqrt(x);
    case 'rsqrt':
      return 1 / Math.sqrt(x);
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'relu':
      return x > 0 ? x : 0;
    case 'gelu':
      return 0.5 * x * (1 + erf(x * SQRT1_2));
    case 'geluTanh':
      return 0.5 * x * (1 + Math.tanh(GELU_TANH_C * (x + 0.044715 * x * x * x)));
    case 'silu':
      return x / (1 + Math.exp(-x));
    case 'abs':
      return Math.abs(x);
    case 'square':
      return x * x;
    case 'sign':
      return x > 0 ? 1 : x < 0 ? -1 : 0;
  }
}

/** d op(x) / dx, given x and y = op(x). */
function derivative(op: UnaryOp, x: number, y: number): number {
  switch (op) {
    case 'neg':
      return -1;
    case 'exp':
      return y;
    case 'log':
      return 1 / x;
    case 'sqrt':
      return 0.5 / y;
    case 'rsqrt':
      return -0.5 * y * y * y;
    case 'tanh':
      return 1 - y * y;
    case 'sigmoid':
      return y * (1 - y);
    case 'relu':
      return x > 0 ? 1 : 0;
    case 'gelu':
      // d/dx x Phi(x) = Phi(x) + x phi(x)
      return 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
    case 'geluTanh': {
      const inner = GELU_TANH_C * (x + 0.044715 * x * x * x);
      const t = Math.tanh(inner);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_C * (1 + 3 * 0.044715 * x * x);
    }
    case 'silu': {
      const s = 1 / (1 + Math.exp(-x));
      return s * (1 + x * (1 - s));
    }
    case 'abs':
      return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'square':
      return 2 * x;
    case 'sign':
      return 0;
  }
}

export function unary(op: UnaryOp, x: F, y: F, N: number): void {
  for (let i = 0; i < N; i++) y[i] = forward(op, x[i]!);
}

export function unaryBackward(op: UnaryOp, x: F, y: F, dy: F, dx: F, N: number): void {
  for (let i = 0; i < N; i++) dx[i] = dy[i]! * derivative(op, x[i]!, y[i]!);
}

function apply(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return a / b;
    case 'pow':
      return Math.pow(a, b);
    case 'maximum':
      return a > b || Number.isNaN(a) ? a : b;
    case 'minimum':
      return a < b || Number.isNaN(a) ? a : b;
  }
}

export function binary(
  op: BinaryOp,
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  layout: BroadcastLayout,
): void {
  const { shape, stridesA, stridesB } = layout;
  const nd = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  if (nd === 0) {
    out[0] = apply(op, a[layout.offsetA]!, b[layout.offsetB]!);
    return;
  }
  const last = nd - 1;
  const n = shape[last]!;
  const sa = stridesA[last]!;
  const sb = stridesB[last]!;
  const index = new Array<number>(nd).fill(0);
  let ia = layout.offsetA;
  let ib = layout.offsetB;
  for (let o = 0; o < total; o += n) {
    if (op === 'add' && sa === 1 && sb === 1)
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! + b[ib + j]!;
    else if (op === 'mul' && sa === 1 && sb === 1)
      for (let j = 0; j < n; j++) out[o + j] = a[ia + j]! * b[ib + j]!;
    else for (let j = 0; j < n; j++) out[o + j] = apply(op, a[ia + j * sa]!, b[ib + j * sb]!);
    for (let ax = last - 1; ax >= 0; ax--) {
      index[ax]!++;
      ia += stridesA[ax]!;
      ib += stridesB[ax]!;
      if (index[ax]! < shape[ax]!) break;
      ia -= stridesA[ax]! * shape[ax]!;
      ib -= stridesB[ax]! * shape[ax]!;
      index[ax] = 0;
    }
  }
}

export function affine(x: F, y: F, N: number, alpha: number, beta: number): void {
  for (let i = 0; i < N; i++) y[i] = x[i]! * alpha + beta;
}
