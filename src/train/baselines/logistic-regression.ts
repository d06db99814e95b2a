/**
 * Multinomial logistic regression over a bag of words: softmax(W x + b) with x the word
 * counts of a text scaled to unit L2 norm (scikit-learn's `TfidfVectorizer(use_idf=False)`),
 * trained by full-batch Adam (Kingma & Ba 2015) on the mean cross-entropy plus
 * (l2 / 2) ||W||^2. Full-batch and zero-initialised, so training involves no randomness:
 * the same data give the same model. The vocabulary is that of the training texts; words
 * outside it are skipped. Ties go to the lowest id.
 */
import { ConfigError } from '../../util/errors.js';
import { argmax, bagOfWords, checkTrainingLabels, type TextClassifier } from './text-classifier.js';

export interface LogisticRegressionOptions {
  /** Full-batch Adam steps (default 100). */
  readonly steps?: number;
  /** Adam's step size (default 0.1). */
  readonly learningRate?: number;
  /** The L2 penalty on the weights, not the biases (default 1e-4). */
  readonly l2?: number;
}

/** A text as sparse (word id, value) pairs, the values of unit L2 norm. */
interface SparseVector {
  readonly ids: Int32Array;
  readonly values: Float64Array;
}

function vectorize(words: readonly string[], vocabulary: ReadonlyMap<string, number>): SparseVector {
  const counts = new Map<number, number>();
  for (const word of words) {
    const id = vocabulary.get(word);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  let norm = 0;
  for (const count of counts.values()) norm += count * count;
  norm = Math.sqrt(norm);
  const ids = Int32Array.from(counts.keys());
  const values = Float64Array.from(counts.values(), (count) => count / norm);
  return { ids, values };
}

/** logits = W x + b for one sparse x; W is (C, V) row-major. */
function logitsOf(
  x: SparseVector,
  weights: Float64Array,
  bias: Float64Array,
  size: number,
  out: Float64Array,
): void {
  out.set(bias);
  for (let c = 0; c < out.length; c++) {
    let sum = 0;
    for (let k = 0; k < x.ids.length; k++) sum += weights[c * size + x.ids[k]!]! * x.values[k]!;
    out[c]! += sum;
  }
}

function checkPositive(name: string, value: number, integer: boolean, allowZero = false): void {
  const ok =
    Number.isFinite(value) &&
    (allowZero ? value >= 0 : value > 0) &&
    (!integer || Number.isSafeInteger(value));
  if (!ok) {
    throw new ConfigError(
      `${name} must be ${integer ? 'an integer' : 'a finite number'} ${allowZero ? '>= 0' : '> 0'}`,
      {
        where: `fitLogisticRegression: ${name}`,
        actual: value,
      },
    );
  }
}

/**
 * @example
 * const lr = fitLogisticRegression(trainTexts, trainIds, id2label.length, { steps: 100 });
 * lr.predict(['a young person of either sex']);
 */
export function fitLogisticRegression(
  texts: readonly string[],
  labels: ArrayLike<number>,
  numClasses: number,
  options: LogisticRegressionOptions = {},
): TextClassifier {
  const steps = options.steps ?? 100;
  const learningRate = options.learningRate ?? 0.1;
  const l2 = options.l2 ?? 1e-4;
  checkPositive('steps', steps, true);
  checkPositive('learningRate', learningRate, false);
  checkPositive('l2', l2, false, true);
  checkTrainingLabels('fitLogisticRegression', texts.length, labels, numClasses);
  const vocabulary = new Map<string, number>();
  const bags = texts.map(bagOfWords);
  for (const words of bags)
    for (const word of words) if (!vocabulary.has(word)) vocabulary.set(word, vocabulary.size);
  const size = vocabulary.size;
  const inputs = bags.map((words) => vectorize(words, vocabulary));
  // Parameters: W (C, V) then b (C), one flat vector for Adam.
  const count = numClasses * size + numClasses;
  const parameters = new Float64Array(count);
  const weights = parameters.subarray(0, numClasses * size);
  const bias = parameters.subarray(numClasses * size);
  const gradient = new Float64Array(count);
  const firstMoment = new Float64Array(count);
  const secondMoment = new Float64Array(count);
  const logits = new Float64Array(numClasses);
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-8];
  for (let step = 1; step <= steps; step++) {
    gradient.fill(0);
    inputs.forEach((x, i) => {
      logitsOf(x, weights, bias, size, logits);
      // softmax with the max subtracted, for exp's range; dlogits = (p - onehot) / N.
      const max = logits[argmax(logits)]!;
      let total = 0;
      for (let c = 0; c < numClasses; c++) total += logits[c] = Math.exp(logits[c]! - max);
      for (let c = 0; c < numClasses; c++) {
        const dLogit = (logits[c]! / total - (c === labels[i] ? 1 : 0)) / inputs.length;
        gradient[numClasses * size + c]! += dLogit;
        for (let k = 0; k < x.ids.length; k++) gradient[c * size + x.ids[k]!]! += dLogit * x.values[k]!;
      }
    });
    for (let j = 0; j < numClasses * size; j++) gradient[j]! += l2 * weights[j]!;
    const correction1 = 1 - beta1 ** step;
    const correction2 = 1 - beta2 ** step;
    for (let j = 0; j < count; j++) {
      const g = gradient[j]!;
      firstMoment[j] = beta1 * firstMoment[j]! + (1 - beta1) * g;
      secondMoment[j] = beta2 * secondMoment[j]! + (1 - beta2) * g * g;
      parameters[j]! -=
        (learningRate * (firstMoment[j]! / correction1)) /
        (Math.sqrt(secondMoment[j]! / correction2) + epsilon);
    }
  }
  return {
    predict(texts) {
      const predictions = new Int32Array(texts.length);
      texts.forEach((text, i) => {
        logitsOf(vectorize(bagOfWords(text), vocabulary), weights, bias, size, logits);
        predictions[i] = argmax(logits);
      });
      return predictions;
    },
  };
}
