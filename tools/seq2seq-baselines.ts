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
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusBleu, corpusChrf } from '../src/eval/index.js';
import { loadTokenizer } from '../src/tokenizers/index.js';
import {
  readPairSource,
  syntheticPairTaskNames,
  type PairSource,
  type SyntheticPairTaskName,
  type TextPair,
  type WordnetPairTaskName,
} from '../src/train/index.js';

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

let validation: readonly TextPair[] = val;
const model = flag('--model');
if (model !== undefined) {
  const tokenizer = await loadTokenizer(model);
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')) as {
    max_position_embeddings: number;
  };
  const fits = (text: string): boolean => tokenizer.encode(text).length <= config.max_position_embeddings;
  validation = val.filter((p) => fits(p.source) && fits(p.target));
}
const references = [validation.map((p) => p.target)];
const counts = new Map<string, number>();
for (const p of train) counts.set(p.target, (counts.get(p.target) ?? 0) + 1);
const [frequent] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
const score = (name: string, hypotheses: readonly string[]): void => {
  const bleu = corpusBleu(hypotheses, references).score.toFixed(2);
  const chrf = corpusChrf(hypotheses, references).score.toFixed(2);
  process.stdout.write(`${name.padEnd(32)} BLEU ${bleu.padStart(6)}  chrF2 ${chrf.padStart(6)}\n`);
};
process.stdout.write(
  `${validation.length} validation pairs (of ${val.length}), ${train.length} training pairs\n`,
);
score(
  'copy the source',
  validation.map((p) => p.source),
);
score(
  `most frequent target (${JSON.stringify(frequent.slice(0, 20))})`,
  validation.map(() => frequent),
);
const write = flag('--write');
if (write !== undefined) {
  writeFileSync(write, validation.map((p) => `${p.source}\t${p.target}\n`).join(''));
  process.stdout.write(`wrote ${write}\n`);
}
