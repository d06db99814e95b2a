/**
 * Shared by the golden tests: the manifest written by tools/reference/make_goldens.py and the
 * fixture loader (through lmforge's own safetensors reader). Comparisons use test/util/close.ts.
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
