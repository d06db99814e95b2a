/**
 * The trivial baselines of a sequence-to-sequence task on its validation split, the figures a
 * trained translation model is compared with: sacreBLEU corpus BLEU and chrF2 of copying the
 * source, and of answering every source with the most frequent training target. The split is
 * the one `lmforge train --arch marian` makes from the same data: a built-in task (--task:
 * WordNet's, held-out words; copy | reverse, held-out sequences) or --pairs FILE
 * [--val-pairs FILE] (the last tenth when none).
 *
 * With --model DIR (the run folder) the validation pairs are the ones that run trained with:
 * pairs longer than its positions under its tokenizer are left out, as the built-in tasks
 * leave them out. --write FILE writes those validation pairs as TSV, for
 * `lmforge eval DIR --pairs FILE`.
 *
 * Run: npm run build && node dist/tools/seq2seq-baselines.js --task reverse-dictionary --model runs/rd --write val.tsv
 */
import { writeFileSync } from 'node:fs';
import {
  readPairSource,
  syntheticPairTaskNames,
  type PairSource,
  type SyntheticPairTaskName,
  type TextPair,
  type WordnetPairTaskName,
} from '../src/train/index.js';
import { pairsThatFit, pairsTsv, seq2seqBaselines, type Score } from './seq2seq-baseline-scores.js';

const flag = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const pairsFile = flag('--pairs');
const task = flag('--task') ?? 'reverse-dictionary';
const source: PairSource =
  pairsFile !== undefined
    ? { kind: 'pairs', train: pairsFile, val: flag('--val-pairs') ?? null, truncate: false }
    : (syntheticPairTaskNames as readonly string[]).includes(task)
      ? { kind: 'synthetic-pairs', task: task as SyntheticPairTaskName }
      : { kind: 'wordnet-pairs', task: task as WordnetPairTaskName };
const { train, val } = await readPairSource(source);

const model = flag('--model');
const validation: readonly TextPair[] = model === undefined ? val : await pairsThatFit(val, model);
const baselines = seq2seqBaselines(train, validation);
const line = (name: string, { bleu, chrf }: Score): void => {
  process.stdout.write(
    `${name.padEnd(32)} BLEU ${bleu.toFixed(2).padStart(6)}  chrF2 ${chrf.toFixed(2).padStart(6)}\n`,
  );
};
process.stdout.write(
  `${validation.length} validation pairs (of ${val.length}), ${train.length} training pairs\n`,
);
line('copy the source', baselines.copy);
line(`most frequent target (${JSON.stringify(baselines.frequent.target.slice(0, 20))})`, baselines.frequent);
const write = flag('--write');
if (write !== undefined) {
  writeFileSync(write, pairsTsv(validation));
  process.stdout.write(`wrote ${write}\n`);
}
