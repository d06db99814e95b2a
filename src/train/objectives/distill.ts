/**
 * Knowledge distillation (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network";
 * DistilBERT's loss without its cosine term): the student learns the teacher's softened
 * next-token distribution as well as the data's next token,
 *
 *   loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, next id)
 *
 * with the KL summed over the vocabulary and averaged over positions. The T^2 factor keeps the
 * soft term's gradient scale independent of T (its gradient shrinks as 1 / T^2). The teacher's
 * logits are computed per batch under noGrad, in eval mode (no dropout), on the same blocks as
 * the student's; the batches are CausalLmObjective's (random contiguous blocks), so the run
 * resumes exactly like a train run.
 *
 * Metrics at each evaluation, on fixed validation blocks: `val_agreement`, the fraction of
 * positions where the student's greedy (argmax) next token is the teacher's, and `val_kl`,
 * KL(teacher || student) at temperature 1 per position (nats).
 */
import {
  Rng,
  add,
  argmax,
  crossEntropy,
  div,
  logSoftmax,
  mul,
  noGrad,
  softmax,
  sub,
  sum,
  type Tensor,
} from '../../tensor/index.js';
import type { LanguageModel } from '../../models/index.js';
import { ConfigError } from '../../util/errors.js';
import type { Batch } from '../data/block-sampler.js';
import { CausalLmObjective, type CausalLmData } from './causal-lm.js';
import type { BatchSource, ForwardSettings, Objective, ObjectiveLoss, ObjectiveSplit } from './objective.js';

export interface DistillSettings {
  /** Softening temperature T > 0 of both distributions in the KL term (default 2). */
  readonly temperature: number;
  /** Weight of the KL term in [0, 1]; 1 - alpha weighs the next-token loss (default 0.5). */
  readonly alpha: number;
  /** Validation batches the metrics read (default 8). */
  readonly metricBatches?: number;
}

export const defaultDistillSettings: DistillSettings = Object.freeze({ temperature: 2, alpha: 0.5 });

/** The metrics' blocks come from a fixed seed, so every evaluation reads the same ones. */
const metricSeed = 0x5eed;

/** T^2 * KL(softmax(teacher / T) || softmax(student / T)) averaged over rows; student (B, T, V) records gradients. */
export function softenedKl(teacher: Tensor, student: Tensor, temperature: number): Tensor {
  const rows = student.size / student.shape[student.ndim - 1]!;
  const target = noGrad(() => {
    const scaled = div(teacher, temperature); // (B, T, V)
    return { p: softmax(scaled, -1), logP: logSoftmax(scaled, -1) };
  });
  const logQ = logSoftmax(div(student, temperature), -1); // (B, T, V)
  const kl = sum(mul(target.p, sub(target.logP, logQ))); // () summed over rows and V
  return mul(kl, (temperature * temperature) / rows); // ()
}

export class DistillObjective implements Objective<Batch> {
  readonly kind = 'distill';
  readonly teacher: LanguageModel;
  readonly settings: DistillSettings;
  readonly #blocks: CausalLmObjective;

  constructor(
    teacher: LanguageModel,
    data: CausalLmData,
    settings: DistillSettings = defaultDistillSettings,
  ) {
    const { temperature, alpha } = settings;
    const problems: string[] = [];
    if (!(Number.isFinite(temperature) && temperature > 0))
      problems.push(`temperature must be > 0 (got ${temperature})`);
    if (!(alpha >= 0 && alpha <= 1)) problems.push(`alpha must be in [0, 1] (got ${alpha})`);
    if (problems.length > 0) {
      throw new ConfigError('invalid distillation settings', {
        where: 'DistillObjective',
        actual: problems.join('; '),
      });
    }
    if (teacher.kind !== 'decoder' || (teacher.head !== undefined && teacher.head.kind !== 'causal-lm')) {
      throw new ConfigError('the teacher must be a causal language model', {
        where: 'DistillObjective teacher',
        expected: 'a decoder with next-token logits',
        actual: `${teacher.kind}${teacher.head === undefined ? '' : ` with a ${teacher.head.kind} head`}`,
      });
    }
    if (data.blockSize > teacher.maxPositions) {
      throw new ConfigError('training block is longer than the teacher context', {
        where: 'DistillObjective',
        expected: `blockSize <= ${teacher.maxPositions}`,
        actual: data.blockSize,
      });
    }
    this.teacher = teacher;
    this.settings = settings;
    this.#blocks = new CausalLmObjective(data);
  }

  check(model: LanguageModel): void {
    this.#blocks.check(model);
    if (model.vocabSize !== this.teacher.vocabSize) {
      throw new ConfigError('the student has another vocabulary size than the teacher', {
        where: 'DistillObjective',
        expected: `${this.teacher.vocabSize} ids (the teacher's)`,
        actual: `${model.vocabSize} ids`,
      });
    }
  }

  batches(split: ObjectiveSplit, rng: Rng): BatchSource<Batch> {
    return this.#blocks.batches(split, rng);
  }

  #teacherLogits(batch: Batch): Tensor {
    return noGrad(() => this.teacher.forward({ ids: batch.x }, { logits: 'all', mode: 'eval' }).logits!); // (B, T, V)
  }

  loss(model: LanguageModel, batch: Batch, settings: ForwardSettings): ObjectiveLoss {
    const { temperature, alpha } = this.settings;
    const teacher = this.#teacherLogits(batch); // (B, T, V)
    const rng = settings.rng === undefined ? {} : { rng: settings.rng };
    const { logits, auxLoss, routerStats } = model.forward(
      { ids: batch.x },
      { logits: 'all', mode: settings.mode, routerStats: settings.mode === 'train', ...rng },
    ); // (B, T, V)
    const soft = softenedKl(teacher, logits!, temperature); // ()
    const hard = crossEntropy(logits!, batch.y); // () mean over B*T
    const loss = add(mul(soft, alpha), mul(hard, 1 - alpha)); // ()
    return {
      loss,
      tokens: batch.x.size,
      ...(auxLoss === undefined ? {} : { auxLoss }),
      ...(routerStats === undefined ? {} : { routerStats }),
    };
  }

  /** Greedy agreement with the teacher and KL(teacher || student) at T = 1, on fixed validation blocks. */
  metrics(model: LanguageModel): Readonly<Record<string, number>> {
    const source = this.batches('val', new Rng(metricSeed));
    let agree = 0;
    let positions = 0;
    let kl = 0;
    for (let b = 0; b < (this.settings.metricBatches ?? 8); b++) {
      const batch = source.next();
      const teacher = this.#teacherLogits(batch); // (B, T, V)
      const student = model.forward({ ids: batch.x }, { logits: 'all', mode: 'eval' }).logits!; // (B, T, V)
      const t = argmax(teacher, -1).values(); // (B, T)
      const s = argmax(student, -1).values(); // (B, T)
      for (let i = 0; i < t.length; i++) if (t[i] === s[i]) agree++;
      positions += t.length;
      kl += softenedKl(teacher, student, 1).item() * t.length;
    }
    return { val_agreement: agree / positions, val_kl: kl / positions };
  }
}
