/**
 * Training-run safety in the library: a failed checkpoint write (injected ENOSPC) leaves the
 * previous checkpoint bit-identical; a non-finite loss, gradient or weight stops the run
 * with a DivergenceError naming the step and saves nothing; a replacing run leaves the old
 * run untouched until its first checkpoint; the output-folder classification; the default
 * warm-up of short runs.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import {
  defaultWarmup,
  inspectRunFolder,
  loadCheckpoint,
  resolveTrainOptions,
  type CheckpointStage,
} from '../../src/train/index.js';
import { ConfigError, DivergenceError, IoError } from '../../src/util/errors.js';
import { loggedSteps, tinyModel, tinyOptions, tinyTrainer, weights } from './tiny-run.js';

const runDir = (): string => join(mkdtempSync(join(tmpdir(), 'lmforge-safety-')), 'run');

/** Every file under the folder holding `dir` (the run and its siblings), by relative path. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string, prefix: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path, `${prefix}${entry.name}/`);
      else files.set(`${prefix}${entry.name}`, readFileSync(path).toString('base64'));
    }
  };
  walk(dirname(dir), '');
  return files;
}

const enospc = (): Error =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

describe('checkpoint write failure', () => {
  for (const stage of ['model-written', 'files-written'] as const) {
    it(`ENOSPC at "${stage}": an IoError saying the previous checkpoint is intact, which loads bit-identically`, async () => {
      const dir = runDir();
      let failAt: CheckpointStage | null = null;
      let saved: Map<string, string> | null = null;
      let savedWeights: Map<string, number[]> | null = null;
      const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 12, evalEvery: 4 }), dir, {
        checkpointHooks: {
          onStage: (at) => {
            if (at === failAt) throw enospc();
          },
        },
        onEvent: (event) => {
          if (event.kind === 'checkpoint' && event.step === 4) {
            saved = snapshot(dir);
            savedWeights = weights(trainer.model);
            failAt = stage; // the next save (step 8) fails
          }
        },
      });
      await assert.rejects(trainer.run(), (error: unknown) => {
        assert.ok(error instanceof IoError, String(error));
        assert.equal(error.where, dir);
        assert.equal(
          error.message,
          `${dir}: could not save the checkpoint of step 8 (ENOSPC: no space left on device, write); ` +
            'the previous checkpoint (step 4) is intact (hint: once the disk has room again, continue the run with --resume)',
        );
        return true;
      });
      const after = snapshot(dir);
      // log.jsonl has the steps since; every checkpoint file is byte for byte the step-4 one.
      for (const [name, bytes] of saved!)
        if (name !== 'run/log.jsonl') assert.equal(after.get(name), bytes, name);
      assert.deepEqual(
        [...after.keys()].sort(),
        [...saved!.keys()].sort(),
        'no partial .run.next left behind',
      );
      const loaded = await loadCheckpoint(dir);
      assert.equal(loaded.state.step, 4);
      assert.deepEqual(weights(loaded.model), savedWeights);
      trainer.dispose();
    });
  }

  it('ENOSPC on the first save says that no earlier checkpoint exists', async () => {
    const dir = runDir();
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 4, evalEvery: 4 }), dir, {
      checkpointHooks: {
        onStage: () => {
          throw enospc();
        },
      },
    });
    await assert.rejects(
      trainer.run(),
      (e: unknown) =>
        e instanceof IoError && /step 4 \(ENOSPC.*\); no earlier checkpoint exists$/.test(e.message),
    );
    assert.deepEqual(readdirSync(dirname(dir)), ['run']);
    trainer.dispose();
  });
});

describe('divergence', () => {
  it('a NaN weight: DivergenceError at the next step, the last checkpoint stays bit-identical', async () => {
    const dir = runDir();
    let saved: Map<string, string> | null = null;
    const steps: number[] = [];
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 12, evalEvery: 4 }), dir, {
      onEvent: (event) => {
        if (event.kind === 'step') steps.push(event.step);
        if (event.kind === 'checkpoint' && event.step === 4) {
          saved = snapshot(dir);
          trainer.model.namedParameters()[0]![1].floats()[0] = NaN;
        }
      },
    });
    await assert.rejects(trainer.run(), (error: unknown) => {
      assert.ok(error instanceof DivergenceError, String(error));
      assert.equal(
        error.message,
        `${dir}: training diverged at step 5: the training loss is NaN; nothing was saved over the ` +
          'checkpoint of step 4 (hint: lower the learning rate (--lr) or clip gradients (--grad-clip))',
      );
      return true;
    });
    assert.deepEqual(steps, [1, 2, 3, 4], 'step 5 was not taken');
    const after = snapshot(dir);
    for (const [name, bytes] of saved!)
      if (name !== 'run/log.jsonl') assert.equal(after.get(name), bytes, name);
    assert.equal((await loadCheckpoint(dir)).state.step, 4);
    trainer.dispose();
  });

  it('an absurd learning rate diverges with a DivergenceError, not a NaN checkpoint', async () => {
    const dir = runDir();
    const trainer = tinyTrainer(
      tinyModel(),
      tinyOptions({ iters: 40, evalEvery: 20, lr: 1e30, minLr: 0, warmup: 0, gradClip: null }),
      dir,
    );
    await assert.rejects(
      trainer.run(),
      (e: unknown) =>
        e instanceof DivergenceError &&
        /diverged at step \d+: .* is (NaN|-?Infinity); no checkpoint was written/.test(e.message),
    );
    assert.deepEqual(readdirSync(dir), ['log.jsonl']);
    trainer.dispose();
  });

  it('an infinite weight that the loss never reads is caught before the checkpoint', async () => {
    // Training blocks of 8 on a model of context 16: position rows 8..15 are never used.
    const dir = runDir();
    const model = tinyModel();
    const wpe = model.namedParameters().find(([name]) => name === 'transformer.wpe.weight')![1];
    wpe.floats()[wpe.floats().length - 1] = Infinity;
    const trainer = tinyTrainer(model, tinyOptions({ iters: 4, evalEvery: 4, blockSize: 8 }), dir);
    await assert.rejects(
      trainer.run(),
      (e: unknown) =>
        e instanceof DivergenceError &&
        e.message.includes(
          `training diverged at step 4: weight transformer.wpe.weight[${wpe.size - 1}] is Infinity`,
        ),
    );
    assert.deepEqual(readdirSync(dir), ['log.jsonl'], 'no checkpoint with an infinite weight');
    trainer.dispose();
  });
});

describe('replacing a run', () => {
  async function oldRun(dir: string): Promise<Map<string, string>> {
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 4, evalEvery: 4 }), dir);
    await trainer.run();
    trainer.dispose();
    return snapshot(dir);
  }

  it('stopped before its first checkpoint: nothing written, the old run bit-identical', async () => {
    const dir = runDir();
    const before = await oldRun(dir);
    const trainer = tinyTrainer(tinyModel('llama'), tinyOptions({ iters: 12, evalEvery: 8, seed: 5 }), dir, {
      replacesRun: true,
      onEvent: (event) => {
        if (event.kind === 'step' && event.step === 3) trainer.requestStop();
      },
    });
    const summary = await trainer.run();
    assert.equal(summary.stopReason, 'stop-requested');
    assert.equal(summary.step, 3);
    assert.equal(summary.checkpointStep, null);
    assert.deepEqual(snapshot(dir), before);
    trainer.dispose();
  });

  it('diverging before its first checkpoint leaves the old run bit-identical', async () => {
    const dir = runDir();
    const before = await oldRun(dir);
    const trainer = tinyTrainer(
      tinyModel(),
      tinyOptions({ iters: 40, evalEvery: 20, lr: 1e30, minLr: 0, warmup: 0, gradClip: null }),
      dir,
      { replacesRun: true },
    );
    await assert.rejects(
      trainer.run(),
      (e: unknown) =>
        e instanceof DivergenceError && e.message.includes('the previous run in the folder is unchanged'),
    );
    assert.deepEqual(snapshot(dir), before);
    trainer.dispose();
  });

  it('the first checkpoint replaces the old run whole, log included', async () => {
    const dir = runDir();
    await oldRun(dir);
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 6, evalEvery: 3 }), dir, {
      replacesRun: true,
    });
    await trainer.run();
    const steps = loggedSteps(dir);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6], 'the old run left log lines behind');
    assert.equal((await loadCheckpoint(dir)).state.step, 6);
    assert.deepEqual(readdirSync(dirname(dir)), ['run']);
    trainer.dispose();
  });
});

describe('output folder kinds', () => {
  it('missing, empty, run, unfinished, other; a file or a path below a file is a ConfigError', async () => {
    const base = mkdtempSync(join(tmpdir(), 'lmforge-kinds-'));
    assert.equal(await inspectRunFolder(join(base, 'none')), 'missing');
    mkdirSync(join(base, 'empty'));
    assert.equal(await inspectRunFolder(join(base, 'empty')), 'empty');
    mkdirSync(join(base, 'hf'));
    writeFileSync(join(base, 'hf', 'config.json'), '{}');
    assert.equal(await inspectRunFolder(join(base, 'hf')), 'other');
    mkdirSync(join(base, 'unfinished'));
    writeFileSync(join(base, 'unfinished', 'log.jsonl'), '');
    assert.equal(await inspectRunFolder(join(base, 'unfinished')), 'unfinished');
    const run = join(base, 'run');
    const trainer = tinyTrainer(tinyModel(), tinyOptions({ iters: 3, evalEvery: 3 }), run);
    await trainer.run();
    trainer.dispose();
    assert.equal(await inspectRunFolder(run), 'run');
    writeFileSync(join(base, 'file'), 'x');
    await assert.rejects(
      inspectRunFolder(join(base, 'file')),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `${join(base, 'file')}: the output path is a file, not a folder (hint: pass another --out)`,
    );
    await assert.rejects(
      inspectRunFolder(join(base, 'file', 'a', 'b')),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.where === join(base, 'file') &&
        /parent of the output folder is a file/.test(e.message),
    );
  });
});

describe('default warm-up', () => {
  it('is min(100, floor(iters / 10)) when not given, so short runs are valid', () => {
    assert.deepEqual([1, 9, 10, 50, 100, 999, 1000, 2000].map(defaultWarmup), [0, 0, 1, 5, 10, 99, 100, 100]);
    assert.equal(resolveTrainOptions({ iters: 50 }).warmup, 5);
    assert.equal(resolveTrainOptions({ iters: 1 }).warmup, 0);
    assert.equal(resolveTrainOptions({}).warmup, 100);
    assert.equal(resolveTrainOptions({ iters: 50, warmup: 7 }).warmup, 7);
    assert.throws(
      () => resolveTrainOptions({ iters: 50, warmup: 50 }),
      (e: unknown) =>
        e instanceof ConfigError && e.message.includes('warmup must be < iters (got warmup 50, iters 50)'),
    );
  });
});
