/**
 * 2-D projections of embeddings: PCA (the two leading principal components of the centred
 * points, by power iteration on the covariance, the second orthogonal to the first; each axis's sign fixed so
 * that its largest-magnitude loading is positive, as sklearn's svd_flip does) and UMAP
 * (McInnes et al. 2018, the umap-js implementation, seeded so that a view is repeatable).
 *
 * Legend: N points, C channels.
 */
import { UMAP } from 'umap-js';
import { Rng } from '../tensor/index.js';
import { ConfigError } from '../util/errors.js';
import type { Vectors } from './embeddings.js';

export type Projection = 'pca' | 'umap';

/** (N, 2) coordinates. */
export type Coordinates = Array<[number, number]>;

/** The C x C covariance of the centred rows, and the centred rows. */
function centred(vectors: Vectors): { centred: Float64Array; covariance: Float64Array } {
  const { rows: N, dim: C, values } = vectors;
  const mean = new Float64Array(C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) mean[c]! += values[n * C + c]! / N;
  const x = new Float64Array(N * C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) x[n * C + c] = values[n * C + c]! - mean[c]!;
  const covariance = new Float64Array(C * C);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < C; i++) {
      const xi = x[n * C + i]!;
      if (xi === 0) continue;
      for (let j = i; j < C; j++) covariance[i * C + j]! += xi * x[n * C + j]!;
    }
  }
  for (let i = 0; i < C; i++) for (let j = i; j < C; j++) covariance[j * C + i] = covariance[i * C + j]!;
  return { centred: x, covariance };
}

/**
 * The leading eigenvector of a symmetric (C, C) matrix within the space orthogonal to
 * `orthogonalTo` (unit vectors), by power iteration from a fixed start: the next principal
 * axis. With no variance left there it is the projected start (any such axis gives 0).
 */
function leadingEigenvector(
  matrix: Float64Array,
  C: number,
  orthogonalTo: readonly Float64Array[],
): Float64Array {
  const project = (v: Float64Array): void => {
    for (const u of orthogonalTo) {
      let dot = 0;
      for (let i = 0; i < C; i++) dot += u[i]! * v[i]!;
      for (let i = 0; i < C; i++) v[i]! -= dot * u[i]!;
    }
  };
  const normalise = (v: Float64Array): number => {
    let norm = 0;
    for (let i = 0; i < C; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < C; i++) v[i]! /= norm;
    return norm;
  };
  // A start with a component along every axis (not orthogonal to any eigenvector in practice).
  let v = Float64Array.from({ length: C }, (_, i) => 1 + (i % 7) * 0.1);
  project(v);
  normalise(v);
  for (let iteration = 0; iteration < 1000; iteration++) {
    const next = new Float64Array(C);
    for (let i = 0; i < C; i++) {
      let s = 0;
      for (let j = 0; j < C; j++) s += matrix[i * C + j]! * v[j]!;
      next[i] = s;
    }
    project(next);
    if (normalise(next) < 1e-12) break; // no variance left in this subspace
    let change = 0;
    for (let i = 0; i < C; i++) change = Math.max(change, Math.abs(next[i]! - v[i]!));
    v = next;
    if (change < 1e-10) break;
  }
  // svd_flip: the largest-magnitude loading is positive.
  let largest = 0;
  for (let i = 1; i < C; i++) if (Math.abs(v[i]!) > Math.abs(v[largest]!)) largest = i;
  if (v[largest]! < 0) for (let i = 0; i < C; i++) v[i] = -v[i]!;
  return v;
}

/** The points on their two leading principal components. */
export function pca2(vectors: Vectors): Coordinates {
  const { rows: N, dim: C } = vectors;
  const { centred: x, covariance } = centred(vectors);
  const first = leadingEigenvector(covariance, C, []);
  const second = leadingEigenvector(covariance, C, [first]);
  const out: Coordinates = [];
  for (let n = 0; n < N; n++) {
    let a = 0;
    let b = 0;
    for (let c = 0; c < C; c++) {
      a += x[n * C + c]! * first[c]!;
      b += x[n * C + c]! * second[c]!;
    }
    out.push([a, b]);
  }
  return out;
}

/** UMAP to 2-D with up to 15 neighbours; needs at least 4 points. */
export function umap2(vectors: Vectors, seed: number): Coordinates {
  const { rows: N, dim: C, values } = vectors;
  if (N < 4) {
    throw new ConfigError('UMAP needs at least 4 points', {
      where: 'embeddings.projection',
      actual: `${N} point${N === 1 ? '' : 's'}`,
      hint: "enter more tokens or texts, or use 'pca'",
    });
  }
  const rng = new Rng(seed);
  const data = Array.from({ length: N }, (_, n) => Array.from(values.subarray(n * C, (n + 1) * C)));
  const umap = new UMAP({ nComponents: 2, nNeighbors: Math.min(15, N - 1), random: () => rng.uniform() });
  return umap.fit(data).map((p) => [p[0]!, p[1]!]);
}

export function project(vectors: Vectors, projection: Projection, seed: number): Coordinates {
  switch (projection) {
    case 'pca':
      return pca2(vectors);
    case 'umap':
      return umap2(vectors, seed);
  }
}
