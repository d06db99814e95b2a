/**
 * Crash safety and resource bounds of training, at length (`npm run bench -- crash`):
 *
 * - kill -9: the harness of test/reliability-crash/kill-harness.ts with 100 SIGKILLs inside
 *   checkpoint saves of real `lmforge train` runs (`--kills N`, `--seed N`; 5 kills a chain of
 *   resumes); prints the corrupt checkpoints out of the kills and whether every resumed run
 *   ended on the uninterrupted run's loss curve and weights.
 * - memory: a 10,000-step training run of a tiny GPT-2 in this process (`--steps N`), with a
 *   checkpoint and evaluation every 1,000 steps and the log written; samples the RSS, the V8
 *   heap (after a collection) and the tensor buffer pool every 250 steps and prints their
 *   growth from step 1,000 (warmed up) to the end.
 *
 * `--quick`: 10 kills and 2,000 steps. Exits 1 when a checkpoint is corrupt or a curve differs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import '../src/backend/index.js';
import { poolStats } from '../src/tensor/index.js';
import { runKillHarness } from '../test/reliability-crash/kill-harness.js';
import { tinyModel, tinyOptions, tinyTrainer } from '../test/train/tiny-run.js';
import { argument, emit, round, say } from './report.js';

const quick = process.argv.includes('--quick');

function count(name: string, fallback: number): number {
  const text = argument(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} needs a positive integer, got ${text}`);
  return value;
}

async function kills(): Promise<boolean> {
  const kills = count('--kills', quick ? 10 : 100);
  const seed = count('--seed', 1);
  const work = mkdtempSync(join(tmpdir(), 'lmforge-crash-bench-'));
  say(`crash: ${kills} SIGKILLs inside checkpoint saves of lmforge train (seed ${seed}), in ${work}`);
  const report = await runKillHarness({
    kills,
    killsPerChain: 5,
    seed,
    work,
    onKill: (kill) => {
      const where = `save ${kill.save} of the run from step ${kill.from}, point ${kill.point}/${kill.operations + 1}`;
      const state =
        kill.problem ??
        `holds step ${kill.checkpointStep}${kill.leftovers.length > 0 ? ` (left ${kill.leftovers.join(', ')})` : ''}`;
      say(`  kill ${kill.kill}: ${where}: ${state}`);
    },
  });
  for (const problem of report.problems) say(`  PROBLEM: ${problem}`);
  say(
    `crash: ${report.corrupt} corrupt checkpoints out of ${report.kills} kills (${report.insideSave} left a partial save behind, ` +
      `recovered on load); resumed runs equal to the uninterrupted one: ${report.equalChains} of ${report.chains}; ${report.seconds.toFixed(0)} s`,
  );
  emit({
    bench: 'crash',
    kills: report.kills,
    corrupt: report.corrupt,
    inside_save: report.insideSave,
    chains: report.chains,
    equal_chains: report.equalChains,
    resumed_equal: report.equalChains === report.chains,
    seconds: round(report.seconds, 1),
  });
  return report.corrupt === 0 && report.equalChains === report.chains && report.problems.length === 0;
}

async function memory(): Promise<void> {
  const steps = count('--steps', quick ? 2000 : 10_000);
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-memory-bench-')), 'run');
  const every = Math.max(1, Math.floor(steps / 40));
  const samples: Array<{ step: number; rss: number; heap: number; pool: number }> = [];
  const sample = (step: number): void => {
    gc();
    const usage = process.memoryUsage();
    samples.push({ step, rss: usage.rss, heap: usage.heapUsed, pool: poolStats().pooledBytes });
  };
  const options = tinyOptions({ iters: steps, evalEvery: Math.min(1000, steps), gradAccum: 1, warmup: 10 });
  const trainer = tinyTrainer(tinyModel(), options, dir, {
    onEvent: (event) => {
      if (event.kind === 'step' && event.step % every === 0) sample(event.step);
    },
  });
  say(
    `memory: ${steps} steps of a ${trainer.params}-parameter GPT-2, checkpoints every ${options.evalEvery} in ${dir}`,
  );
  const started = performance.now();
  await trainer.run();
  trainer.dispose();
  const seconds = (performance.now() - started) / 1000;
  const warm = samples.find((s) => s.step >= steps / 10)!;
  const last = samples[samples.length - 1]!;
  const mib = (bytes: number): number => round(bytes / 2 ** 20, 2);
  const peakRss = Math.max(...samples.filter((s) => s.step >= warm.step).map((s) => s.rss));
  say(
    `memory: from step ${warm.step} to ${last.step}: RSS ${mib(warm.rss)} -> ${mib(last.rss)} MiB (${mib(last.rss - warm.rss)} MiB; ` +
      `peak ${mib(peakRss)}), V8 heap ${mib(warm.heap)} -> ${mib(last.heap)} MiB (${mib(last.heap - warm.heap)} MiB), ` +
      `buffer pool ${mib(warm.pool)} -> ${mib(last.pool)} MiB; ${seconds.toFixed(0)} s`,
  );
  const quarters = [0.25, 0.5, 0.75, 1].map((q) => samples.find((s) => s.step >= q * steps)!);
  say(`memory: RSS at ${quarters.map((s) => `step ${s.step} ${mib(s.rss)} MiB`).join(', ')}`);
  emit({
    bench: 'crash-memory',
    steps,
    from_step: warm.step,
    rss_mib: [mib(warm.rss), mib(last.rss)],
    rss_growth_mib: mib(last.rss - warm.rss),
    rss_peak_mib: mib(peakRss),
    heap_mib: [mib(warm.heap), mib(last.heap)],
    heap_growth_mib: mib(last.heap - warm.heap),
    pool_mib: [mib(warm.pool), mib(last.pool)],
    rss_mib_by_step: Object.fromEntries(samples.map((s) => [s.step, mib(s.rss)])),
    seconds: round(seconds, 1),
  });
}

const only = argument('--only');
let ok = true;
if (only === undefined || only === 'kills') ok = await kills();
if (only === undefined || only === 'memory') await memory();
process.exitCode = ok ? 0 : 1;
