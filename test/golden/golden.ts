/**
 * Shared by the golden tests: the manifest written by tools/reference/make_goldens.py, the
 * fixture loader (through lmforge's own safetensors reader), and a tolerance check that
 * reports max abs diff, max rel diff and the first bad index.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { type Tensor } from '../../src/tensor/index.js';
import { parseSafetensors } from '../../src/io/index.js';

export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
  readonly reason: string;
}

export interface OpCase {
  readonly name: string;
  readonly op: string;
  readonly file: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly upstream: readonly string[];
  /** input name -> tensor name of its expected gradient. */
  readonly grads: Readonly<Record<string, string>>;
  readonly seed: number;
  readonly dtype: 'float32' | 'float64';
  readonly tolerance: Tolerance;
  readonly torchFloat32MaxAbsErrorVsFloat64: number;
}

export interface ModelCase {
  readonly name: string;
  readonly file: string;
  readonly seed: number;
  readonly config: {
    B: number;
    T: number;
    C: number;
    nH: number;
    V: number;
    L: number;
    layerNormEps: number;
  };
  readonly optimizer: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    gradClip: number;
    steps: number;
  };
  readonly parameters: readonly string[];
  readonly noiseDriven: ReadonlyArray<{
    parameter: string;
    range: [number, number];
    atol: number;
    reason: string;
  }>;
  readonly tolerance: { forward: Tolerance; grad: Tolerance; params: Tolerance };
}

export interface Manifest {
  readonly torch: string;
  readonly cases: readonly OpCase[];
  readonly models: readonly ModelCase[];
}

/** test/golden in the source tree (the compiled tests run from dist/test/golden, which has no fixtures). */
export const goldenDir = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'test', 'golden', 'manifest.json'))) {
    if (dirname(dir) === dir) throw new Error('test/golden/manifest.json not found above the test file');
    dir = dirname(dir);
  }
  return join(dir, 'test', 'golden');
})();

export function loadManifest(): Manifest {
  return JSON.parse(readFileSync(join(goldenDir, 'manifest.json'), 'utf8')) as Manifest;
}

export function loadFixture(file: string): Map<string, Tensor> {
  return parseSafetensors(readFileSync(join(goldenDir, file))).tensors;
}

export function need(tensors: Map<string, Tensor>, name: string): Tensor {
  const t = tensors.get(name);
  assert.ok(t !== undefined, `fixture has no tensor '${name}'`);
  return t;
}

export interface CloseReport {
  readonly maxAbs: number;
  readonly maxRel: number;
}

export interface CloseOptions {
  /** Flat indices left out of the comparison (checked separately by the caller). */
  readonly skip?: (index: number) => boolean;
}

function unravel(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = index % shape[d]!;
    index = Math.floor(index / shape[d]!);
  }
  return out;
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| elementwise (non-finite values
 * must match exactly), and returns the largest differences seen.
 */
export function assertClose(
  label: string,
  actual: Tensor,
  expected: Tensor,
  tol: Pick<Tolerance, 'rtol' | 'atol'>,
  options: CloseOptions = {},
): CloseReport {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const got = actual.toArray();
  const want = expected.toArray();
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  let firstBad = -1;
  for (let i = 0; i < want.length; i++) {
    if (options.skip?.(i)) continue;
    const a = got[i]!;
    const e = want[i]!;
    let ok: boolean;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      ok = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e));
      if (!ok) maxAbs = Infinity;
    } else {
      const diff = Math.abs(a - e);
      maxAbs = Math.max(maxAbs, diff);
      if (e !== 0) maxRel = Math.max(maxRel, diff / Math.abs(e));
      ok = diff <= tol.atol + tol.rtol * Math.abs(e);
    }
    if (!ok) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad > 0) {
    assert.fail(
      `${label}: ${bad} of ${want.length} elements outside rtol ${tol.rtol}, atol ${tol.atol}; ` +
        `max abs diff ${maxAbs.toExponential(3)}, max rel diff ${maxRel.toExponential(3)}; ` +
        `first bad index [${unravel(firstBad, expected.shape).join(', ')}] (flat ${firstBad}): ` +
        `got ${got[firstBad]}, want ${want[firstBad]}`,
    );
  }
  return { maxAbs, maxRel };
}
