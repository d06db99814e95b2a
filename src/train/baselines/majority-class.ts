/**
 * The majority-class baseline (scikit-learn's `DummyClassifier(strategy="most_frequent")`):
 * every text gets the most frequent training label, the lowest id on a tie.
 */
import { argmax, checkTrainingLabels, type TextClassifier } from './text-classifier.js';

/**
 * @example
 * fitMajorityClass(trainIds, id2label.length).predict(validationTexts); // all the same id
 */
export function fitMajorityClass(labels: ArrayLike<number>, numClasses: number): TextClassifier {
  checkTrainingLabels('fitMajorityClass', labels.length, labels, numClasses);
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  const majority = argmax(counts);
  return { predict: (texts) => new Int32Array(texts.length).fill(majority) };
}
