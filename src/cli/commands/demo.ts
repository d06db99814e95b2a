/**
 * `lmforge demo` (npm run demo): the main job with no user data. Trains a small character
 * model on the built-in WordNet corpus for a few minutes (the step count is fitted to
 * --minutes from a measured step time), printing the loss as it falls, saves the run to
 * runs/demo, then writes a few dictionary entries from prompts such as "music:". With
 * --lifecycle it goes on through SFT, a reward model and DPO (demo-lifecycle.ts).
 */
import { Command } from 'commander';
import { createModel, gpt2Preset } from '../../models/index.js';
import { CharTokenizer } from '../../tokenizers/index.js';
import { generate } from '../../generate/index.js';
import { Trainer, resolveTrainOptions } from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { integer, real } from '../parse-number.js';
import { currentBackend } from '../../backend/index.js';
import { defaultCacheDir, runTraining, signalExitCode, type TrainOutcome } from '../train-run.js';

export interface DemoFlags extends ComputeFlags {
  minutes: number;
  iters?: number;
  out: string;
  prompt?: string[];
  cacheDir?: string;
  lifecycle?: boolean;
}

/** nanoGPT's shakespeare-char CPU model: 4 layers, 4 heads, 128 wide, context 64, batch 12. */
const shape = { nLayer: 4, nHead: 4, nEmbd: 128 } as const;
const blockSize = 64;
const batchSize = 12;

const log = (text: string): void => {
  process.stderr.write(text + '\n');
};

/** Median ms of a few training steps of the demo model on random tokens (calibration only). */
function measureStepMs(): number {
  const vocab = 91; // the corpus's character count; the exact value barely changes the cost
  const ids = Int32Array.from({ length: 4096 }, (_, i) => (i * 7919) % vocab);
  const model = createModel(gpt2Preset({ ...shape, vocabSize: vocab, blockSize, bias: false }), { seed: 0 });
  const trainer = new Trainer({
    model,
    tokenizer: new CharTokenizer(Array.from({ length: vocab }, (_, i) => String.fromCharCode(32 + i))),
    train: ids,
    val: ids,
    options: resolveTrainOptions({ iters: 10, warmup: 0, blockSize, batchSize }),
    runDir: null,
    data: {
      source: { kind: 'builtin' },
      description: 'calibration',
      textHash: '',
      trainTokens: 0,
      valTokens: 0,
    },
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const start = performance.now();
      trainer.trainStep();
      times.push(performance.now() - start);
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
  return times.slice(1).sort((a, b) => a - b)[1]!;
}

/** Pre-trains the demo model for about `minutes` (or flags.iters steps) into flags.out, with progress. */
export async function pretrainDemo(flags: DemoFlags, minutes: number): Promise<TrainOutcome> {
  const backend = currentBackend();
  let iters = flags.iters;
  if (iters === undefined) {
    const ms = measureStepMs();
    // At least 200 steps so the loss visibly falls; at most 5000 (nanoGPT's run is 2000-5000).
    iters = Math.max(200, Math.min(5000, Math.round((minutes * 60_000) / (ms * 1.08))));
    log(
      `measured ${ms.toFixed(1)} ms per step: training ${iters} steps (about ${((iters * ms * 1.08) / 60_000).toFixed(1)} min)`,
    );
    if (backend.name === 'js')
      log('(the native backend trains this model far faster: npm install with a C compiler)');
  }
  const evalEvery = Math.max(1, Math.round(iters / 8));
  return runTraining({
    source: { kind: 'builtin' },
    tokenizer: 'char',
    model: { arch: 'gpt2', ...shape, dropout: 0 },
    options: {
      iters,
      blockSize,
      batchSize,
      lr: 1e-3,
      minLr: 1e-4,
      beta2: 0.99,
      weightDecay: 0.1,
      evalEvery,
      evalIters: 10,
      seed: 1337,
    },
    out: flags.out,
    resume: false,
    force: true,
    cacheDir: flags.cacheDir ?? defaultCacheDir(),
    showProgress: true,
  });
}

export function demoCommand(): Command {
  const command = new Command('demo')
    .option('--minutes <x>', 'training time budget (--lifecycle: of the whole run)', real({ above: 0 }), 3)
    .option('--iters <n>', 'training steps (default: fitted to --minutes)', integer({ min: 1 }))
    .option(
      '--out <dir>',
      'run folder (--lifecycle also writes DIR-sft, DIR-rm, DIR-dpo and DIR-rloo)',
      'runs/demo',
    )
    .option('--prompt <text...>', 'prompts to complete after training', ['music:', 'house:', 'to run:'])
    .option('--cache-dir <dir>', 'token cache folder (default ~/.cache/lmforge)')
    .option(
      '--lifecycle',
      'the whole lifecycle on the built-in data: pre-train, SFT, reward model, DPO, RLOO, with before/after answers',
    );
  return addComputeOptions(command).action(async (flags: DemoFlags) => {
    const backend = applyComputeOptions(flags);
    log(
      `backend: ${backend.name} (${backend.isa}, ${backend.threads} thread${backend.threads === 1 ? '' : 's'})`,
    );
    if (flags.lifecycle === true) {
      await (await import('../demo-lifecycle.js')).runLifecycle(flags);
      return;
    }
    const { model, tokenizer, signal } = await pretrainDemo(flags, flags.minutes);
    if (signal !== null) {
      process.exitCode = signalExitCode[signal];
      model.dispose();
      return;
    }
    log(`\nsaved to ${flags.out} (try: node bin/lmforge.js generate ${flags.out} --prompt "garden:")\n`);
    for (const prompt of flags.prompt ?? []) {
      process.stdout.write(prompt);
      const stream = generate(model, tokenizer, prompt, {
        maxNewTokens: 160,
        sampling: { kind: 'sample', temperature: 0.8, topK: 40 },
        seed: 7,
        stop: ['\n'],
      });
      for await (const token of stream) process.stdout.write(token.text);
      process.stdout.write('\n');
    }
    model.dispose();
  });
}
