/**
 * Multinomial naive Bayes over a bag of words with Laplace (add-alpha) smoothing, as
 * scikit-learn's `MultinomialNB(alpha=1.0, fit_prior=True)` on `CountVectorizer` counts
 * (Manning, Raghavan & Schuetze, "Introduction to Information Retrieval", section 13.2):
 *   log P(c | d) = log P(c) + sum over the words w of d of count(w, d) * log P(w | c) + const,
 *   P(c) = N_c / N,   P(w | c) = (count(w, c) + alpha) / (sum over w' of count(w', c) + alpha |V|).
 * The vocabulary V is that of the training texts; a word outside it is skipped, as
 * CountVectorizer drops it. A class with no training example has P(c) = 0 and is never
 * predicted. Ties go to the lowest id.
 */
import { ConfigError } from '../../util/errors.js';
import { argmax, bagOfWords, checkTrainingLabels, type TextClassifier } from './text-classifier.js';

export interface NaiveBayesOptions {
  /** The additive smoothing, > 0 (default 1: Laplace). */
  readonly alpha?: number;
}

/**
 * @example
 * const nb = fitNaiveBayes(trainTexts, trainIds, id2label.length);
 * classificationReport(validationIds, nb.predict(validationTexts), id2label);
 */
export function fitNaiveBayes(
  texts: readonly string[],
  labels: ArrayLike<number>,
  numClasses: number,
  options: NaiveBayesOptions = {},
): TextClassifier {
  const alpha = options.alpha ?? 1;
  if (!(alpha > 0 && Number.isFinite(alpha))) {
    throw new ConfigError('alpha must be a finite number > 0', {
      where: 'fitNaiveBayes: alpha',
      actual: alpha,
    });
  }
  checkTrainingLabels('fitNaiveBayes', texts.length, labels, numClasses);
  const vocabulary = new Map<string, number>();
  const documents = texts.map((text) =>
    bagOfWords(text).map((word) => {
      let id = vocabulary.get(word);
      if (id === undefined) vocabulary.set(word, (id = vocabulary.size));
      return id;
    }),
  );
  const size = vocabulary.size;
  const wordCounts = new Float64Array(numClasses * size); // (C, V)
  const classWords = new Float64Array(numClasses);
  const classDocuments = new Float64Array(numClasses);
  documents.forEach((words, i) => {
    const c = labels[i]!;
    classDocuments[c]!++;
    for (const w of words) wordCounts[c * size + w]!++;
    classWords[c]! += words.length;
  });
  // logLikelihood[c, w] = log P(w | c); logPrior[c] = log P(c) (-Infinity for an unseen class).
  const logLikelihood = new Float64Array(numClasses * size);
  const logPrior = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) {
    logPrior[c] = Math.log(classDocuments[c]! / texts.length);
    const denominator = Math.log(classWords[c]! + alpha * size);
    for (let w = 0; w < size; w++)
      logLikelihood[c * size + w] = Math.log(wordCounts[c * size + w]! + alpha) - denominator;
  }
  return {
    predict(inputs) {
      const predictions = new Int32Array(inputs.length);
      const scores = new Float64Array(numClasses);
      inputs.forEach((text, i) => {
        scores.set(logPrior);
        for (const word of bagOfWords(text)) {
          const w = vocabulary.get(word);
          if (w === undefined) continue;
          for (let c = 0; c < numClasses; c++) scores[c]! += logLikelihood[c * size + w]!;
        }
        predictions[i] = argmax(scores);
      });
      return predictions;
    },
  };
}
