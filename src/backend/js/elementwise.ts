/** Reference elementwise kernels: unary math/activations (and derivatives) and broadcast binary ops. */
import type { TypedArray } from '../../tensor/dtype.js';
import type { BinaryOp, BroadcastLayout, F, UnaryOp } from '../../tensor/backend.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
/** sqrt(2 / pi), GPT-2's tanh-GELU constant. */
const GELU_TANH_C = Math.sqrt(2 / Math.PI);

/**
 * erf to double precision (relative error ~1e-16): W. J. Cody's rational Chebyshev
 * approximations ("Rational Chebyshev approximations for the error function", Math. Comp.
 * 1969; netlib specfun CALERF). Full precision matters because float64 runs are what
 * the finite-difference gradient checks differentiate.
 */
const ERF_A = [
  3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947, 0.185777706184603153,
];
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERFC_C = [
  0.564188496988670089, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909,
  1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8,
];
const ERFC_D = [
  15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963,
  4362.61909014324716, 3439.36767414372164, 1230.33935480374942,
];
const ERFC_P = [
  0.305326634961232344, 0.360344899949804439, 0.125781726111229246, 0.0160837851487422766,
  6.58749161529837803e-4, 0.0163153871373020978,
];
const ERFC_Q = [
  2.56852019228982242, 1.87295284992346047, 0.527905102951428412, 0.0605183413124413191,
  0.00233520497626869185,
];
const SQRT_1_PI = 0.56418958354775628695;

export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) {
    const ysq = y * y;
    let num = ERF_A[4]! * ysq;
    let den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + ERF_A[i]!) * ysq;
      den = (den + ERF_B[i]!) * ysq;
    }
    return (x * (num + ERF_A[3]!)) / (den + ERF_B[3]!);
  }
  if (y >= 6) return x > 0 ? 1 : -1; // erfc(6) < 2.2e-17: erf is 1 to double precision
  let erfc: number;
  if (y <= 4) {
    let num = ERFC_C[8]! * y;
    let den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERFC_C[i]!) * y;
      den = (den + ERFC_D[i]!) * y;
    }
    erfc = (num + ERFC_C[7]!) / (den + ERFC_D[7]!);
  } else {
    const z = 1 / (y * y);
    let num = ERFC_P[5]! * z;
    let den = z;
    for (let i = 0; i < 4; i++) {
      num = (num + ERFC_P[i]!) * z;
      den = (den + ERFC_Q[i]!) * z;
    }
    erfc = (SQRT_1_PI - (z * (num + ERFC_P[4]!)) / (den + ERFC_Q[4]!)) / y;
  }
  // exp(-y^2) split as exp(-r^2) exp(-(y - r)(y + r)) with r = y rounded down to 1/16: avoids
  // the rounding error of forming y^2 directly.
  const r = Math.trunc(y * 16) / 16;
  erfc *= Math.exp(-r * r) * Math.exp(-(y - r) * (y + r));
  return x > 0 ? 1 - erfc : erfc - 1;
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
