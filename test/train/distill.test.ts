/**
 * Distillation: the softened KL term's value and gradient against the float64 definition,
 * the objective lowering the student's KL to a teacher and raising its greedy agreement
 * (trained by the Trainer, in memory), the teacher left untouched, and bad settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Rng, Tensor, backward, noGrad } from '../../src/tensor/index.js';
import { createModel, gpt2Preset, llamaPreset } from '../../src/models/index.js';
import { DistillObjective, Trainer, softenedKl, splitTokens } from '../../src/train/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { assertClose } from '../util/close.js';
import { tinyOptions, tinyText, tinyTokenizer } from './tiny-run.js';

const ids = Int32Array.from(tinyTokenizer.encode(tinyText));
const { train, val } = splitTokens(ids);
const data = { train, val, blockSize: 16, batchSize: 4 };
const V = tinyTokenizer.vocabSize;
const teacherModel = () =>
  createModel(gpt2Preset({ vocabSize: V, nLayer: 2, nHead: 2, nEmbd: 32, blockSize: 16, initStd: 0.3 }), {
    seed: 5,
  });
const studentModel = () =>
  createModel(llamaPreset({ vocabSize: V, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }), { seed: 6 });

/** log_softmax of one row in float64. */
function logSoftmax64(row: ArrayLike<number>, temperature: number): Float64Array {
  const scaled = Float64Array.from(row, (x) => x / temperature);
  const max = Math.max(...scaled);
  const logTotal = max + Math.log(scaled.reduce((total, x) => total + Math.exp(x - max), 0));
  return scaled.map((x) => x - logTotal);
}

describe('distillation', () => {
  it('softenedKl is T^2 * KL(p_T || q_T) per row, with gradient T * (q_T - p_T) / rows', () => {
    const rng = new Rng(1);
    const shape = [2, 3, 5];
    const teacher = Tensor.fromArray(
      Float32Array.from({ length: 30 }, () => rng.normal() * 2),
      shape,
    );
    const student = Tensor.fromArray(
      Float32Array.from({ length: 30 }, () => rng.normal() * 2),
      shape,
    );
    student.requiresGrad = true;
    for (const temperature of [1, 2.5]) {
      student.grad = null;
      const kl = softenedKl(teacher, student, temperature);
      backward(kl);
      let expected = 0;
      const gradient = new Float64Array(30);
      const t = teacher.floats();
      const s = student.floats();
      for (let row = 0; row < 6; row++) {
        const logP = logSoftmax64(t.subarray(row * 5, row * 5 + 5), temperature);
        const logQ = logSoftmax64(s.subarray(row * 5, row * 5 + 5), temperature);
        for (let v = 0; v < 5; v++) {
          expected += Math.exp(logP[v]!) * (logP[v]! - logQ[v]!);
          gradient[row * 5 + v] = (temperature * (Math.exp(logQ[v]!) - Math.exp(logP[v]!))) / 6;
        }
      }
      assertClose(`KL at T ${temperature}`, [kl.item()], [(temperature ** 2 * expected) / 6], {
        atol: 1e-6,
        rtol: 1e-5,
      });
      assertClose(`gradient at T ${temperature}`, student.grad!, gradient, { atol: 1e-6, rtol: 1e-4 });
    }
  });

  it('training on the objective lowers the KL to the teacher below what next-token training reaches', async () => {
    const teacher = teacherModel();
    const teacherBefore = teacher.namedParameters().map(([, p]) => Float32Array.from(p.floats()));
    /** The student's metrics before and after 80 steps with the KL weighted by alpha. */
    const distil = async (alpha: number) => {
      const student = studentModel();
      const objective = new DistillObjective(teacher, data, { temperature: 2, alpha, metricBatches: 4 });
      const before = noGrad(() => objective.metrics(student));
      const trainer = new Trainer({
        model: student,
        tokenizer: tinyTokenizer,
        objective,
        options: tinyOptions({
          iters: 80,
          gradAccum: 1,
          batchSize: 4,
          lr: 1e-2,
          evalEvery: 80,
          evalIters: 1,
        }),
        runDir: null,
        data: {
          source: { kind: 'builtin' },
          description: 'tiny',
          textHash: 'x',
          trainTokens: train.length,
          valTokens: val.length,
        },
      });
      const summary = await trainer.run();
      trainer.dispose();
      const after = noGrad(() => objective.metrics(student));
      assert.deepEqual(summary.metrics, after, 'the last evaluation reports the metrics');
      student.dispose();
      return { before, after };
    };
    const distilled = await distil(1);
    const nextToken = await distil(0);
    const { before, after } = distilled;
    assert.ok(
      after.val_kl! < 0.6 * before.val_kl!,
      `KL to the teacher ${before.val_kl} -> ${after.val_kl}: expected a drop of 40% at least`,
    );
    assert.ok(
      after.val_kl! < nextToken.after.val_kl!,
      `KL after distillation ${after.val_kl}, after next-token training ${nextToken.after.val_kl}`,
    );
    assert.ok(
      after.val_agreement! > before.val_agreement!,
      `agreement ${before.val_agreement} -> ${after.val_agreement}`,
    );
    teacher
      .namedParameters()
      .forEach(([name, p], i) => assert.deepEqual(p.floats(), teacherBefore[i], `teacher ${name} changed`));
    teacher.dispose();
  });

  it('a student that copies the teacher has KL 0 and agreement 1', () => {
    const teacher = teacherModel();
    const objective = new DistillObjective(teacher, data, { temperature: 1, alpha: 1, metricBatches: 2 });
    const metrics = noGrad(() => objective.metrics(teacher));
    assert.equal(metrics.val_agreement, 1);
    assert.ok(Math.abs(metrics.val_kl!) < 1e-6, `val_kl ${metrics.val_kl}`);
    teacher.dispose();
  });

  it('rejects bad settings, a student with another vocabulary and blocks longer than the teacher context', () => {
    const teacher = teacherModel();
    for (const settings of [
      { temperature: 0, alpha: 0.5 },
      { temperature: Number.NaN, alpha: 0.5 },
      { temperature: 1, alpha: 1.5 },
      { temperature: 1, alpha: -0.1 },
    ]) {
      assert.throws(
        () => new DistillObjective(teacher, data, settings),
        ConfigError,
        JSON.stringify(settings),
      );
    }
    assert.throws(() => new DistillObjective(teacher, { ...data, blockSize: 17 }), ConfigError);
    const other = createModel(
      llamaPreset({ vocabSize: V + 1, nLayer: 1, nHead: 2, nEmbd: 16, blockSize: 16 }),
      {
        seed: 1,
      },
    );
    assert.throws(
      () => new DistillObjective(teacher, data).check(other),
      (e: unknown) => e instanceof ConfigError && /vocabulary size/.test(e.message),
    );
    other.dispose();
    teacher.dispose();
  });
});
