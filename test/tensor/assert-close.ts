/** Array comparison that reports max abs/rel diff and the first bad index on failure. */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/index.js';

export function assertClose(
  what: string,
  actual: Tensor | ArrayLike<number>,
  expected: ArrayLike<number>,
  options: { atol?: number; rtol?: number } = {},
): void {
  const { atol = 1e-6, rtol = 1e-5 } = options;
  const got = 'toArray' in actual ? actual.toArray() : Array.from(actual);
  assert.equal(got.length, expected.length, `${what}: length ${got.length}, expected ${expected.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let firstBad = -1;
  for (let i = 0; i < got.length; i++) {
    const a = got[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const abs = a === e ? 0 : Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), 1e-300);
    maxAbs = Math.max(maxAbs, abs);
    maxRel = Math.max(maxRel, Number.isFinite(rel) ? rel : 0);
    if (firstBad < 0 && !(abs <= atol + rtol * Math.abs(e))) firstBad = i;
  }
  if (firstBad >= 0) {
    assert.fail(
      `${what}: max abs diff ${maxAbs.toExponential(3)}, max rel diff ${maxRel.toExponential(3)}; ` +
        `first bad index ${firstBad}: got ${got[firstBad]}, expected ${expected[firstBad]}`,
    );
  }
}
