/** Shared test input: ../shared/data/tinyshakespeare.txt (never committed), found from the repo root. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../util/repo-root.js';

export const SHAKESPEARE_PATH = join(REPO_ROOT, '..', 'shared', 'data', 'tinyshakespeare.txt');

/** The corpus, or undefined where shared/ is absent (tests then say so and skip). */
export function shakespeare(): string | undefined {
  return existsSync(SHAKESPEARE_PATH) ? readFileSync(SHAKESPEARE_PATH, 'utf8') : undefined;
}

/** First index where two id arrays differ, or -1. */
export function firstDifference(actual: readonly number[], expected: readonly number[]): number {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (actual[i] !== expected[i]) return i;
  return -1;
}

export function describeDifference(actual: readonly number[], expected: readonly number[]): string {
  const at = firstDifference(actual, expected);
  return `first difference at ${at}: got ${JSON.stringify(actual.slice(Math.max(0, at - 3), at + 5))}, expected ${JSON.stringify(expected.slice(Math.max(0, at - 3), at + 5))} (lengths ${actual.length} vs ${expected.length})`;
}
