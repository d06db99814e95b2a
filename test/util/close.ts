/**
 * The one closeness check of the test suite: are these numbers close, and if not, where not.
 *
 * Semantics, elementwise over the flattened values (a Tensor is read with toArray()):
 * - two finite values pass when |actual - expected| <= atol + rtol * |expected|, the
 *   numpy/torch `allclose` rule (asymmetric: the tolerance scales with the expected value).
 *   -0 and +0 are equal (their difference is 0).
 * - NaN equals NaN only where expected is NaN: an actual NaN where a number was expected
 *   fails, and so does a number where NaN was expected.
 * - +Infinity and -Infinity must match exactly; a finite value, however large, never
 *   matches an infinity (the bare rule would let it through, since rtol * Infinity = Infinity).
 * - with `finite: true`, any NaN or infinity on either side fails, even a matching one: for
 *   comparing two lmforge computations that must be finite, where NaN on both sides means
 *   both runs broke the same way rather than that they agree.
 * - lengths must be equal always; shapes too when both sides are Tensors.
 *
 * A failure message names the check, how many elements failed, the tolerances, the max abs
 * and max rel diff, and the first bad index (unravelled by the tensor's shape) with the
 * actual and expected values there. There are no default tolerances: every call site says
 * what it allows.
 *
 * @example
 * assertClose('logits', logits, fixture.get('logits')!, { atol: 2e-5, rtol: 0 });
 * assertBitEqual('reloaded weight', loaded, saved);
 */
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/index.js';

/** Numbers to compare: a Tensor (any dtype, read in logical order) or a flat array. */
export type Values = Tensor | ArrayLike<number>;

/** A finite pair passes when |actual - expected| <= atol + rtol * |expected|. */
export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

export interface CloseOptions extends Tolerance {
  /** Flat indices left out of the comparison (the caller checks them separately). */
  readonly skip?: (index: number) => boolean;
  /** Fail on any NaN or +-Infinity, even where actual and expected agree (see the header). */
  readonly finite?: boolean;
}

export interface Diff {
  /** Largest |actual - expected| over the compared elements; Infinity if a non-finite value mismatched. */
  readonly maxAbs: number;
  /** Largest |actual - expected| / |expected| where expected is finite and non-zero; Infinity as above. */
  readonly maxRel: number;
  /** How many compared elements failed. */
  readonly bad: number;
  /** Flat index of the first failing element, or -1. */
  readonly firstBad: number;
}

function flat(values: Values): ArrayLike<number> {
  return values instanceof Tensor ? values.toArray() : values;
}

/** Compares elementwise under the semantics of the file header; throws if the lengths differ. */
export function diff(actual: Values, expected: Values, options: CloseOptions): Diff {
  const got = flat(actual);
  const want = flat(expected);
  if (got.length !== want.length) {
    throw new RangeError(`diff: actual has ${got.length} elements, expected ${want.length}`);
  }
  const { atol, rtol, skip, finite = false } = options;
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < want.length; i++) {
    if (skip?.(i)) continue;
    const a = got[i]!;
    const e = want[i]!;
    let ok: boolean;
    if (Number.isFinite(a) && Number.isFinite(e)) {
      const abs = Math.abs(a - e);
      ok = abs <= atol + rtol * Math.abs(e);
      maxAbs = Math.max(maxAbs, abs);
      if (e !== 0) maxRel = Math.max(maxRel, abs / Math.abs(e));
    } else {
      // a === e holds for equal infinities only (NaN !== NaN); a NaN matches an expected NaN.
      ok = !finite && (a === e || (Number.isNaN(a) && Number.isNaN(e)));
      if (!ok) maxAbs = maxRel = Infinity;
    }
    if (!ok) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  return { maxAbs, maxRel, bad, firstBad };
}

function position(index: number, shape: readonly number[]): string {
  if (shape.length <= 1) return `${index}`;
  const at = new Array<number>(shape.length);
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    at[d] = rest % shape[d]!;
    rest = Math.floor(rest / shape[d]!);
  }
  return `[${at.join(', ')}] (flat ${index})`;
}

/**
 * Asserts that actual is close to expected (semantics in the file header) and returns the
 * differences, so a caller can report the worst case of a passing run.
 */
export function assertClose(what: string, actual: Values, expected: Values, options: CloseOptions): Diff {
  if (actual instanceof Tensor && expected instanceof Tensor) {
    assert.deepEqual(
      [...actual.shape],
      [...expected.shape],
      `${what}: shape [${actual.shape.join(', ')}], expected [${expected.shape.join(', ')}]`,
    );
  }
  const got = flat(actual);
  const want = flat(expected);
  assert.equal(got.length, want.length, `${what}: ${got.length} elements, expected ${want.length}`);
  const d = diff(got, want, options);
  if (d.bad > 0) {
    const shape = expected instanceof Tensor ? expected.shape : actual instanceof Tensor ? actual.shape : [];
    assert.fail(
      `${what}: ${d.bad} of ${want.length} elements outside atol ${options.atol} + rtol ${options.rtol} * |expected|` +
        `${options.finite === true ? ' (NaN and infinities not allowed)' : ''}; ` +
        `max abs diff ${d.maxAbs.toExponential(3)}, max rel diff ${d.maxRel.toExponential(3)}; ` +
        `first bad index ${position(d.firstBad, shape)}: actual ${got[d.firstBad]}, expected ${want[d.firstBad]}`,
    );
  }
  return d;
}

/**
 * Asserts identical values: tolerance 0 and no NaN or infinity anywhere (`finite: true`),
 * for reproductions of a finite computation (save/load, determinism). -0 equals +0.
 */
export function assertBitEqual(what: string, actual: Values, expected: Values): void {
  assertClose(what, actual, expected, { atol: 0, rtol: 0, finite: true });
}
