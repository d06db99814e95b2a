/**
 * Training runs for the Training view: run folders (given one by one, or found as the
 * subfolders of a root, rescanned on every listing so a run `lmforge train` has just begun
 * appears) and their log.jsonl read from a byte offset, so a live run is followed by
 * asking again from `next` (only complete lines are read: the trainer may be writing the
 * last one).
 *
 * log.jsonl records (src/train/trainer.ts): `step` {step, loss, lr, grad_norm, ms, aux_loss?},
 * `eval` {step, train_loss, val_loss, ...}, `router` {step, layers: [{load, entropy, dropped}]}.
 * Tokens per second: tokens per step (batch size x block size x grad accum, from
 * trainer_state.json's options; null before the first checkpoint) over the step's time.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { logFile, trainerStateFile } from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import type { EvalRecord, RouterRecord, RunLogResponse, RunSummary, StepRecord } from './api-types.js';
import type { RunSources } from './context.js';

interface RunFolder {
  readonly id: string;
  readonly dir: string;
}

async function hasLog(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, logFile))).isFile();
  } catch {
    return false;
  }
}

/** The run folders of `sources`, with unique ids: a dir's base name, a root's `root/sub`. */
export async function runFolders(sources: RunSources): Promise<RunFolder[]> {
  const found: Array<{ name: string; dir: string }> = sources.dirs.map((dir) => ({
    name: basename(dir),
    dir,
  }));
  for (const root of sources.roots) {
    let entries: string[];
    try {
      entries = (await readdir(root, { withFileTypes: true }))
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch {
      continue; // a root that does not exist (yet) has no runs
    }
    for (const entry of entries) {
      const dir = join(root, entry);
      if (await hasLog(dir)) found.push({ name: `${basename(root)}/${entry}`, dir });
    }
  }
  const seen = new Map<string, number>();
  return found.map(({ name, dir }) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return { id: count === 1 ? name : `${name}#${count}`, dir };
  });
}

interface TrainerStateHead {
  readonly iters: number | null;
  readonly tokensPerStep: number | null;
}

async function trainerState(dir: string): Promise<TrainerStateHead> {
  try {
    const state = JSON.parse(await readFile(join(dir, trainerStateFile), 'utf8')) as {
      options?: { iters?: number; batchSize?: number; blockSize?: number; gradAccum?: number };
      objective?: string;
    };
    const o = state.options ?? {};
    const blocks = (state.objective ?? 'causal-lm') === 'causal-lm' || state.objective === 'masked-lm';
    const tokensPerStep =
      blocks && o.batchSize !== undefined && o.blockSize !== undefined
        ? o.batchSize * o.blockSize * (o.gradAccum ?? 1)
        : null;
    return { iters: o.iters ?? null, tokensPerStep };
  } catch {
    return { iters: null, tokensPerStep: null };
  }
}

/** The complete lines of `file` from byte `from`, and the offset after the last one. */
async function readLines(file: string, from: number): Promise<{ lines: string[]; next: number }> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return { lines: [], next: from };
  }
  try {
    const size = (await handle.stat()).size;
    // A log rewritten shorter (a resumed run trims lines past its checkpoint): start over.
    const start = from > size ? 0 : from;
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const end = buffer.lastIndexOf(0x0a) + 1; // after the last complete line
    const lines = buffer
      .subarray(0, end)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    return { lines, next: start + end };
  } finally {
    await handle.close();
  }
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The records of log.jsonl from byte `from`; lines that do not parse are skipped. */
export async function readRunLog(id: string, dir: string, from: number): Promise<RunLogResponse> {
  if (!(Number.isInteger(from) && from >= 0)) {
    throw new ConfigError('from must be an integer >= 0', { where: 'runs.from', actual: from });
  }
  const [{ lines, next }, state] = await Promise.all([
    readLines(join(dir, logFile), from),
    trainerState(dir),
  ]);
  const steps: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  const router: RouterRecord[] = [];
  for (const line of lines) {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const step = finite(record['step']);
    if (step === null) continue;
    switch (record['type']) {
      case 'step': {
        const ms = finite(record['ms']);
        steps.push({
          step,
          loss: finite(record['loss']) ?? NaN,
          lr: finite(record['lr']) ?? NaN,
          gradNorm: finite(record['grad_norm']) ?? NaN,
          ms: ms ?? NaN,
          tokensPerS:
            state.tokensPerStep === null || ms === null || ms <= 0 ? null : state.tokensPerStep / (ms / 1000),
        });
        break;
      }
      case 'eval':
        evals.push({
          step,
          trainLoss: finite(record['train_loss']) ?? NaN,
          valLoss: finite(record['val_loss']) ?? NaN,
        });
        break;
      case 'router': {
        const layers = Array.isArray(record['layers']) ? (record['layers'] as Array<{ load?: unknown }>) : [];
        router.push({
          step,
          load: layers.map((l) => (Array.isArray(l.load) ? l.load.map((x) => finite(x) ?? NaN) : [])),
        });
        break;
      }
    }
  }
  return { id, steps, evals, router, next };
}

export async function runSummaries(sources: RunSources): Promise<RunSummary[]> {
  const folders = await runFolders(sources);
  return Promise.all(
    folders.map(async ({ id, dir }) => {
      const [log, state, updated] = await Promise.all([
        readRunLog(id, dir, 0),
        trainerState(dir),
        stat(join(dir, logFile)).then(
          (s) => s.mtimeMs,
          () => 0,
        ),
      ]);
      return {
        id,
        dir,
        step: log.steps.at(-1)?.step ?? 0,
        iters: state.iters,
        hasRouter: log.router.length > 0,
        updated,
      };
    }),
  );
}
