/**
 * Training benchmarks, side by side with PyTorch (../shared/reference/torch_gpt.py) in the
 * same run:
 *   1. nanoGPT's shakespeare-char CPU run (char-level, 4 layers, 4 heads, 128 wide, block
 *      64, batch 12, 2000 iters, lr 1e-3 -> 1e-4, warm-up 100, beta2 0.99, weight decay
 *      0.1, clip 1.0, no dropout, no bias, tied head): final val loss (target <= 1.88) and
 *      ms/iter ratio (target <= 1.0). --quick: 60 iters, ms/iter only.
 *   2. 6 layers, 6 heads, 384 wide, block 256, batch 8: ms/iter ratio (a few iters).
 *   3. A full training step (forward, backward, AdamW) on the native vs the JS backend.
 * Human lines on stderr, one JSON object per result on stdout.
 *
 * With --seeds N, only run 1, for N seeds on both sides: the mean and spread of the final
 * val loss, since one run's figure moves by about +-0.01 with the seed.
 *
 * Usage: node dist/bench/train.bench.js [--quick] [--threads N] [--seeds N]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableBackends, useBackend } from '../src/backend/index.js';
import { writeSafetensorsFile } from '../src/io/index.js';
import { repoRoot, runPythonPeer, sharedDir } from './peer.js';
import { createModel, gpt2Preset } from '../src/models/index.js';
import { Rng, type RngState } from '../src/tensor/index.js';
import { CharTokenizer } from '../src/tokenizers/index.js';
import {
  BlockSampler,
  Trainer,
  evaluateLoss,
  resolveTrainOptions,
  splitTokens,
  type TrainOptions,
} from '../src/train/index.js';

const dataPath = join(sharedDir, 'data', 'tinyshakespeare.txt');
const quick = process.argv.includes('--quick');
const threadsFlag = process.argv.indexOf('--threads');
const threads = threadsFlag >= 0 ? Number(process.argv[threadsFlag + 1]) : 2;
const seedsFlag = process.argv.indexOf('--seeds');
/** --seeds N: only the nanoGPT run, for seeds 1337 .. 1337+N-1 on both sides (val loss spread). */
const seedCount = seedsFlag >= 0 ? Number(process.argv[seedsFlag + 1]) : 0;
/**
 * Batches per split in the final evaluation, for both sides. torch_gpt.py's default is 20
 * (nanoGPT's CPU command line); 200 (nanoGPT's config default) brings the estimate's noise
 * from about +-0.03 down to about +-0.01, so the two val losses can be compared.
 */
const evalIters = 200;

const say = (text: string): void => void process.stderr.write(text + '\n');
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(JSON.stringify(record) + '\n');
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

interface Shape {
  readonly nLayer: number;
  readonly nHead: number;
  readonly nEmbd: number;
  readonly blockSize: number;
  readonly batchSize: number;
}

const nanoGpt: Shape = { nLayer: 4, nHead: 4, nEmbd: 128, blockSize: 64, batchSize: 12 };
const wide: Shape = { nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256, batchSize: 8 };

interface Measured {
  readonly ms_per_iter_median: number;
  readonly tokens_per_s: number;
  readonly train_loss: number | null;
  readonly val_loss: number | null;
  /** Loss on the whole validation split (evaluateLoss: deterministic, no sampling noise). */
  readonly val_loss_full: number | null;
  readonly params: number;
}

interface RunOptions {
  /** Evaluate at the end: 200 random batches per split, and the whole validation split. */
  readonly evaluate: boolean;
  readonly seed?: number;
  /**
   * A folder to write the run's initial weights (init.safetensors) and every batch it
   * trains on (batches.bin), for bench/peers/torch_gpt_replay.py.
   */
  readonly replayDir?: string;
}

/** lmforge training with torch_gpt.py's exact recipe. */
async function lmforgeRun(shape: Shape, iters: number, run: RunOptions): Promise<Measured> {
  const { evaluate, seed = 1337 } = run;
  const text = readFileSync(dataPath, 'utf8');
  const tokenizer = CharTokenizer.fromText(text);
  const { train, val } = splitTokens(Int32Array.from(tokenizer.encode(text)));
  const model = createModel(
    gpt2Preset({
      vocabSize: tokenizer.vocabSize,
      nLayer: shape.nLayer,
      nHead: shape.nHead,
      nEmbd: shape.nEmbd,
      blockSize: shape.blockSize,
      bias: false,
      activation: 'gelu', // torch_gpt.py uses F.gelu (exact)
      dropout: 0,
    }),
    { seed },
  );
  const options: TrainOptions = resolveTrainOptions({
    iters,
    batchSize: shape.batchSize,
    blockSize: shape.blockSize,
    lr: 1e-3,
    minLr: 1e-4,
    warmup: Math.min(100, iters - 1),
    beta2: 0.99,
    weightDecay: 0.1,
    gradClip: 1.0,
    // Evaluate at the end only (an evaluation at step 0 is skipped by starting past it).
    evalEvery: iters,
    evalIters,
    seed,
  });
  const trainer = new Trainer({
    model,
    tokenizer,
    train,
    val,
    options,
    runDir: null,
    data: {
      source: { kind: 'files', paths: [dataPath] },
      description: 'tinyshakespeare',
      textHash: '',
      trainTokens: train.length,
      valTokens: val.length,
    },
    onEvent: (e) => {
      if (e.kind === 'step' && (e.step % 250 === 0 || e.step === iters))
        say(`  lmforge step ${e.step}: loss ${e.loss.toFixed(4)}, ${e.ms.toFixed(1)} ms`);
    },
  });
  if (run.replayDir !== undefined) {
    await writeSafetensorsFile(
      join(run.replayDir, 'init.safetensors'),
      Object.fromEntries(model.namedParameters()),
    );
    // The trainer's own sampler state, replayed: exactly the batches it is about to draw.
    const replay = new BlockSampler(
      train,
      shape.blockSize,
      shape.batchSize,
      Rng.fromState(trainer.state(null).rng.sampler as RngState),
    );
    const n = shape.batchSize * shape.blockSize;
    const batches = new Int32Array(iters * 2 * n); // (iters, 2, B, T)
    for (let i = 0; i < iters; i++) {
      const { x, y } = replay.next();
      batches.set(x.values() as Int32Array, i * 2 * n);
      batches.set(y.values() as Int32Array, (i * 2 + 1) * n);
      x.dispose();
      y.dispose();
    }
    writeFileSync(join(run.replayDir, 'batches.bin'), batches);
  }
  // Skip the step-0 evaluation (torch_gpt.py evaluates only at the end).
  const times: number[] = [];
  const losses: number[] = [];
  for (let i = 0; i < iters; i++) {
    const start = performance.now();
    losses.push(trainer.trainStep().loss);
    times.push(performance.now() - start);
    if ((i + 1) % 250 === 0)
      say(`  lmforge step ${i + 1}: loss ${losses[i]!.toFixed(4)}, ${times[i]!.toFixed(1)} ms`);
  }
  const steady = times.slice(Math.min(10, times.length - 1)).sort((a, b) => a - b);
  const ms = steady[Math.floor(steady.length / 2)]!;
  const trainLoss = evaluate ? trainer.estimateLoss('train') : null;
  const valLoss = evaluate ? trainer.estimateLoss('val') : null;
  const valLossFull = evaluate ? evaluateLoss(model, val).loss : null;
  const params = trainer.params;
  trainer.dispose();
  model.dispose();
  return {
    ms_per_iter_median: round(ms),
    tokens_per_s: round((shape.batchSize * shape.blockSize) / (ms / 1000), 1),
    train_loss: trainLoss === null ? null : round(trainLoss, 4),
    val_loss: valLoss === null ? null : round(valLoss, 4),
    val_loss_full: valLossFull === null ? null : round(valLossFull, 5),
    params,
  };
}

/** torch_gpt.py; `evaluate` false skips most of its final evaluation (1 batch per split). */
function torchRun(shape: Shape, iters: number, evaluate: boolean, seed = 1337): Record<string, unknown> {
  const result = runPythonPeer(join(sharedDir, 'reference', 'torch_gpt.py'), [
    ...['--n-layer', String(shape.nLayer), '--n-head', String(shape.nHead), '--n-embd', String(shape.nEmbd)],
    ...['--block-size', String(shape.blockSize), '--batch-size', String(shape.batchSize)],
    ...['--iters', String(iters), '--warmup', String(Math.min(100, iters - 1)), '--threads', String(threads)],
    ...['--eval-iters', String(evaluate ? evalIters : 1), '--seed', String(seed)],
  ]);
  if (!evaluate) {
    // one batch per split: not an estimate worth reporting
    delete result['train_loss'];
    delete result['val_loss'];
  }
  return result;
}

/** bench/peers/torch_gpt_replay.py over the init and batches an lmforge run wrote to `dir`. */
function torchReplay(shape: Shape, iters: number, dir: string): Record<string, unknown> {
  return runPythonPeer(join(repoRoot, 'bench', 'peers', 'torch_gpt_replay.py'), [
    ...['--init', join(dir, 'init.safetensors'), '--batches', join(dir, 'batches.bin')],
    ...['--data', dataPath, '--n-head', String(shape.nHead), '--block-size', String(shape.blockSize)],
    ...['--iters', String(iters), '--warmup', String(Math.min(100, iters - 1)), '--threads', String(threads)],
  ]);
}

function ratio(ours: number, theirs: unknown): number | null {
  return typeof theirs === 'number' && theirs > 0 ? round(ours / theirs) : null;
}

function meanAndSd(xs: readonly number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1));
  return { mean, sd };
}

/** Final val loss of the nanoGPT run over several seeds, lmforge and PyTorch alternately. */
async function seedSweep(count: number): Promise<void> {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < count; i++) {
    const seed = 1337 + i;
    const a = await lmforgeRun(nanoGpt, 2000, { evaluate: true, seed });
    const b = torchRun(nanoGpt, 2000, true, seed);
    ours.push(a.val_loss!);
    if (typeof b['val_loss'] === 'number') theirs.push(b['val_loss']);
    say(
      `seed ${seed}: val loss (${evalIters} batches) lmforge ${a.val_loss}, PyTorch ${String(b['val_loss'] ?? b['status'])}; lmforge whole split ${a.val_loss_full}`,
    );
    emit({
      name: 'train_nanogpt_seed',
      seed,
      lmforge_val_loss: a.val_loss,
      lmforge_val_loss_full: a.val_loss_full,
      pytorch_val_loss: b['val_loss'] ?? null,
    });
  }
  const a = meanAndSd(ours);
  const b = theirs.length > 0 ? meanAndSd(theirs) : null;
  say(
    `val loss over ${count} seeds: lmforge ${a.mean.toFixed(4)} +- ${a.sd.toFixed(4)}` +
      (b === null
        ? ', PyTorch missing'
        : `, PyTorch ${b.mean.toFixed(4)} +- ${b.sd.toFixed(4)} (${theirs.length} seeds)`),
  );
  emit({
    name: 'train_nanogpt_val_loss_over_seeds',
    seeds: count,
    eval_iters: evalIters,
    lmforge: { mean: round(a.mean, 4), sd: round(a.sd, 4), values: ours },
    pytorch:
      b === null ? { status: 'missing' } : { mean: round(b.mean, 4), sd: round(b.sd, 4), values: theirs },
  });
}

async function main(): Promise<void> {
  const backends = availableBackends();
  const best = backends.includes('native') ? 'native' : 'js';
  const backend = useBackend(best);
  backend.setThreads(threads);
  say(`backend ${backend.name} (${backend.isa}), ${backend.threads} threads; peers at --threads ${threads}`);
  if (seedCount > 0) {
    if (best !== 'native') throw new Error('--seeds needs the native backend (2000 iters per seed)');
    await seedSweep(seedCount);
    return;
  }

  // 1. nanoGPT CPU configuration.
  {
    const fullRun = !quick && best === 'native';
    const iters = fullRun ? 2000 : 60;
    if (!quick && !fullRun)
      say('the full 2000-iteration run needs the native backend (JS: hours); timing 60 iters instead');
    say(`nanoGPT shakespeare-char config, ${iters} iters: lmforge...`);
    const replayDir = fullRun ? mkdtempSync(join(tmpdir(), 'lmforge-replay-')) : undefined;
    try {
      const ours = await lmforgeRun(nanoGpt, iters, {
        evaluate: fullRun,
        ...(replayDir === undefined ? {} : { replayDir }),
      });
      say(
        `  lmforge ${ours.ms_per_iter_median} ms/iter` +
          (ours.val_loss === null
            ? ''
            : `, val loss ${ours.val_loss} (${evalIters} batches), ${ours.val_loss_full} (whole split)`),
      );
      say('  PyTorch (torch_gpt.py, its own init and batches)...');
      const torch = torchRun(nanoGpt, iters, fullRun);
      const r = ratio(ours.ms_per_iter_median, torch['ms_per_iter_median']);
      say(
        `  PyTorch ${String(torch['ms_per_iter_median'] ?? torch['status'])} ms/iter${torch['val_loss'] === undefined ? '' : `, val loss ${String(torch['val_loss'])} (${evalIters} batches)`}; ms/iter ratio lmforge/PyTorch ${r ?? '-'} (target <= 1.0, aim 0.5)`,
      );
      // The same draws: PyTorch trained from lmforge's init on lmforge's batches.
      let replay: Record<string, unknown> | null = null;
      let replayDiff: number | null = null;
      if (replayDir !== undefined) {
        say("  PyTorch replaying lmforge's init and batches (torch_gpt_replay.py)...");
        replay = torchReplay(nanoGpt, iters, replayDir);
        const theirs = replay['val_loss_full'];
        replayDiff = typeof theirs === 'number' ? round(Math.abs(ours.val_loss_full! - theirs), 5) : null;
        say(
          `  PyTorch on the same draws: val loss ${String(theirs ?? replay['status'])} (whole split), ` +
            `lmforge ${ours.val_loss_full}: |difference| ${replayDiff ?? '-'}`,
        );
      }
      emit({
        name: 'train_nanogpt_shakespeare_char',
        iters,
        threads,
        backend: backend.name,
        eval_iters: evalIters,
        lmforge: ours,
        pytorch: torch,
        pytorch_replay: replay,
        val_loss_full_replay_abs_diff: replayDiff,
        ms_per_iter_ratio: r,
        val_loss_target: 1.88,
        val_loss_ok: ours.val_loss === null ? null : ours.val_loss <= 1.88,
      });
    } finally {
      if (replayDir !== undefined) rmSync(replayDir, { recursive: true, force: true });
    }
  }

  // 2. 6-layer / 384-wide / block 256 / batch 8.
  {
    const iters = quick ? 6 : 15;
    if (best !== 'native') {
      say('6-layer/384/block-256 config: skipped (needs the native backend; JS takes minutes per step)');
      emit({ name: 'train_6l_384_b256', status: 'skipped', reason: 'native backend unavailable' });
    } else {
      say(`6-layer/6-head/384/block 256/batch 8, ${iters} iters: lmforge...`);
      const ours = await lmforgeRun(wide, iters, { evaluate: false });
      say('  PyTorch...');
      const torch = torchRun(wide, iters, false);
      const r = ratio(ours.ms_per_iter_median, torch['ms_per_iter_median']);
      say(
        `  lmforge ${ours.ms_per_iter_median} ms/iter, PyTorch ${String(torch['ms_per_iter_median'] ?? torch['status'])} ms/iter: ratio ${r ?? '-'}`,
      );
      emit({
        name: 'train_6l_384_b256',
        iters,
        threads,
        backend: backend.name,
        lmforge: ours,
        pytorch: torch,
        ms_per_iter_ratio: r,
      });
    }
  }

  // 3. Native vs JS: one full training step of the nanoGPT model.
  {
    if (!backends.includes('native')) {
      emit({ name: 'train_step_native_vs_js', status: 'missing', reason: 'native backend unavailable' });
    } else {
      const iters = 12; // 10 warm-up steps are skipped by the median: 2 timed steps
      useBackend('js');
      say('training step, JS backend...');
      const js = await lmforgeRun(nanoGpt, iters, { evaluate: false });
      const native = useBackend('native');
      native.setThreads(threads);
      say('training step, native backend...');
      const nat = await lmforgeRun(nanoGpt, iters, { evaluate: false });
      const speedup = round(js.ms_per_iter_median / nat.ms_per_iter_median, 2);
      say(
        `  JS ${js.ms_per_iter_median} ms/step, native ${nat.ms_per_iter_median} ms/step: native is ${speedup}x faster`,
      );
      emit({
        name: 'train_step_native_vs_js',
        threads,
        js_ms: js.ms_per_iter_median,
        native_ms: nat.ms_per_iter_median,
        speedup,
      });
    }
  }
}

await main();
