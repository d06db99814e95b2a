/**
 * Shared helpers for end-to-end tests of the compiled CLI (bin/lmforge.js -> dist):
 * `run` spawns it with a private cache folder and a timeout (`runAll` many at once,
 * `startTraining` a run that a test signals), `assertUserError` checks the README's promise for a
 * rejected input: exit code 2, no stack trace, and stderr ending in exactly one line
 * `lmforge: <where>: <what>`. `tinyShape` is the smallest model a CLI run trains.
 *
 * @example
 * const r = run(['eval', dir, '--batch-size', '0']);
 * assertUserError(r, `option '--batch-size <n>': expected an integer >= 1, got "0"`);
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../util/repo-root.js';

export const bin = join(REPO_ROOT, 'bin', 'lmforge.js');

/** `train` flags of a 1-layer, 2-head, 16-wide model on blocks of 16, 4 blocks a step. */
export const tinyShape: readonly string[] = [
  '--n-layer',
  '1',
  '--n-head',
  '2',
  '--n-embd',
  '16',
  '--block-size',
  '16',
  '--batch-size',
  '4',
];

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
  /** The working directory (default: the repository root). */
  readonly cwd?: string;
  /**
   * An executable to run with `args` instead of `node bin/lmforge.js` (e.g. the bin link of
   * an installed package).
   */
  readonly executable?: string;
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

/** The program and arguments that run the CLI with `args`. */
function commandLine(args: readonly string[], opts: RunOptions): [string, string[]] {
  if (opts.executable !== undefined) return [opts.executable, [...args]];
  assert.ok(
    existsSync(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js')),
    'dist/src/cli/main.js is missing: run `npm run build` first',
  );
  return [process.execPath, [bin, ...args]];
}

/** Runs `node bin/lmforge.js ...args` to completion in `cliEnv(opts.env)`. */
export function run(args: readonly string[], opts: RunOptions = {}): CliResult {
  const [program, argv] = commandLine(args, opts);
  const result = spawnSync(program, argv, {
    encoding: 'utf8',
    env: cliEnv(opts.env),
    timeout: opts.timeout ?? 60_000,
    cwd: opts.cwd ?? REPO_ROOT,
    input: opts.input ?? '',
    stdio: ['pipe', opts.stdout ?? 'pipe', 'pipe'],
    // tokenize --json of a large text prints megabytes.
    maxBuffer: 64 << 20,
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

/** Spawns the CLI (as `run` does) without waiting for it. */
function spawnCli(
  args: readonly string[],
  opts: Omit<RunOptions, 'stdout' | 'input'>,
): ChildProcessWithoutNullStreams {
  const [program, argv] = commandLine(args, opts);
  return spawn(program, argv, {
    env: cliEnv(opts.env),
    cwd: opts.cwd ?? REPO_ROOT,
    timeout: opts.timeout ?? 60_000,
  });
}

function runAsync(args: readonly string[], opts: Omit<RunOptions, 'stdout'>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** A CLI process a test signals: `started` resolves once stderr matches `ready`. */
export interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (null when killed by a signal it did not handle). */
  readonly exited: Promise<number | null>;
  /** Resolves when stderr first matches `ready`; rejects if the CLI exits before. */
  readonly started: Promise<void>;
  /** All stderr so far. */
  stderr(): string;
}

/**
 * Starts `node bin/lmforge.js ...args` (environment, cwd and timeout as `run`; the test
 * signals it) and watches its stderr for `ready`, e.g. `/step 0: train loss/` for a training
 * run that has started.
 */
function start(
  args: readonly string[],
  ready: RegExp,
  opts: Omit<RunOptions, 'stdout' | 'input'> = {},
): Started {
  const child = spawnCli(args, opts);
  child.stdin.end();
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (ready.test(stderr)) resolve();
    });
    child.on('exit', () => reject(new Error(`exited before ${String(ready)}: ${stderr}`)));
  });
  return { child, exited, started, stderr: () => stderr };
}

/**
 * Starts `lmforge train ...args` for a run that goes on until the test signals it (100,000
 * steps, evaluated at step 0 only); `started` resolves at step 0's evaluation line.
 */
export function startTraining(
  args: readonly string[],
  opts: Omit<RunOptions, 'stdout' | 'input'> = {},
): Started {
  const endless = ['--iters', '100000', '--warmup', '1', '--eval-every', '50000', '--eval-iters', '1'];
  return start(['train', ...args, ...endless], /step 0: train loss/, opts);
}

/** The last non-empty line of a text ('' when there is none). */
export function lastLine(text: string): string {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

/** The last stdout line parsed as a JSON object (a `--json` summary). */
export function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(lastLine(stdout)) as Record<string, unknown>;
}

/** A pattern for a message that starts with `text` (taken literally). */
export function startingWith(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
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
