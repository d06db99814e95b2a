/**
 * The trainer drives any objective (objectives/objective.ts): its batches and their resumable
 * state, its loss, the model's auxiliary loss (optimised and logged apart) and its metrics.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Rng, Tensor, crossEntropy, mean, mul, square, type RngState } from '../../src/tensor/index.js';
import type { LanguageModel } from '../../src/models/index.js';
import {
  CausalLmObjective,
  loadCheckpoint,
  splitTokens,
  type BatchSource,
  type ForwardSettings,
  type Objective,
  type ObjectiveLoss,
} from '../../src/train/index.js';
import { ConfigError, FormatError } from '../../src/util/errors.js';
import { tinyModel, tinyOptions, tinyText, tinyTokenizer, tinyTrainer, weights } from './tiny-run.js';

const ids = Int32Array.from(tinyTokenizer.encode(tinyText));
const T = 8;

interface Pair {
  readonly x: Tensor;
  readonly y: Tensor;
}

/**
 * Next-token prediction over blocks at a cursor that steps by a random stride: a source
 * whose state is a JSON object of its own (cursor + rng), not a bare RngState.
 */
class StrideObjective implements Objective<Pair> {
  readonly kind = 'test-stride';
  metricsCalls = 0;
  constructor(readonly auxWeight: number) {}

  check(model: LanguageModel): void {
    if (model.maxPositions < T) throw new ConfigError('too short', { where: 'StrideObjective' });
  }

  batches(split: 'train' | 'val', rng: Rng): BatchSource<Pair> {
    const data = split === 'train' ? splitTokens(ids).train : splitTokens(ids).val;
    let cursor = 0;
    let random = rng;
    return {
      next: () => {
        const x = new Int32Array(2 * T);
        const y = new Int32Array(2 * T);
        for (let b = 0; b < 2; b++) {
          cursor = (cursor + random.randint(1, 9)) % (data.length - T - 1);
          x.set(data.subarray(cursor, cursor + T), b * T);
          y.set(data.subarray(cursor + 1, cursor + 1 + T), b * T);
        }
        return { x: Tensor.fromArray(x, [2, T]), y: Tensor.fromArray(y, [2, T]) };
      },
      getState: () => ({ cursor, rng: random.getState() }),
      setState: (state) => {
        const s = state as { cursor?: unknown; rng?: RngState };
        if (typeof s.cursor !== 'number' || s.rng === undefined) {
          throw new FormatError('bad stride state', { where: 'rng.sampler' });
        }
        cursor = s.cursor;
        random = Rng.fromState(s.rng);
      },
    };
  }

  loss(model: LanguageModel, batch: Pair, settings: ForwardSettings): ObjectiveLoss {
    const logits = model.forward({ ids: batch.x }, { mode: settings.mode }).logits!; // (B, T, V)
    const loss = crossEntropy(logits, batch.y);
    if (this.auxWeight === 0) return { loss, tokens: batch.x.size };
    // A stand-in for an MoE balancing term: a penalty on the logits' size.
    const auxLoss = mul(mean(square(logits)), Tensor.fromArray(Float32Array.of(this.auxWeight), []));
    return { loss, auxLoss, tokens: batch.x.size };
  }

  metrics(): Readonly<Record<string, number>> {
    this.metricsCalls++;
    return { val_calls: this.metricsCalls };
  }
}

function run(objective: Objective, dir: string | null, extra = {}) {
  return tinyTrainer(tinyModel(), tinyOptions({ iters: 8, evalEvery: 4 }), dir, { objective, ...extra });
}

describe('training objectives', () => {
  it('the shorthand train/val equals an explicit CausalLmObjective, bit for bit', async () => {
    const options = tinyOptions({ iters: 6, evalEvery: 3 });
    const shorthand = tinyTrainer(tinyModel(), options, null);
    const { train, val } = splitTokens(ids);
    const objective = new CausalLmObjective({
      train,
      val,
      blockSize: options.blockSize,
      batchSize: options.batchSize,
    });
    const explicit = tinyTrainer(tinyModel(), options, null, { objective });
    const a = await shorthand.run();
    const b = await explicit.run();
    assert.deepEqual(a.losses, b.losses);
    assert.equal(a.valLoss, b.valLoss);
    assert.equal(b.auxLoss, null);
  });

  it("trains on the objective's batches and loss, logs its metrics and resumes its own state exactly", async () => {
    const straight = run(new StrideObjective(0), null);
    const full = await straight.run();
    assert.equal(full.losses.length, 8);
    assert.ok(full.losses.at(-1)! < full.losses[0]!, 'the loss falls');
    assert.deepEqual(full.metrics, { val_calls: 3 });

    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-objective-')), 'run');
    const first = run(new StrideObjective(0), dir, {
      onEvent: (event: { kind: string; step?: number }) => {
        if (event.kind === 'step' && event.step === 5) first.requestStop();
      },
    });
    const half = await first.run();
    assert.equal(half.step, 5);
    const checkpoint = await loadCheckpoint(dir);
    assert.equal(checkpoint.state.objective, 'test-stride');
    assert.equal(typeof (checkpoint.state.rng.sampler as { cursor: number }).cursor, 'number');
    const second = tinyTrainer(checkpoint.model, checkpoint.state.options, dir, {
      objective: new StrideObjective(0),
      resume: checkpoint,
    });
    const rest = await second.run();
    assert.deepEqual([...half.losses, ...rest.losses], full.losses);
    const expected = weights(straight.model);
    for (const [name, values] of weights(checkpoint.model))
      assert.deepEqual(values, expected.get(name), name);
    const evals = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; val_calls?: number })
      .filter((record) => record.type === 'eval');
    assert.ok(
      evals.every((record) => typeof record.val_calls === 'number'),
      'metrics in every eval record',
    );
  });

  it('optimises the auxiliary loss with the loss and logs it apart', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-aux-')), 'run');
    const withAux = run(new StrideObjective(0.5), dir);
    const summary = await withAux.run();
    const plain = await run(new StrideObjective(0), null).run();
    assert.equal(typeof summary.auxLoss, 'number');
    assert.ok(summary.auxLoss! > 0);
    // The first step's objective loss is the same (same init, same batch); the updates differ.
    assert.equal(summary.losses[0], plain.losses[0]);
    assert.notDeepEqual(summary.losses, plain.losses);
    const steps = readFileSync(join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; aux_loss?: number })
      .filter((record) => record.type === 'step');
    assert.ok(steps.every((record) => typeof record.aux_loss === 'number' && record.aux_loss > 0));
  });

  it('refuses to resume a checkpoint written with another objective', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'lmforge-objective-kind-')), 'run');
    await tinyTrainer(tinyModel(), tinyOptions({ iters: 4, evalEvery: 4 }), dir).run();
    const checkpoint = await loadCheckpoint(dir);
    assert.equal(checkpoint.state.objective, 'causal-lm');
    assert.throws(
      () => run(new StrideObjective(0), dir, { resume: checkpoint }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /another objective/.test(error.message) &&
        /causal-lm/.test(String(error)),
    );
  });

  it('checks the model against the objective before any work', () => {
    const objective = new StrideObjective(0);
    objective.check = () => {
      throw new ConfigError('no head', { where: 'StrideObjective' });
    };
    assert.throws(() => run(objective, null), ConfigError);
  });
});
