/** Elementwise comparison for model tests: fails with max abs/rel diff and the first bad index. */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/index.js';

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

export interface Diff {
  readonly maxAbs: number;
  readonly maxRel: number;
  /** First index where |a - e| > atol + rtol |e|, or -1. */
  readonly firstBad: number;
}

export function diff(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): Diff {
  let maxAbs = 0;
  let maxRel = 0;
  let firstBad = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), 1e-30);
    if (abs > maxAbs || Number.isNaN(abs)) maxAbs = abs;
    if (rel > maxRel && e !== 0) maxRel = rel;
    if (firstBad < 0 && !(abs <= tol.atol + tol.rtol * Math.abs(e))) firstBad = i;
  }
  return { maxAbs, maxRel, firstBad };
}

/** Asserts shapes match and every element is within tolerance. */
export function assertClose(what: string, actual: Tensor, expected: Tensor, tol: Tolerance): Diff {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what}: shape`);
  const a = actual.toArray();
  const e = expected.toArray();
  const d = diff(a, e, tol);
  assert.ok(
    d.firstBad < 0,
    `${what}: max abs diff ${d.maxAbs.toExponential(3)}, max rel diff ${d.maxRel.toExponential(3)}, ` +
      `first bad index ${d.firstBad} (actual ${a[d.firstBad]}, expected ${e[d.firstBad]}; atol ${tol.atol}, rtol ${tol.rtol})`,
  );
  return d;
}

/** Asserts bit equality (same float32 values), reporting the first differing index. */
export function assertBitEqual(what: string, actual: Tensor, expected: Tensor): void {
  assertClose(what, actual, expected, { atol: 0, rtol: 0 });
}
