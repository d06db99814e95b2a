/**
 * The learning figures of the encoder (BERT) and encoder-decoder (Marian) issues, each beside
 * its trivial baselines on the same held-out split, by running the recipes below through the
 * CLI (`lmforge train`, `finetune`, `eval`), one run folder each under --out:
 *
 * - `reverse`: Marian on the built-in synthetic reversal task (held-out random letter
 *   sequences); BLEU and chrF2 of the folder's decoding (`eval --pairs`, beam 4) on all 500
 *   validation pairs, against copying the source and the most frequent target.
 * - `reverse-dictionary`, `definition`: Marian on the built-in WordNet tasks (held-out
 *   words), scored the same way on the validation pairs that fit the positions.
 * - `bert`: a BERT pre-trained by whole-word masked-LM on the built-in WordNet corpus less the
 *   held-out synsets (the lines `word: definition` and the examples of the training split of
 *   data/wordnet-tasks.ts, so that pre-training never reads a validation gloss), then
 *   fine-tuned on the built-in `lexname` (45 classes) and `pos` tasks: held-out accuracy
 *   beside the majority, naive Bayes and logistic-regression baselines finetune prints.
 *
 * The runs are sized by steps, not time, so that a busy machine gives the same figures, only
 * later. `--quick` runs each recipe for a few steps (a check that the plumbing works; its
 * figures mean nothing). Prints progress on stderr, a Markdown table of the figures on stdout.
 *
 * Run: npm run build && nice node dist/tools/learning-figures.js [reverse] [reverse-dictionary] [definition] [bert] [--out DIR] [--threads N] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/tensor/index.js';
import {
  readPairSource,
  shuffleInPlace,
  splitSynsets,
  wordnetSynsets,
  type PairSource,
  type SyntheticPairTaskName,
  type WordnetPairTaskName,
} from '../src/train/index.js';
import { pairsThatFit, pairsTsv, seq2seqBaselines } from './seq2seq-baseline-scores.js';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', '..', 'bin', 'lmforge.js');
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const quick = args.includes('--quick');
const out = flag('--out') ?? join('.lmforge-cache', 'learning');
const threads = flag('--threads') ?? '2';
const flagValues = new Set([flag('--out'), flag('--threads')]);
const chosen = args.filter((a) => !a.startsWith('--') && !flagValues.has(a));

const say = (text: string): void => void process.stderr.write(text + '\n');

/** `iters` steps, or 4 with --quick. */
const steps = (iters: number): string => String(quick ? 4 : iters);

/** Runs the CLI (stderr passed through) and returns the last stdout line as JSON. */
function lmforge(command: readonly string[]): Record<string, unknown> {
  say(`$ lmforge ${command.join(' ')}`);
  const started = performance.now();
  const run = spawnSync(process.execPath, [cli, ...command, '--threads', threads], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`lmforge ${command[0]} exited with ${run.status ?? run.signal}`);
  say(`  (${((performance.now() - started) / 1000).toFixed(0)} s)`);
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
}

const fixed = (x: unknown, digits = 1): string => (typeof x === 'number' ? x.toFixed(digits) : String(x));
const marianRows: string[] = [];
const bertRows: string[] = [];

/** The one recipe of both WordNet directions (gloss -> word, word -> gloss). */
const wordnetRecipe = [
  '--n-layer',
  '2',
  '--n-embd',
  '256',
  '--batch-size',
  '32',
  '--lr',
  '7e-4',
  '--warmup',
  '200',
  '--iters',
  '2000',
];

/** The Marian recipes: the task, then the train flags of its run. */
const marianRecipes: Readonly<Record<string, readonly string[]>> = {
  // 2 x 128, 1500 steps of 32 pairs: BLEU 98 on the first 64 validation pairs (greedy) under load.
  reverse: ['--n-layer', '2', '--n-embd', '128', '--batch-size', '32', '--lr', '1e-3', '--iters', '1500'],
  'reverse-dictionary': wordnetRecipe,
  definition: wordnetRecipe,
};

async function marian(task: string): Promise<void> {
  const recipe = [...marianRecipes[task]!];
  const at = recipe.indexOf('--iters');
  recipe[at + 1] = steps(Number(recipe[at + 1]));
  const dir = join(out, `marian-${task}`);
  const trained = lmforge([
    'train',
    '--arch',
    'marian',
    '--task',
    task,
    ...recipe,
    '--eval-every',
    quick ? '4' : '500',
    '--eval-iters',
    '10',
    '--out',
    dir,
    '--force',
    '--no-progress',
    '--json',
  ]);
  const source: PairSource =
    task === 'reverse'
      ? { kind: 'synthetic-pairs', task: task as SyntheticPairTaskName }
      : { kind: 'wordnet-pairs', task: task as WordnetPairTaskName };
  const { train, val } = await readPairSource(source);
  const validation = await pairsThatFit(val, dir);
  const file = join(out, `marian-${task}-validation.tsv`);
  writeFileSync(file, pairsTsv(validation));
  const scored = lmforge(['eval', dir, '--pairs', file, '--json']);
  const baselines = seq2seqBaselines(train, validation);
  marianRows.push(
    `| Marian ${task} (${validation.length} held-out pairs; ${fixed(trained['params'], 0)} parameters, ` +
      `${trained['step']} steps) | BLEU ${fixed(scored['bleu'])}, chrF2 ${fixed(scored['chrf'])} | ` +
      `BLEU ${fixed(baselines.copy.bleu)}, chrF2 ${fixed(baselines.copy.chrf)} | ` +
      `BLEU ${fixed(baselines.frequent.bleu)}, chrF2 ${fixed(baselines.frequent.chrf)} (${JSON.stringify(baselines.frequent.target.slice(0, 24))}) |`,
  );
}

/** Pre-training, then fine-tuning on lexname and pos (recipe in the file header). */
function bert(): void {
  const base = join(out, 'bert');
  // The built-in corpus's lines (builtin-corpus.ts), of the training synsets only, shuffled.
  const { train } = splitSynsets(wordnetSynsets(), 0.1);
  const corpus = join(out, 'bert-corpus.txt');
  writeFileSync(
    corpus,
    shuffleInPlace([...train], new Rng(0))
      .flatMap((s) => [...(s.definition === '' ? [] : [`${s.lemmas[0]}: ${s.definition}`]), ...s.examples])
      .join('\n') + '\n',
  );
  const pretrained = lmforge([
    'train',
    '--arch',
    'bert',
    '--data',
    corpus,
    '--tokenizer',
    'wordpiece:8192',
    '--whole-word-masking',
    '--n-layer',
    '4',
    '--n-head',
    '4',
    '--n-embd',
    '256',
    '--block-size',
    '64',
    '--batch-size',
    '32',
    '--dropout',
    '0.1',
    '--lr',
    '1e-3',
    '--iters',
    steps(4000),
    '--eval-every',
    quick ? '4' : '1000',
    '--eval-iters',
    '10',
    '--out',
    base,
    '--force',
    '--no-progress',
    '--json',
  ]);
  for (const task of ['lexname', 'pos']) {
    const tuned = lmforge([
      'finetune',
      base,
      '--task',
      'classify',
      '--builtin',
      task,
      ...(quick ? ['--epochs', '1', '--batch-size', '256'] : []),
      '--out',
      join(out, `bert-${task}`),
      '--force',
      '--no-progress',
      '--json',
    ]);
    const b = tuned['baselines'] as Record<string, { accuracy: number }>;
    const pct = (x: number | undefined): string => `${fixed(100 * (x ?? NaN))}%`;
    bertRows.push(
      `| BERT ${task} (held-out words; pre-trained ${pretrained['step']} steps, val_masked_accuracy ` +
        `${pct(pretrained['val_masked_accuracy'] as number)}) | ${pct(tuned['val_accuracy'] as number)} ` +
        `(macro-F1 ${pct(tuned['val_macro_f1'] as number)}) | majority ${pct(b['majority']?.accuracy)}, ` +
        `naive Bayes ${pct(b['naive_bayes']?.accuracy)}, logistic regression ${pct(b['logistic_regression']?.accuracy)} |`,
    );
  }
}

mkdirSync(out, { recursive: true });
const all = ['reverse', 'reverse-dictionary', 'definition', 'bert'];
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown recipe ${name}: expected ${all.join(' | ')}`);
}
const started = performance.now();
for (const name of chosen.length === 0 ? all : chosen) {
  if (name === 'bert') bert();
  else await marian(name);
}
const tables = [
  ...(marianRows.length === 0
    ? []
    : [
        '| Marian task | model (beam 4) | copy the source | most frequent target |',
        '|---|---|---|---|',
        ...marianRows,
      ]),
  ...(bertRows.length === 0
    ? []
    : ['', '| BERT task | fine-tuned accuracy | baselines (same split) |', '|---|---|---|', ...bertRows]),
];
process.stdout.write(tables.join('\n') + '\n');
say(
  `${((performance.now() - started) / 60000).toFixed(1)} minutes${quick ? ' (--quick: the figures mean nothing)' : ''}`,
);
