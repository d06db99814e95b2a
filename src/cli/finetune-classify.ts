/**
 * `lmforge finetune DIR --task classify`: sequence classification (one label per text) on
 * JSONL, CSV or TSV with a header (--data, --val; the text in --text-field, the label in
 * --label-field), or with no data on a built-in WordNet task (--builtin lexname | pos:
 * gloss -> lexicographer file or part of speech, held-out words for validation). Labels are
 * strings mapped to id2label in sorted order (data/label-map.ts); a validation label that
 * training never saw is an error naming its file:line. The report gives the validation
 * accuracy, macro-F1 and per-class F1, and for a built-in task the majority, naive Bayes and
 * logistic-regression baselines on the same split beside them.
 */
import { resolve } from 'node:path';
import { Option } from 'commander';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  ClassifyObjective,
  classificationReport,
  encodeLabels,
  fitLogisticRegression,
  fitMajorityClass,
  fitNaiveBayes,
  labelMapFromLabels,
  labelMapOf,
  readLabeledText,
  textHash,
  wordnetClassificationTask,
  type ClassificationReport,
  type ClassifyExample,
  type LabeledRow,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import type { FinetuneFlags, FinetuneTask } from './finetune-run.js';
import { encodeText } from './task-model.js';
import { builtinTasks, percent, prepareLabeled, warnTooLong, type LabeledData } from './finetune-labeled.js';

interface ClassifyFlags {
  readonly textField?: string;
  readonly labelField?: string;
}

interface Split {
  readonly train: readonly { text: string; label: string; where: string }[];
  readonly val: readonly { text: string; label: string; where: string }[];
}

const located =
  (file: string) =>
  (row: LabeledRow): { text: string; label: string; where: string } => ({
    text: row.text,
    label: row.label,
    where: `${file}:${row.line}`,
  });

/** --data (and --val, else every tenth row of --data) as labelled rows. */
async function fileSplit(flags: FinetuneFlags, own: ClassifyFlags): Promise<Split> {
  const options = {
    ...(own.textField === undefined ? {} : { textField: own.textField }),
    ...(own.labelField === undefined ? {} : { labelField: own.labelField }),
  };
  const data = (await readLabeledText(flags.data!, options)).rows.map(located(flags.data!));
  if (flags.val !== undefined) {
    return { train: data, val: (await readLabeledText(flags.val, options)).rows.map(located(flags.val)) };
  }
  const val = data.filter((_, i) => i % 10 === 9);
  if (val.length === 0) {
    throw new ConfigError('--data needs at least ten rows to keep a tenth for validation', {
      where: flags.data!,
      actual: `${data.length} rows`,
      hint: 'give more rows, or --val FILE',
    });
  }
  return { train: data.filter((_, i) => i % 10 !== 9), val };
}

function reportFields(report: ClassificationReport): Record<string, unknown> {
  return { accuracy: report.accuracy, macro_f1: report.macroF1 };
}

async function classifyData(
  tokenizer: Tokenizer,
  context: { readonly maxPositions: number; readonly flags: FinetuneFlags },
  own: ClassifyFlags,
): Promise<LabeledData<ClassifyObjective>> {
  const { flags, maxPositions } = context;
  const builtin = flags.data === undefined ? (flags.builtin ?? builtinTasks.classify[0]) : null;
  let split: Split;
  let labels: readonly string[];
  if (builtin !== null) {
    if (flags.val !== undefined) throw new ConfigError('needs --data', { where: '--val' });
    for (const key of ['textField', 'labelField'] as const) {
      if (own[key] !== undefined) {
        throw new ConfigError('names a field of --data: the built-in task has none', {
          where: key === 'textField' ? '--text-field' : '--label-field',
        });
      }
    }
    const task = wordnetClassificationTask(builtin as 'lexname' | 'pos');
    const rows = (examples: typeof task.train, split: string) =>
      examples.map((e, i) => ({
        text: e.text,
        label: e.label,
        where: `built-in ${builtin} ${split} #${i + 1}`,
      }));
    split = { train: rows(task.train, 'training'), val: rows(task.validation, 'validation') };
    labels = task.id2label;
  } else {
    split = await fileSplit(flags, own);
    // With --val, the classes are training's (a validation label training never saw is an
    // error); a split of one file takes the classes of all its rows.
    labels = labelMapFromLabels(
      (flags.val !== undefined ? split.train : [...split.train, ...split.val]).map((r) => r.label),
    ).id2label;
  }
  const labelMap = labelMapOf(labels);
  let dropped = 0;
  const encode = (rows: Split['train']): { rows: Split['train']; examples: ClassifyExample[] } => {
    const ids = encodeLabels(
      rows.map((r) => r.label),
      labelMap,
      (i) => rows[i]!.where,
    );
    const kept: Split['train'][number][] = [];
    const examples: ClassifyExample[] = [];
    rows.forEach((row, i) => {
      const sequence = encodeText(tokenizer, row.text);
      if (builtin !== null && sequence.length > maxPositions) {
        dropped++;
        return;
      }
      kept.push(row);
      examples.push({ ids: sequence, label: ids[i]!, where: row.where });
    });
    return { rows: kept, examples };
  };
  const train = encode(split.train);
  const val = encode(split.val);
  warnTooLong(dropped, 'texts', maxPositions);
  const description =
    builtin !== null
      ? `built-in WordNet ${builtin}`
      : [flags.data!, ...(flags.val === undefined ? [] : [flags.val])].join(', ');
  const trainIds = Int32Array.from(train.examples, (e) => e.label);
  const valIds = Int32Array.from(val.examples, (e) => e.label);
  return {
    labels,
    objective: ({ batchSize, padId }) =>
      new ClassifyObjective({ train: train.examples, val: val.examples, labels, batchSize, padId }),
    train: train.examples.length,
    val: val.examples.length,
    trainTokens: train.examples.reduce((n, e) => n + e.ids.length, 0),
    valTokens: val.examples.reduce((n, e) => n + e.ids.length, 0),
    source:
      builtin !== null
        ? { kind: 'builtin' }
        : {
            kind: 'files',
            paths: [resolve(flags.data!), ...(flags.val === undefined ? [] : [resolve(flags.val)])],
          },
    description,
    hash: textHash(JSON.stringify([train.rows, val.rows].map((rows) => rows.map((r) => [r.text, r.label])))),
    report: (objective, model) => {
      const report = objective.report(model);
      const fields: Record<string, unknown> = {
        val_accuracy: report.accuracy,
        val_macro_f1: report.macroF1,
        val_per_class_f1: Object.fromEntries(report.perClass.map((c) => [c.label, c.f1])),
      };
      const lines = [
        `validation (${report.count} ${builtin === null ? 'rows' : `held-out ${builtin} glosses`}): accuracy ${percent(report.accuracy)}, macro-F1 ${percent(report.macroF1)}`,
      ];
      if (builtin !== null) {
        const texts = (rows: Split['train']): string[] => rows.map((r) => r.text);
        const score = (predict: (t: readonly string[]) => Int32Array): ClassificationReport =>
          classificationReport(valIds, predict(texts(val.rows)), labels);
        const baselines = {
          majority: score((t) => fitMajorityClass(trainIds, labels.length).predict(t)),
          naive_bayes: score((t) => fitNaiveBayes(texts(train.rows), trainIds, labels.length).predict(t)),
          logistic_regression: score((t) =>
            fitLogisticRegression(texts(train.rows), trainIds, labels.length).predict(t),
          ),
        };
        fields['baselines'] = Object.fromEntries(
          Object.entries(baselines).map(([name, r]) => [name, reportFields(r)]),
        );
        lines.push(
          `baselines on the same split: majority ${percent(baselines.majority.accuracy)}, ` +
            `naive Bayes ${percent(baselines.naive_bayes.accuracy)}, ` +
            `logistic regression ${percent(baselines.logistic_regression.accuracy)} ` +
            `(macro-F1 ${percent(baselines.majority.macroF1)}, ${percent(baselines.naive_bayes.macroF1)}, ${percent(baselines.logistic_regression.macroF1)})`,
        );
      }
      lines.push(
        'per-class F1 (support): ' +
          report.perClass
            .filter((c) => c.support > 0 || c.predicted > 0)
            .map((c) => `${c.label} ${percent(c.f1)} (${c.support})`)
            .join(', '),
      );
      return { fields, lines };
    },
  };
}

export const classifyTask: FinetuneTask = {
  description: `sequence classification on JSONL/CSV/TSV (default: the built-in WordNet ${builtinTasks.classify.join(' | ')} task)`,
  options: () => [
    new Option('--text-field <name>', 'the field of --data / --val holding the text (default text)'),
    new Option('--label-field <name>', 'the field of --data / --val holding the label (default label)'),
  ],
  prepare: (dir, flags, raw) => {
    const own = raw as ClassifyFlags;
    return prepareLabeled(dir, flags, {
      task: 'classify',
      head: 'sequence-classification',
      unit: 'texts',
      defaults: { epochs: 3, lr: 1e-4, batchSize: 16 },
      data: (tokenizer, context) => classifyData(tokenizer, context, own),
      recipe: {
        builtin: flags.data === undefined ? (flags.builtin ?? builtinTasks.classify[0]) : null,
        textField: own.textField ?? 'text',
        labelField: own.labelField ?? 'label',
      },
    });
  },
};
