/**
 * Rotary position embedding (Su et al., 2021) in the rotate_half convention of HF Llama:
 * each row x of a head (length hs) is split into halves x1, x2 and rotated pairwise,
 *   y1 = x1 cos(a) - x2 sin(a),   y2 = x2 cos(a) + x1 sin(a),   a = angle[pos, i],
 * i.e. y = x * cat(cos, cos) + rotate_half(x) * cat(sin, sin), rotate_half(x) = cat(-x2, x1).
 * A rotation is orthogonal, so the backward is the rotation by -a: dx = R(-a) dy, which is
 * this kernel with `inverse` (y1 = x1 cos + x2 sin, y2 = x2 cos - x1 sin). Nothing is saved.
 *
 * Legend: R rows of heads (B * nH), T time, hs head size, P table positions;
 * x, y (R, T, hs); cos, sin (P, hs/2); row t of x sits at position pos0 + t.
 *
 * float32 arrays round every product and sum to float32 (Math.fround), as the composed
 * mul/add ops do, so the fused kernel matches them bit for bit; float64 runs in float64.
 */
import type { F } from '../../tensor/backend.js';

const exact = (v: number): number => v;

export function rope(
  x: F,
  cos: F,
  sin: F,
  y: F,
  R: number,
  T: number,
  hs: number,
  pos0: number,
  inverse: boolean,
): void {
  const half = hs >> 1;
  const round = y instanceof Float32Array ? Math.fround : exact;
  const sign = inverse ? -1 : 1;
  for (let r = 0; r < R; r++) {
    for (let t = 0; t < T; t++) {
      const row = (r * T + t) * hs;
      const table = (pos0 + t) * half;
      for (let i = 0; i < half; i++) {
        const c = cos[table + i]!;
        const s = sign * sin[table + i]!;
        const x1 = x[row + i]!;
        const x2 = x[row + half + i]!;
        y[row + i] = round(round(x1 * c) - round(x2 * s));
        y[row + half + i] = round(round(x2 * c) + round(x1 * s));
      }
    }
  }
}
