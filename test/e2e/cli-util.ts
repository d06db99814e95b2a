/**
 * Shared helpers for end-to-end tests of the compiled CLI (bin/lmforge.js -> dist):
 * `run` spawns it with a private cache folder and a timeout, `assertUserError` checks the
 * README's promise for a rejected input: exit code 2, no stack trace, and stderr ending
 * in exactly one line `lmforge: <where>: <what>`.
 *
 * @example
 * const r = run(['eval', dir, '--batch-size', '0']);
 * assertUserError(r, `option '--batch-size <n>': expected an integer >= 1, got "0"`);
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const root = repoRoot();
export const bin = join(root, 'bin', 'lmforge.js');

export interface CliResult {
  /** The exit code; null when the process was killed (see `signal`, e.g. on the timeout). */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Variables added to (or, as undefined, removed from) the default environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Kill the CLI after this many ms (default 60 s); a hang then shows as status null. */
  readonly timeout?: number;
  readonly cwd?: string;
  /** Text piped to stdin (default: none, stdin is closed). */
  readonly input?: string;
  /** A file descriptor for the CLI's stdout instead of a pipe (`stdout` is then ''). */
  readonly stdout?: number;
}

/** One cache folder per test process, so runs never read or fill ~/.cache. */
let cacheHome: string | undefined;

/**
 * The environment the CLI runs with: this process's, with the JS backend (fast to start,
 * same results everywhere) and a private XDG_CACHE_HOME; `extra` overrides either, and an
 * undefined value removes the variable.
 */
export function cliEnv(extra: RunOptions['env'] = {}): NodeJS.ProcessEnv {
  cacheHome ??= mkdtempSync(join(tmpdir(), 'lmforge-e2e-cache-'));
  const env: Record<string, string | undefined> = {
    ...process.env,
    LMFORGE_BACKEND: 'js',
    XDG_CACHE_HOME: cacheHome,
    ...extra,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

/** Runs `node bin/lmforge.js ...args` to completion in `cliEnv(opts.env)`. */
export function run(args: readonly string[], opts: RunOptions = {}): CliResult {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: cliEnv(opts.env),
    timeout: opts.timeout ?? 60_000,
    cwd: opts.cwd ?? root,
    input: opts.input ?? '',
    stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'],
  });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT')
    throw result.error;
  return {
    status: result.status,
    signal: result.signal,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
  };
}

/**
 * `run` for many command lines at once, a few processes at a time (most of a short CLI
 * run is Node's start-up, which overlaps well); results in the order of `argsList`.
 */
export async function runAll(
  argsList: ReadonlyArray<readonly string[]>,
  opts: Omit<RunOptions, 'stdout'> = {},
  concurrency = 4,
): Promise<CliResult[]> {
  const results: CliResult[] = new Array<CliResult>(argsList.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < argsList.length) {
      const index = next++;
      results[index] = await runAsync(argsList[index]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, argsList.length) }, worker));
  return results;
}

function runAsync(args: readonly string[], opts: Omit<RunOptions, 'stdout'>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: cliEnv(opts.env),
      cwd: opts.cwd ?? root,
      timeout: opts.timeout ?? 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** The last non-empty line of a text ('' when there is none). */
export function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

/**
 * Asserts a rejected input as the README promises: exit code 2, no Node stack trace, and
 * stderr ending in exactly one `lmforge: ...` line that reads `lmforge: <where>: <what>`
 * (the prefix once, not `lmforge: lmforge train: ...`). `expected` is that last line
 * without its `lmforge: ` prefix, either exactly (a string) or as a pattern.
 */
export function assertUserError(result: CliResult, expected: string | RegExp, exitCode = 2): void {
  const context = `\nstatus ${result.status} (signal ${result.signal})\nstderr:\n${result.stderr}`;
  assert.equal(result.status, exitCode, `expected exit code ${exitCode}${context}`);
  assert.doesNotMatch(result.stderr, /^\s+at .+:\d+:\d+\)?$/m, `a stack trace reached the user${context}`);
  const prefixed = result.stderr.split('\n').filter((line) => line.startsWith('lmforge:'));
  assert.equal(prefixed.length, 1, `expected exactly one "lmforge:" line${context}`);
  const last = lastLine(result.stderr);
  assert.ok(last.startsWith('lmforge: '), `the last stderr line must start with "lmforge: "${context}`);
  const message = last.slice('lmforge: '.length);
  assert.doesNotMatch(message, /^lmforge\b/, `doubled prefix${context}`);
  assert.match(message, /^\S.*?: \S/, `expected "lmforge: <where>: <what>"${context}`);
  if (typeof expected === 'string') assert.equal(message, expected, context);
  else assert.match(message, expected, context);
}
