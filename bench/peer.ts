/**
 * Shared by the benchmarks: where the repository and ../shared are, and how a Python peer
 * (a PyTorch or numpy script that prints its result as one JSON line, last on stdout) is
 * run. A peer that cannot run is reported as `{ status: 'missing', reason }`, never
 * replaced by a remembered figure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** The folder holding package.json (benchmarks run from dist/bench). */
export const repoRoot = findRepoRoot();
/** ../shared beside the repository: the corpus and the reference peers. */
export const sharedDir = join(repoRoot, '..', 'shared');
/** tinyshakespeare, the text the tokenizer benchmarks repeat. */
export const shakespearePath = join(sharedDir, 'data', 'tinyshakespeare.txt');

/**
 * The tokenizer benchmarks' text: tinyshakespeare repeated to ~10 MB (`base` is one copy,
 * for warm-ups), or undefined when ../shared has no corpus.
 */
export function tokenizerBenchText(): { base: string; text: string } | undefined {
  if (!existsSync(shakespearePath)) return undefined;
  const base = readFileSync(shakespearePath, 'utf8');
  return { base, text: base.repeat(Math.ceil(10e6 / base.length)) };
}

/** The Debian python with torch and numpy (see ../shared/reference/README.md). */
export const python = '/usr/bin/python3';

/** `python script ...args`; its last stdout line parsed as JSON, or status 'missing' with the reason. */
export function runPythonPeer(script: string, args: readonly string[]): Record<string, unknown> {
  if (!existsSync(python) || !existsSync(script)) {
    return { status: 'missing', reason: `${script} or ${python} not found` };
  }
  const run = spawnSync(python, [script, ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.status !== 0 || !line.startsWith('{')) {
    return { status: 'missing', reason: (run.stderr || 'no output').trim().split('\n').pop() ?? 'failed' };
  }
  return JSON.parse(line) as Record<string, unknown>;
}
