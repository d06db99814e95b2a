import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointStage } from '../../src/train/index.js';
import { FormatError } from '../../src/util/errors.js';
import { tinyModel, tinyOptions, tinyTrainer, weights } from './tiny-run.js';

async function trainedRun(steps: number, dir: string) {
  const model = tinyModel();
  const trainer = tinyTrainer(model, tinyOptions({ iters: 20, evalEvery: 100 }), dir);
  for (let i = 0; i < steps; i++) trainer.trainStep();
  return { model, trainer };
}

describe('checkpoints', () => {
  it('a run folder is an HF model folder plus optimizer and trainer state', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-ckpt-')), 'run');
    const { trainer } = await trainedRun(2, dir);
    await trainer.checkpoint(null);
    const files = readdirSync(dir).sort();
    for (const f of [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'optimizer.safetensors',
      'tokenizer.json',
      'trainer_state.json',
    ]) {
      assert.ok(files.includes(f), `missing ${f} in ${files.join(', ')}`);
    }
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { model_type: string };
    assert.equal(config.model_type, 'gpt2');
    const loaded = await loadCheckpoint(dir);
    assert.equal(loaded.state.step, 2);
    assert.deepEqual(weights(loaded.model), weights(trainer.model));
    trainer.dispose();
  });

  for (const stage of ['files-written', 'old-moved-aside', 'new-in-place'] as const) {
    it(`a crash at "${stage}" leaves a complete, loadable checkpoint`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-crash-')), 'run');
      const { trainer } = await trainedRun(2, dir);
      await trainer.checkpoint(null);
      const before = weights(trainer.model);
      for (let i = 0; i < 2; i++) trainer.trainStep();
      const after = weights(trainer.model);
      const crash = (at: CheckpointStage): void => {
        if (at === stage) throw new Error(`simulated crash at ${at}`);
      };
      await assert.rejects(
        saveCheckpoint(
          dir,
          {
            model: trainer.model,
            tokenizer: (await loadCheckpoint(dir)).tokenizer,
            generationConfig: {},
            optimizer: trainer.optimizer.stateDict(),
            state: trainer.state(null),
          },
          { onStage: crash },
        ),
        /simulated crash/,
      );
      // Whatever the stage, loading finds one complete checkpoint: the old (step 2) or the new (step 4).
      const loaded = await loadCheckpoint(dir);
      const expected = loaded.state.step === 2 ? before : after;
      assert.ok(loaded.state.step === 2 || loaded.state.step === 4, `step ${loaded.state.step}`);
      if (stage === 'files-written')
        assert.equal(loaded.state.step, 2, 'the new checkpoint was not yet in place');
      if (stage === 'new-in-place') assert.equal(loaded.state.step, 4);
      assert.deepEqual(weights(loaded.model), expected);
      // No leftovers once recovered.
      const siblings = readdirSync(dirname(dir));
      assert.deepEqual(siblings, ['run'], `leftovers: ${siblings.join(', ')}`);
      trainer.dispose();
    });
  }

  it('a truncated model.safetensors or trainer_state.json is a clear FormatError', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-trunc-')), 'run');
    const { trainer } = await trainedRun(1, dir);
    await trainer.checkpoint(null);
    const weightsPath = join(dir, 'model.safetensors');
    const bytes = readFileSync(weightsPath);
    writeFileSync(weightsPath, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(
      loadCheckpoint(dir),
      (e: unknown) => e instanceof FormatError && e.message.includes('model.safetensors'),
    );
    writeFileSync(weightsPath, bytes);
    const statePath = join(dir, 'trainer_state.json');
    const state = readFileSync(statePath, 'utf8');
    writeFileSync(statePath, state.slice(0, 40));
    await assert.rejects(
      loadCheckpoint(dir),
      (e: unknown) => e instanceof FormatError && /trainer_state/.test(e.message),
    );
    writeFileSync(statePath, state);
    const optimizerPath = join(dir, 'optimizer.safetensors');
    writeFileSync(optimizerPath, readFileSync(optimizerPath).subarray(0, 100));
    await assert.rejects(
      loadCheckpoint(dir),
      (e: unknown) => e instanceof FormatError && e.message.includes('optimizer'),
    );
    assert.ok(existsSync(dir));
    trainer.dispose();
  });
});
