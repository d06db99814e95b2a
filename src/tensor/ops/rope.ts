/**
 * Rotary position embedding as one fused op (the `rope` kernel, src/backend/js/rope.ts):
 * y = x * cat(cos, cos) + rotate_half(x) * cat(sin, sin), rotate_half(x) = cat(-x2, x1), at
 * positions [pos0, pos0 + T). The composed form takes two narrows, a concat, two muls and an
 * add per call; this is one kernel call and one output tensor.
 *
 * Legend: T time, hs head size, P table positions; x (..., T, hs), cos and sin (P, hs/2).
 */
import { Tensor } from '../tensor.js';
import { backend } from '../backend.js';
import { record } from '../autograd/tape.js';
import { formatShape } from '../shape.js';
import { isFloat } from '../dtype.js';
import { contiguous } from './layout.js';
import { DTypeError, ShapeError } from '../../util/errors.js';

export interface RopeSaved {
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly pos0: number;
}

function check(x: Tensor, cos: Tensor, sin: Tensor, pos0: number): void {
  if (!isFloat(x.dtype) || cos.dtype !== x.dtype || sin.dtype !== x.dtype) {
    throw new DTypeError('x, cos and sin must share one float dtype', {
      where: 'rope',
      expected: 'float32 or float64, all three alike',
      actual: `x ${x.dtype}, cos ${cos.dtype}, sin ${sin.dtype}`,
    });
  }
  const hs = x.shape[x.ndim - 1];
  const T = x.shape[x.ndim - 2];
  const P = cos.shape[0]!;
  const tables = cos.ndim === 2 && sin.ndim === 2 && sin.shape[0] === P;
  if (x.ndim < 2 || hs! % 2 !== 0 || !tables || cos.shape[1]! * 2 !== hs || sin.shape[1]! * 2 !== hs) {
    throw new ShapeError('rope needs x (..., T, hs) with hs even and cos, sin (P, hs/2)', {
      where: 'rope',
      expected: '(..., T, hs), (P, hs/2), (P, hs/2)',
      actual: `x ${formatShape(x.shape)}, cos ${formatShape(cos.shape)}, sin ${formatShape(sin.shape)}`,
    });
  }
  if (!(Number.isInteger(pos0) && pos0 >= 0 && pos0 + T! <= P)) {
    throw new ShapeError('positions run past the rotary tables', {
      where: 'rope',
      expected: `0 <= pos0 and pos0 + T <= ${P}`,
      actual: `pos0 ${pos0} + T ${T}`,
    });
  }
}

/** R(sign * angle) applied to every (T, hs) block of x; `inverse` rotates back. */
function rotate(x: Tensor, s: RopeSaved, inverse: boolean): Tensor {
  const hs = x.shape[x.ndim - 1]!;
  const T = x.shape[x.ndim - 2]!;
  const y = Tensor.empty(x.shape, x.dtype, false);
  const R = T * hs === 0 ? 0 : x.size / (T * hs);
  backend().rope(x.floats(), s.cos.floats(), s.sin.floats(), y.floats(), R, T, hs, s.pos0, inverse);
  return y;
}

/**
 * Rotates x (..., T, hs) by the angles of table rows [pos0, pos0 + T).
 *
 * @example
 * const q2 = rope(q, cos, sin, offset); // q (B, nH, T, hs), cos/sin (P, hs/2)
 */
export function rope(xIn: Tensor, cosIn: Tensor, sinIn: Tensor, pos0: number): Tensor {
  check(xIn, cosIn, sinIn, pos0);
  const saved: RopeSaved = { cos: contiguous(cosIn), sin: contiguous(sinIn), pos0 };
  const x = contiguous(xIn);
  return record('rope', [x], rotate(x, saved, false), saved);
}

/** y = R(a) x  =>  dx = R(a)^T dy = R(-a) dy (a rotation is orthogonal). */
export function ropeBackward(g: Tensor, s: RopeSaved): Tensor {
  return rotate(contiguous(g), s, true);
}
