/**
 * Training faults: a NaN loss injected at chosen steps (an objective wrapper that multiplies
 * the loss by NaN, so the gradients are NaN too) is skipped with onNonfinite 'skip' (no
 * update, logged, counted, resumed exactly), stops the run after more than maxSkips in a row,
 * and stops it at once by default; a non-finite model is never saved. The CLI flags too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { mul, scalar } from '../../src/tensor/index.js';
import {
  CausalLmObjective,
  loadCheckpoint,
  splitTokens,
  Trainer,
  type LoadedCheckpoint,
  type Objective,
  type TrainEvent,
  type TrainOptions,
} from '../../src/train/index.js';
import { DivergenceError } from '../../src/util/errors.js';
import { assertUserError, run, tinyShape } from '../e2e/cli-util.js';
import { tinyModel, tinyOptions, tinyText, tinyTokenizer, weights } from '../train/tiny-run.js';

const runDir = (): string => join(mkdtempSync(join(tmpdir(), 'lmforge-nonfinite-')), 'run');

/** A Trainer on the tiny corpus whose training loss is NaN at the steps in `nanSteps`. */
function nanTrainer(
  options: TrainOptions,
  dir: string,
  nanSteps: (step: number) => boolean,
  extra: { resume?: LoadedCheckpoint; onEvent?: (event: TrainEvent) => void } = {},
): Trainer {
  const { train, val } = splitTokens(Int32Array.from(tinyTokenizer.encode(tinyText)));
  const inner = new CausalLmObjective({
    train,
    val,
    blockSize: options.blockSize,
    batchSize: options.batchSize,
  });
  let trainer: Trainer | null = null;
  const objective: Objective = {
    kind: inner.kind,
    check: (model) => inner.check(model),
    batches: (split, rng) => inner.batches(split, rng),
    loss: (model, batch, settings) => {
      const result = inner.loss(model, batch as never, settings);
      const poisoned = settings.mode === 'train' && nanSteps(trainer!.step + 1);
      return poisoned ? { ...result, loss: mul(result.loss, scalar(NaN)) } : result;
    },
  };
  trainer = new Trainer({
    model: extra.resume?.model ?? tinyModel(),
    tokenizer: tinyTokenizer,
    objective,
    options,
    runDir: dir,
    data: { source: { kind: 'builtin' }, description: 'tiny', textHash: 'x', trainTokens: 1, valTokens: 1 },
    ...extra,
  });
  return trainer;
}

const logRecords = (dir: string): Array<Record<string, unknown>> =>
  readFileSync(join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

const skip = (extra: Partial<TrainOptions> = {}): TrainOptions =>
  tinyOptions({ iters: 12, evalEvery: 4, onNonfinite: 'skip', maxSkips: 2, ...extra });

describe('a non-finite training loss', () => {
  it('skip: no update at a skipped step, logged and counted, the run completes with finite weights', async () => {
    const dir = runDir();
    const snapshots = new Map<number, Map<string, number[]>>();
    const events: string[] = [];
    const trainer = nanTrainer(skip(), dir, (step) => step === 3 || step === 7 || step === 8, {
      onEvent: (event) => {
        if (event.kind === 'step' || event.kind === 'skip') {
          snapshots.set(event.step, weights(trainer.model));
          events.push(`${event.kind} ${event.step}`);
        }
      },
    });
    const summary = await trainer.run();
    assert.equal(summary.step, 12);
    assert.equal(summary.skippedSteps, 3);
    assert.deepEqual(
      events.filter((e) => e.startsWith('skip')),
      ['skip 3', 'skip 7', 'skip 8'],
    );
    assert.deepEqual(snapshots.get(3), snapshots.get(2), 'a skipped step changed the weights');
    assert.deepEqual(snapshots.get(8), snapshots.get(6));
    assert.notDeepEqual(snapshots.get(4), snapshots.get(3), 'the step after a skip trains');
    const skips = logRecords(dir).filter((record) => record['type'] === 'skip');
    assert.deepEqual(
      skips.map((record) => [record['step'], record['reason'], record['skipped_steps']]),
      [
        [3, 'the training loss is NaN', 1],
        [7, 'the training loss is NaN', 2],
        [8, 'the training loss is NaN', 3],
      ],
    );
    const saved = await loadCheckpoint(dir);
    assert.equal(saved.state.skippedSteps, 3);
    for (const [name, values] of weights(saved.model)) assert.ok(values.every(Number.isFinite), name);
    saved.model.dispose();
    trainer.dispose();
  });

  it('skip: a run resumed after skips continues exactly (same losses, same weights)', async () => {
    const nan = (step: number): boolean => step === 3 || step === 6;
    const whole = nanTrainer(skip(), runDir(), nan);
    const expected = await whole.run();
    const dir = runDir();
    const first = nanTrainer(skip(), dir, nan, {
      onEvent: (event) => {
        if (event.kind === 'checkpoint' && event.step === 8) first.requestStop();
      },
    });
    await first.run();
    first.dispose();
    const resumed = nanTrainer(skip(), dir, nan, { resume: await loadCheckpoint(dir) });
    const rest = await resumed.run();
    assert.deepEqual(rest.losses, expected.losses.slice(8));
    assert.equal(rest.skippedSteps, 2);
    assert.deepEqual(weights(resumed.model), weights(whole.model));
    whole.dispose();
    resumed.dispose();
  });

  it('skip: more than maxSkips non-finite steps in a row stop the run, after a finite checkpoint', async () => {
    const dir = runDir();
    const trainer = nanTrainer(skip(), dir, (step) => step >= 3);
    await assert.rejects(trainer.run(), (error: unknown) => {
      assert.ok(error instanceof DivergenceError, String(error));
      assert.equal(
        error.message,
        `${dir}: training diverged at step 5: the training loss is NaN, after 2 skipped steps in a row ` +
          '(the most allowed: maxSkips 2); nothing was saved over the checkpoint of step 4 ' +
          '(hint: lower the learning rate (--lr) or clip gradients (--grad-clip))',
      );
      return true;
    });
    const saved = await loadCheckpoint(dir);
    assert.equal(saved.state.step, 4);
    assert.equal(saved.state.consecutiveSkips, 2);
    saved.model.dispose();
    trainer.dispose();
  });

  it('stop (the default): a DivergenceError naming the step, nothing saved', async () => {
    const dir = runDir();
    const trainer = nanTrainer(tinyOptions({ iters: 12, evalEvery: 4 }), dir, (step) => step === 6);
    await assert.rejects(
      trainer.run(),
      (error: unknown) =>
        error instanceof DivergenceError &&
        error.message.startsWith(
          `${dir}: training diverged at step 6: the training loss is NaN; nothing was saved over the checkpoint of step 4`,
        ),
    );
    assert.equal((await loadCheckpoint(dir)).state.step, 4);
    trainer.dispose();
  });
});

describe('lmforge train --on-nonfinite', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmforge-nonfinite-cli-'));
  const data = join(work, 'tiny.txt');
  writeFileSync(data, 'the cat sat on the mat.\nthe dog ate the log.\n'.repeat(60));
  const tiny = [
    'train',
    '--data',
    data,
    ...tinyShape,
    '--iters',
    '40',
    '--eval-every',
    '20',
    '--eval-iters',
    '1',
  ];
  const diverging = ['--lr', '1e30', '--warmup', '0', '--grad-clip', '0', '--no-progress'];

  it('skip with an absurd learning rate: skips --max-skips steps, then exit 2 naming the step', () => {
    const out = join(work, 'skip');
    const r = run([...tiny, ...diverging, '--on-nonfinite', 'skip', '--max-skips', '3', '--out', out]);
    assertUserError(
      r,
      new RegExp(
        `^${out}: training diverged at step (\\d+): the (training loss|gradient norm) is (NaN|-?Infinity), after 3 skipped steps in a row`,
      ),
    );
    const skipped = logRecords(out).filter((record) => record['type'] === 'skip');
    assert.equal(skipped.length, 3);
    const stoppedAt = Number(/step (\d+):/.exec(r.stderr.split('\n').at(-2)!)![1]);
    assert.deepEqual(
      skipped.map((record) => record['step']),
      [stoppedAt - 3, stoppedAt - 2, stoppedAt - 1],
    );
  });

  it('bad values are one line naming the flag', () => {
    const out = join(work, 'bad');
    assertUserError(
      run([...tiny, '--max-skips', '2', '--out', out]),
      '--max-skips: --max-skips applies to --on-nonfinite skip (hint: pass --on-nonfinite skip too (also when resuming))',
    );
    assertUserError(
      run([...tiny, '--on-nonfinite', 'ignore', '--out', out]),
      `option '--on-nonfinite <policy>': expected one of stop, skip, got "ignore"`,
    );
    assertUserError(
      run([...tiny, '--on-nonfinite', 'skip', '--max-skips', '0', '--out', out]),
      `option '--max-skips <n>': expected an integer >= 1, got "0"`,
    );
  });
});
