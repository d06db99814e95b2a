/**
 * Running a task on a scorer, zero-, one- or few-shot:
 * - multiple choice: every choice's log-likelihood after the document's context; `acc`
 *   counts the highest, `acc_norm` the highest per character of the choice's continuation
 *   (leading whitespace not counted), lm-evaluation-harness's two accuracies;
 * - generation: greedy text until a stop string, scored by exact match and token F1
 *   (metrics.ts) against the accepted answers.
 * Each metric comes with its standard error over the documents.
 */
import { ConfigError } from '../../util/errors.js';
import { drawShots, fewshotContext } from './fewshot.js';
import { exactMatch, standardError, tokenF1 } from './metrics.js';
import type { Scorer } from './scorer.js';
import { targetOf, type HarnessTask } from './task.js';

export interface TaskRunOptions {
  /** Examples before each document (0: zero-shot). */
  readonly shots: number;
  /** Seed of the few-shot draws (default 1234, lm-evaluation-harness's). */
  readonly seed?: number;
  /** Evaluate the first `limit` test documents only. */
  readonly limit?: number;
}

export interface DocResult {
  readonly where: string;
  /** Multiple choice: the chosen index by acc and acc_norm; generation: the text. */
  readonly prediction: number | string;
  readonly correct: boolean;
}

export interface TaskResult {
  readonly task: string;
  readonly kind: HarnessTask['kind'];
  readonly shots: number;
  readonly seed: number;
  /** Documents evaluated. */
  readonly docs: number;
  /** acc, acc_norm (multiple choice) or exact_match, f1 (generation), each in [0, 1]. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly stderr: Readonly<Record<string, number>>;
  readonly details: readonly DocResult[];
}

const argmax = (values: readonly number[]): number =>
  values.reduce((best, v, i) => (v > values[best]! ? i : best), 0);
const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * @example
 * const result = await evaluateTask(modelScorer(model, tokenizer), builtinTask('sentiment'), { shots: 3 });
 * result.metrics.acc;
 */
export async function evaluateTask(
  scorer: Scorer,
  task: HarnessTask,
  options: TaskRunOptions,
): Promise<TaskResult> {
  const { shots } = options;
  const seed = options.seed ?? 1234;
  if (!(Number.isSafeInteger(shots) && shots >= 0)) {
    throw new ConfigError('shots must be an integer >= 0', { where: `${task.name}: shots`, actual: shots });
  }
  const limit = options.limit ?? task.test.length;
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new ConfigError('limit must be an integer >= 1', { where: `${task.name}: limit`, actual: limit });
  }
  const docs = task.test.slice(0, limit);
  const contexts = docs.map((doc, index) =>
    fewshotContext(task, doc, drawShots(task, doc, index, shots, seed)),
  );
  const base = { task: task.name, kind: task.kind, shots, seed, docs: docs.length };
  if (task.kind === 'multiple-choice') {
    const requests = docs.flatMap((doc, i) =>
      doc.choices.map((choice) => ({ context: contexts[i]!, continuation: targetOf(task, doc, choice) })),
    );
    const results = scorer.logLikelihood(requests);
    let at = 0;
    const acc: number[] = [];
    const accNorm: number[] = [];
    const details: DocResult[] = [];
    docs.forEach((doc) => {
      const scores = doc.choices.map((_, k) => results[at + k]!.logLikelihood);
      const lengths = doc.choices.map((_, k) =>
        Math.max(1, requests[at + k]!.continuation.trimStart().length),
      );
      at += doc.choices.length;
      const chosen = argmax(scores);
      acc.push(chosen === doc.gold ? 1 : 0);
      accNorm.push(argmax(scores.map((s, k) => s / lengths[k]!)) === doc.gold ? 1 : 0);
      details.push({ where: doc.where, prediction: chosen, correct: chosen === doc.gold });
    });
    return {
      ...base,
      metrics: { acc: mean(acc), acc_norm: mean(accNorm) },
      stderr: { acc: standardError(acc), acc_norm: standardError(accNorm) },
      details,
    };
  }
  const texts = await scorer.generate(
    contexts.map((context) => ({ context, stop: task.stop, maxTokens: task.maxTokens })),
  );
  const em = docs.map((doc, i) => exactMatch(texts[i]!, doc.answers));
  const f1 = docs.map((doc, i) => tokenF1(texts[i]!, doc.answers));
  return {
    ...base,
    metrics: { exact_match: mean(em), f1: mean(f1) },
    stderr: { exact_match: standardError(em), f1: standardError(f1) },
    details: docs.map((doc, i) => ({ where: doc.where, prediction: texts[i]!, correct: em[i] === 1 })),
  };
}
