import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { loadCheckpoint } from '../../src/train/index.js';
import { loggedSteps, tinyModel, tinyOptions, tinyTrainer, weights } from './tiny-run.js';

function firstDifference(a: readonly number[], b: readonly number[]): string {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++)
    if (!Object.is(a[i], b[i])) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return 'equal';
}

/** Straight N steps vs N/2 steps, stop, load the checkpoint, N/2 more: bit-identical. */
async function assertResumeExact(arch: 'gpt2' | 'llama' | 'mixtral', dropout: number): Promise<void> {
  const options = tinyOptions({ iters: 12, evalEvery: 5 });
  const straightModel = tinyModel(arch, dropout);
  const straight = tinyTrainer(straightModel, options, null);
  const full = await straight.run();
  assert.equal(full.losses.length, 12);

  const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-resume-')), 'run');
  const firstModel = tinyModel(arch, dropout);
  // Stop after step 6 (not a multiple of evalEvery, so the eval schedule is crossed mid-way).
  const first = tinyTrainer(firstModel, options, dir, {
    onEvent: (event) => {
      if (event.kind === 'step' && event.step === 6) first.requestStop();
    },
  });
  const half = await first.run();
  assert.equal(half.stopReason, 'stop-requested');
  assert.equal(half.step, 6);

  const checkpoint = await loadCheckpoint(dir);
  assert.equal(checkpoint.state.step, 6);
  const second = tinyTrainer(checkpoint.model, checkpoint.state.options, dir, { resume: checkpoint });
  const rest = await second.run();
  assert.equal(rest.stopReason, 'completed');

  const resumedLosses = [...half.losses, ...rest.losses];
  assert.deepEqual(
    resumedLosses,
    full.losses,
    `losses differ: ${firstDifference(resumedLosses, full.losses)}`,
  );
  const expected = weights(straightModel);
  for (const [name, values] of weights(checkpoint.model)) {
    assert.deepEqual(values, expected.get(name), `${name}: ${firstDifference(values, expected.get(name)!)}`);
  }
  // And the final checkpoint on disk holds those weights.
  const final = await loadCheckpoint(dir);
  for (const [name, values] of weights(final.model)) assert.deepEqual(values, expected.get(name), name);
  assert.equal(final.state.step, 12);
  assert.deepEqual(rest.valLoss, full.valLoss);
  // The log has each step once, in order.
  const steps = loggedSteps(dir);
  assert.deepEqual(
    steps,
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  for (const t of [straight, first, second]) t.dispose();
}

describe('resume', () => {
  it('GPT-2 with dropout and gradient accumulation: N/2 + resume N/2 equals N straight, bit for bit', async () => {
    await assertResumeExact('gpt2', 0.1);
  });
  it('Llama: N/2 + resume N/2 equals N straight, bit for bit', async () => {
    await assertResumeExact('llama', 0);
  });
  it('Mixtral (router jitter, capacity drops, both router losses): N/2 + resume N/2 equals N straight, bit for bit', async () => {
    await assertResumeExact('mixtral', 0);
  });
});

describe('trainer', () => {
  it('lowers the loss on a tiny corpus and evaluates both splits', async () => {
    const events: string[] = [];
    const trainer = tinyTrainer(
      tinyModel(),
      tinyOptions({ iters: 40, evalEvery: 20, lr: 1e-2, minLr: 1e-3 }),
      null,
      {
        onEvent: (e) => events.push(e.kind),
      },
    );
    const summary = await trainer.run();
    const early = summary.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const late = summary.losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(late < early - 0.5, `loss did not fall: ${early} -> ${late}`);
    assert.equal(events.filter((e) => e === 'eval').length, 3); // steps 0, 20, 40
    assert.ok(summary.valLoss !== null && summary.trainLoss !== null && summary.msPerIterMedian !== null);
    trainer.dispose();
  });

  it('stops early when the validation loss stops improving', async () => {
    // lr so high that the validation loss cannot keep improving.
    const trainer = tinyTrainer(
      tinyModel(),
      tinyOptions({
        iters: 200,
        evalEvery: 2,
        lr: 0.9,
        minLr: 0.9,
        warmup: 0,
        earlyStopPatience: 2,
        gradClip: null,
      }),
      null,
    );
    const summary = await trainer.run();
    assert.equal(summary.stopReason, 'early-stopped');
    assert.ok(summary.step < 200);
    trainer.dispose();
  });
});
