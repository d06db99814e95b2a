/**
 * `lmforge classify DIR (--text T... | --data FILE)`: the labels a sequence classifier (a
 * folder `finetune --task classify` wrote, or any *ForSequenceClassification folder) gives
 * texts. `--data` reads what finetune reads (JSONL, CSV or TSV with a header; the text from
 * --text-field, every other field ignored). One result per text, in input order: the label
 * and the softmax over id2label, as a line of text or (--json) one object per line,
 * `{"label", "scores": {label: probability}}`. Repeated --text values run as one padded batch.
 */
import { Command } from 'commander';
import {
  checkSequences,
  classProbabilities,
  checkSequenceClassifier,
  predictedClasses,
  readUnlabeledText,
} from '../../train/index.js';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { encodeText, inputTexts, loadTaskModel } from '../task-model.js';

interface ClassifyFlags extends ComputeFlags {
  readonly text?: string[];
  readonly data?: string;
  readonly textField?: string;
  readonly json?: boolean;
}

export function classifyCommand(): Command {
  const command = new Command('classify')
    .argument('<dir>', 'a sequence-classification model folder (finetune --task classify --out)')
    .option('--text <text...>', 'texts to classify (repeatable)')
    .option('--data <file>', 'a JSONL, CSV or TSV file with a header: classifies each row')
    .option('--text-field <name>', 'the field of --data holding the text (default text)')
    .option('--json', 'one JSON object per text: {"label", "scores": {label: probability}}');
  return addComputeOptions(command).action(async (dir: string, flags: ClassifyFlags) => {
    applyComputeOptions(flags, flags.json === true);
    const texts = await inputTexts(flags, async (path) =>
      (
        await readUnlabeledText(path, flags.textField === undefined ? {} : { textField: flags.textField })
      ).rows.map((row) => ({ text: row.text, where: `${path}:${row.line}` })),
    );
    const { model, tokenizer, padId, dispose } = await loadTaskModel(dir);
    try {
      const labels = checkSequenceClassifier(model, `${dir}/config.json: architectures`);
      const sequences = texts.map((t) => ({ ids: encodeText(tokenizer, t.text), where: t.where }));
      checkSequences(sequences, model);
      const probabilities = classProbabilities(
        model,
        sequences.map((s) => s.ids),
        { padId },
      );
      const predicted = predictedClasses(probabilities, labels.length);
      const lines = texts.map((t, i) => {
        const scores = Object.fromEntries(
          labels.map((label, c) => [label, probabilities[i * labels.length + c]!]),
        );
        const label = labels[predicted[i]!]!;
        return flags.json === true
          ? JSON.stringify({ label, scores })
          : `${label}\t${scores[label]!.toFixed(3)}\t${t.text}`;
      });
      process.stdout.write(lines.join('\n') + '\n');
    } finally {
      dispose();
    }
  });
}
