/**
 * Classification metrics over class ids: accuracy, per-class precision / recall / F1 and
 * their macro averages, with scikit-learn's definitions (`precision_recall_fscore_support`).
 *
 * For class c with tp true positives, fp false positives and fn false negatives:
 * precision = tp / (tp + fp), recall = tp / (tp + fn), F1 = 2 tp / (2 tp + fp + fn).
 * A 0/0 is 0, scikit-learn's default `zero_division="warn"`, which returns 0 (and warns):
 * a class never predicted has precision 0, a class absent from the gold labels recall 0.
 * The macro averages are unweighted means over the classes that occur in the gold labels
 * or the predictions, which is what `f1_score(y, p, average="macro")` does with its default
 * `labels=None`. A class absent from both is still listed in `perClass` (all zero, support 0)
 * but is not averaged: it would pull the macro scores down for a class the data says nothing
 * about (scikit-learn does the same unless `labels=` lists every class).
 */
import { ConfigError, ShapeError } from '../../util/errors.js';

export interface ClassScores {
  readonly label: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Gold examples of the class. */
  readonly support: number;
  /** Examples predicted as the class. */
  readonly predicted: number;
}

export interface ClassificationReport {
  readonly count: number;
  readonly accuracy: number;
  readonly macroPrecision: number;
  readonly macroRecall: number;
  readonly macroF1: number;
  /** How many classes the macro averages are over (those in the gold labels or predictions). */
  readonly averagedClasses: number;
  /** One entry per id of `id2label`, in id order. */
  readonly perClass: readonly ClassScores[];
}

function checkIds(name: string, ids: ArrayLike<number>, numClasses: number, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= numClasses) {
      throw new ConfigError(`${name} holds an id that is not a class`, {
        where: `${where}: ${name}[${i}]`,
        expected: `an integer in [0, ${numClasses})`,
        actual: id,
      });
    }
  }
}

function checkPair(gold: ArrayLike<number>, predicted: ArrayLike<number>, where: string): void {
  if (gold.length !== predicted.length) {
    throw new ShapeError('gold and predicted differ in length', {
      where,
      expected: gold.length,
      actual: predicted.length,
    });
  }
  if (gold.length === 0)
    throw new ConfigError('there are no examples to score', { where, expected: '>= 1 example' });
}

const ratio = (numerator: number, denominator: number): number =>
  denominator === 0 ? 0 : numerator / denominator;

/**
 * The fraction of examples whose predicted id equals the gold id.
 * @example
 * accuracy([0, 1, 1], [0, 1, 0]); // 0.6666666666666666
 */
export function accuracy(gold: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkPair(gold, predicted, 'accuracy');
  let correct = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === predicted[i]) correct++;
  return correct / gold.length;
}

/**
 * Accuracy, per-class and macro precision / recall / F1 of predicted ids against gold ids.
 * @example
 * const report = classificationReport(goldIds, predictedIds, labelMap.id2label);
 * report.macroF1; report.perClass[0]!.f1;
 */
export function classificationReport(
  gold: ArrayLike<number>,
  predicted: ArrayLike<number>,
  id2label: readonly string[],
): ClassificationReport {
  const where = 'classificationReport';
  checkPair(gold, predicted, where);
  const numClasses = id2label.length;
  checkIds('gold', gold, numClasses, where);
  checkIds('predicted', predicted, numClasses, where);
  const truePositives = new Float64Array(numClasses);
  const support = new Float64Array(numClasses);
  const predictedCount = new Float64Array(numClasses);
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    const g = gold[i]!;
    const p = predicted[i]!;
    support[g]!++;
    predictedCount[p]!++;
    if (g === p) {
      truePositives[g]!++;
      correct++;
    }
  }
  let sumPrecision = 0;
  let sumRecall = 0;
  let sumF1 = 0;
  let averaged = 0;
  const perClass = id2label.map((label, c): ClassScores => {
    const tp = truePositives[c]!;
    const scores = {
      label,
      precision: ratio(tp, predictedCount[c]!),
      recall: ratio(tp, support[c]!),
      // 2tp / (2tp + fp + fn) with fp + tp = predicted and fn + tp = support.
      f1: ratio(2 * tp, predictedCount[c]! + support[c]!),
      support: support[c]!,
      predicted: predictedCount[c]!,
    };
    if (scores.support > 0 || scores.predicted > 0) {
      sumPrecision += scores.precision;
      sumRecall += scores.recall;
      sumF1 += scores.f1;
      averaged++;
    }
    return scores;
  });
  return {
    count: gold.length,
    accuracy: correct / gold.length,
    macroPrecision: sumPrecision / averaged,
    macroRecall: sumRecall / averaged,
    macroF1: sumF1 / averaged,
    averagedClasses: averaged,
    perClass,
  };
}
