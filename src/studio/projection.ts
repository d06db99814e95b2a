/**
 * 2-D projections of embeddings: PCA (the two leading principal components of the centred
 * points, by power iteration with deflation on the covariance; each axis's sign fixed so
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

/** The leading eigenvector of a symmetric (C, C) matrix by power iteration (deterministic start). */
function leadingEigenvector(matrix: Float64Array, C: number): { vector: Float64Array; value: number } {
  let v = new Float64Array(C).map((_, i) => 1 / Math.sqrt(C) + (i % 7) * 1e-3); // not orthogonal to anything in practice
  let value = 0;
  for (let iteration = 0; iteration < 500; iteration++) {
    const next = new Float64Array(C);
    for (let i = 0; i < C; i++) {
      let s = 0;
      for (let j = 0; j < C; j++) s += matrix[i * C + j]! * v[j]!;
      next[i] = s;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) return { vector: v, value: 0 };
    for (let i = 0; i < C; i++) next[i]! /= norm;
    let change = 0;
    for (let i = 0; i < C; i++) change = Math.max(change, Math.abs(next[i]! - v[i]!));
    v = next;
    value = norm;
    if (change < 1e-10) break;
  }
  // svd_flip: the largest-magnitude loading is positive.
  let largest = 0;
  for (let i = 1; i < C; i++) if (Math.abs(v[i]!) > Math.abs(v[largest]!)) largest = i;
  if (v[largest]! < 0) for (let i = 0; i < C; i++) v[i] = -v[i]!;
  return { vector: v, value };
}

/** The points on their two leading principal components. */
export function pca2(vectors: Vectors): Coordinates {
  const { rows: N, dim: C } = vectors;
  const { centred: x, covariance } = centred(vectors);
  const first = leadingEigenvector(covariance, C);
  // Deflate: remove the first component's variance.
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) covariance[i * C + j]! -= first.value * first.vector[i]! * first.vector[j]!;
  }
  const second = leadingEigenvector(covariance, C);
  const out: Coordinates = [];
  for (let n = 0; n < N; n++) {
    let a = 0;
    let b = 0;
    for (let c = 0; c < C; c++) {
      a += x[n * C + c]! * first.vector[c]!;
      b += x[n * C + c]! * second.vector[c]!;
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
