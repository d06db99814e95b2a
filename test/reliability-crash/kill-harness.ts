/**
 * The kill -9 harness: real `lmforge train` processes (a tiny GPT-2 on a small text file)
 * SIGKILLed inside checkpoint saves, at a random file operation of a random save
 * (kill-preload.ts), again and again. After every kill the run folder must load
 * (`lmforge info`, `lmforge generate`), hold the checkpoint from before or from after the
 * interrupted save, and `train --resume` must continue it; each chain of kills ends with a
 * resume to the last step, whose loss curve and weights must equal an uninterrupted run's,
 * bit for bit (exact resume: data order, RNG streams, optimizer state).
 *
 * Used by test/reliability-crash/kill.test.ts (5 kills) and `npm run bench -- crash` (100).
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Rng } from '../../src/tensor/index.js';
import { bin, run, runAll, tinyShape, type CliResult } from '../e2e/cli-util.js';
import { REPO_ROOT } from '../util/repo-root.js';

const preload = join(REPO_ROOT, 'dist', 'test', 'reliability-crash', 'kill-preload.js');

/** The run every chain repeats: 30 steps, a checkpoint every 5 (6 saves). */
export const crashRun = { iters: 30, evalEvery: 5 } as const;

export interface KillHarnessOptions {
  /** Kills in all. */
  readonly kills: number;
  /** Kills before a chain's final, uninterrupted resume. */
  readonly killsPerChain: number;
  readonly seed: number;
  /** A fresh folder for the data, the runs and the token cache. */
  readonly work: string;
  readonly onKill?: (kill: KillRecord) => void;
}

export interface KillRecord {
  readonly chain: number;
  /** 1-based over the whole harness. */
  readonly kill: number;
  /** The step the killed process started from (0: a fresh run, else a resume). */
  readonly from: number;
  /** The save (1-based in that process), the point in it (1..operations + 1) and the torn fraction. */
  readonly save: number;
  readonly point: number;
  readonly operations: number;
  /** The step of the checkpoint the folder holds after the kill (null: none could be read). */
  readonly checkpointStep: number | null;
  /** What the kill left beside and inside the run folder (.run.next, .run.prev, temporary files). */
  readonly leftovers: readonly string[];
  /** null when the folder loaded and held the checkpoint from before or after the save; else what failed. */
  readonly problem: string | null;
}

export interface KillReport {
  readonly kills: number;
  /** Kills after which the folder did not load, held an unexpected step, or did not resume. */
  readonly corrupt: number;
  /** Kills that left a partial save behind (proof that they landed inside one). */
  readonly insideSave: number;
  readonly chains: number;
  /** Chains whose resumed run ended with the uninterrupted run's loss curve, weights and optimizer state. */
  readonly equalChains: number;
  readonly problems: readonly string[];
  readonly records: readonly KillRecord[];
  readonly seconds: number;
}

/** The curve a log.jsonl records: each step's loss, lr and gradient norm, each evaluation's losses. */
export function lossCurve(runDir: string): string[] {
  return readFileSync(join(runDir, 'log.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const record = JSON.parse(line) as Record<string, unknown>;
      const { type, step } = record;
      return type === 'step'
        ? `step ${String(step)} loss ${String(record['loss'])} lr ${String(record['lr'])} grad ${String(record['grad_norm'])}`
        : `${String(type)} ${String(step)} train ${String(record['train_loss'])} val ${String(record['val_loss'])}`;
    });
}

const checkpointStep = (runDir: string): number | null => {
  try {
    return (JSON.parse(readFileSync(join(runDir, 'trainer_state.json'), 'utf8')) as { step: number }).step;
  } catch {
    return null;
  }
};

/** Names in the run's parent folder besides the run, and dot-files inside it. */
function leftoversOf(runDir: string): string[] {
  const beside = readdirSync(dirname(runDir)).filter((name) => name !== 'run');
  let inside: string[] = [];
  try {
    inside = readdirSync(runDir)
      .filter((name) => name.startsWith('.'))
      .map((name) => `run/${name}`);
  } catch {
    // the folder itself was moved aside: the leftovers say so
  }
  return [...beside, ...inside];
}

const describe = (result: CliResult): string =>
  `exit ${result.status} (signal ${result.signal}): ${result.stderr.trim().split('\n').slice(-2).join(' / ')}`;

export async function runKillHarness(options: KillHarnessOptions): Promise<KillReport> {
  const started = performance.now();
  const { work } = options;
  const data = join(work, 'data.txt');
  writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\na bird in the hand.\n'.repeat(60));
  const flags = [
    'train',
    '--data',
    data,
    ...tinyShape,
    '--iters',
    String(crashRun.iters),
    '--eval-every',
    String(crashRun.evalEvery),
    '--eval-iters',
    '1',
    '--warmup',
    '1',
    '--no-progress',
    '--cache-dir',
    join(work, 'cache'),
  ];
  const train = (out: string, env: Record<string, string>, resume: boolean): CliResult =>
    run(['--import', preload, bin, ...flags, '--out', out, ...(resume ? ['--resume'] : [])], {
      executable: process.execPath,
      env,
      timeout: 120_000,
    });

  // The uninterrupted run, counting each save's file operations.
  const reference = join(work, 'reference', 'run');
  mkdirSync(dirname(reference));
  const countsFile = join(work, 'reference', 'counts.txt');
  const done = train(reference, { LMFORGE_TEST_KILL_COUNTS: countsFile }, false);
  if (done.status !== 0) throw new Error(`the uninterrupted run failed: ${describe(done)}`);
  const counts = readFileSync(countsFile, 'utf8').trim().split('\n').map(Number);
  const saves = crashRun.iters / crashRun.evalEvery;
  if (counts.length !== saves) throw new Error(`expected ${saves} saves, counted ${counts.length}`);
  const referenceCurve = lossCurve(reference).join('\n');
  const referenceFiles = ['model.safetensors', 'optimizer.safetensors'].map((name) =>
    readFileSync(join(reference, name)),
  );

  const rng = new Rng(options.seed);
  const records: KillRecord[] = [];
  const problems: string[] = [];
  let chains = 0;
  let equalChains = 0;
  while (records.length < options.kills) {
    chains++;
    const out = join(work, `chain-${chains}`, 'run');
    mkdirSync(dirname(out));
    let step = 0;
    let broken = false;
    for (let k = 0; k < options.killsPerChain && records.length < options.kills; k++) {
      // A fresh run's first save has no checkpoint before it: kill from its second save on.
      const first = step === 0 ? 2 : 1;
      const remaining = (crashRun.iters - step) / crashRun.evalEvery;
      if (remaining < first) break; // the run is complete: nothing left to interrupt
      const save = rng.randint(first, remaining + 1);
      const index = step / crashRun.evalEvery + save - 1; // into the reference's saves
      const operations = counts[index]!;
      const point = rng.randint(1, operations + 2);
      const fraction = rng.uniform();
      const killed = train(out, { LMFORGE_TEST_KILL: `${save}:${point}:${fraction}` }, step > 0);
      const before = step + (save - 1) * crashRun.evalEvery;
      const record = await afterKill(out, killed, before, before + crashRun.evalEvery);
      const full: KillRecord = {
        chain: chains,
        kill: records.length + 1,
        from: step,
        save,
        point,
        operations,
        ...record,
      };
      records.push(full);
      options.onKill?.(full);
      if (full.problem !== null) {
        problems.push(
          `kill ${full.kill} (save ${save}, point ${point} of ${operations + 1}): ${full.problem}`,
        );
        broken = true; // the chain cannot go on from a broken folder
        break;
      }
      step = full.checkpointStep!;
    }
    if (broken) continue;
    const resumed = train(out, {}, true);
    if (resumed.status !== 0) {
      problems.push(`chain ${chains}: the final resume failed: ${describe(resumed)}`);
      continue;
    }
    const curveEqual = lossCurve(out).join('\n') === referenceCurve;
    const filesEqual = ['model.safetensors', 'optimizer.safetensors'].every((name, i) =>
      readFileSync(join(out, name)).equals(referenceFiles[i]!),
    );
    if (curveEqual && filesEqual) equalChains++;
    else
      problems.push(
        `chain ${chains}: ${curveEqual ? 'weights' : 'loss curve'} differ from the uninterrupted run`,
      );
  }
  const corrupt = records.filter((record) => record.problem !== null).length;
  return {
    kills: records.length,
    corrupt,
    insideSave: records.filter((record) => record.leftovers.length > 0).length,
    chains,
    equalChains,
    problems,
    records,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Checks the folder a kill left: it loads, generates, and holds the checkpoint of step `before` or `after`. */
async function afterKill(
  out: string,
  killed: CliResult,
  before: number,
  after: number,
): Promise<Pick<KillRecord, 'checkpointStep' | 'leftovers' | 'problem'>> {
  const leftovers = leftoversOf(out);
  if (killed.signal !== 'SIGKILL') {
    return { checkpointStep: checkpointStep(out), leftovers, problem: `not killed: ${describe(killed)}` };
  }
  const [info, generated] = await runAll([
    ['info', out],
    ['generate', out, '--prompt', 'the', '--max-tokens', '4', '--temperature', '0'],
  ]);
  const step = checkpointStep(out);
  const problem =
    info!.status !== 0
      ? `lmforge info failed: ${describe(info!)}`
      : generated!.status !== 0
        ? `lmforge generate failed: ${describe(generated!)}`
        : step !== before && step !== after
          ? `the folder holds step ${String(step)}, expected ${before} or ${after}`
          : !info!.stdout.includes(`training: step ${step} of ${crashRun.iters}`)
            ? `lmforge info does not report step ${step}: ${info!.stdout}`
            : null;
  return { checkpointStep: step, leftovers, problem };
}
