/**
 * `lmforge finetune DIR --task tag`: token classification (one tag per word) on
 * CoNLL-2003-style files (--data, --val: a token per line, the tag in the last column, a
 * blank line between sentences, BIO or IOB1 tags, IOB1 rewritten as BIO), or with no data on
 * the built-in WordNet headword task (--builtin headword: the headword tagged B-WORD/I-WORD
 * in the gloss examples, held-out words for validation). Each word is tokenized alone and its
 * tag sits on its first sub-token (objectives/tag.ts). The report gives conlleval's entity
 * precision, recall and F1 on validation (per type too), and for the built-in task the
 * all-O and most-frequent-tag baselines beside them.
 */
import { resolve } from 'node:path';
import type { Tokenizer } from '../tokenizers/index.js';
import {
  TagObjective,
  conllToBio,
  conlleval,
  encodeTags,
  fitMostFrequentTag,
  labelMapOf,
  readConll,
  tagExample,
  tagLabelMap,
  textHash,
  wordnetTaggingTask,
  type ConllevalReport,
  type TagExample,
  type TaggedSentence,
} from '../train/index.js';
import { ConfigError } from '../util/errors.js';
import type { FinetuneFlags, FinetuneTask } from './finetune-run.js';
import { builtinTasks, percent, prepareLabeled, warnTooLong, type LabeledData } from './finetune-labeled.js';

interface Located extends TaggedSentence {
  readonly where: string;
  /** Where token t of the sentence is (its file:line). */
  readonly tokenWhere: (t: number) => string;
}

interface Split {
  readonly train: readonly Located[];
  readonly val: readonly Located[];
}

async function conllSentences(path: string): Promise<Located[]> {
  const conll = conllToBio(await readConll(path));
  return conll.sentences.map((s) => ({
    words: s.words,
    tags: s.tags,
    where: `${path}:${s.line}`,
    tokenWhere: (t) => `${path}:${s.line + t}`,
  }));
}

/** --data (and --val, else every tenth sentence of --data). */
async function fileSplit(flags: FinetuneFlags): Promise<Split> {
  const data = await conllSentences(flags.data!);
  if (flags.val !== undefined) return { train: data, val: await conllSentences(flags.val) };
  const val = data.filter((_, i) => i % 10 === 9);
  if (val.length === 0) {
    throw new ConfigError('--data needs at least ten sentences to keep a tenth for validation', {
      where: flags.data!,
      actual: `${data.length} sentences`,
      hint: 'give more sentences, or --val FILE',
    });
  }
  return { train: data.filter((_, i) => i % 10 !== 9), val };
}

const chunkLine = (name: string, report: ConllevalReport): string =>
  `${name} precision ${percent(report.overall.precision)}, recall ${percent(report.overall.recall)}, F1 ${percent(report.overall.f1)}`;

async function tagData(
  tokenizer: Tokenizer,
  context: { readonly maxPositions: number; readonly flags: FinetuneFlags },
): Promise<LabeledData<TagObjective>> {
  const { flags, maxPositions } = context;
  const builtin = flags.data === undefined ? (flags.builtin ?? builtinTasks.tag[0]) : null;
  let split: Split;
  let labels: readonly string[];
  if (builtin !== null) {
    if (flags.val !== undefined) throw new ConfigError('needs --data', { where: '--val' });
    const task = wordnetTaggingTask();
    const rows = (sentences: readonly TaggedSentence[], name: string): Located[] =>
      sentences.map((s, i) => {
        const where = `built-in ${builtin} ${name} #${i + 1}`;
        return { words: s.words, tags: s.tags, where, tokenWhere: (t) => `${where} word ${t + 1}` };
      });
    split = { train: rows(task.train, 'training'), val: rows(task.validation, 'validation') };
    labels = task.id2label;
  } else {
    split = await fileSplit(flags);
    labels = tagLabelMap(flags.val !== undefined ? split.train : [...split.train, ...split.val]).id2label;
  }
  const map = labelMapOf(labels);
  let dropped = 0;
  const encode = (sentences: readonly Located[]): { sentences: Located[]; examples: TagExample[] } => {
    const tags = encodeTags(sentences, map, (s, t) => sentences[s]!.tokenWhere(t));
    const kept: Located[] = [];
    const examples: TagExample[] = [];
    sentences.forEach((sentence, i) => {
      const example = tagExample(tokenizer, sentence.words, tags[i]!, sentence.where);
      if (builtin !== null && example.ids.length > maxPositions) {
        dropped++;
        return;
      }
      kept.push(sentence);
      examples.push(example);
    });
    return { sentences: kept, examples };
  };
  const train = encode(split.train);
  const val = encode(split.val);
  warnTooLong(dropped, 'sentences', maxPositions);
  return {
    labels,
    objective: ({ batchSize, padId }) =>
      new TagObjective({ train: train.examples, val: val.examples, labels, batchSize, padId }),
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
    description:
      builtin !== null
        ? `built-in WordNet ${builtin}`
        : [flags.data!, ...(flags.val === undefined ? [] : [flags.val])].join(', '),
    hash: textHash(
      JSON.stringify([train.sentences, val.sentences].map((s) => s.map((x) => [x.words, x.tags]))),
    ),
    report: (objective, model) => {
      const report = objective.report(model);
      const fields: Record<string, unknown> = {
        val_f1: report.overall.f1,
        val_precision: report.overall.precision,
        val_recall: report.overall.recall,
        val_token_accuracy: report.tokenAccuracy,
        val_per_type: Object.fromEntries(
          report.perType.map((t) => [t.type, { precision: t.precision, recall: t.recall, f1: t.f1 }]),
        ),
      };
      const lines = [
        chunkLine(`validation (${val.examples.length} sentences, ${report.overall.gold} entities):`, report) +
          `, token accuracy ${percent(report.tokenAccuracy)}`,
        ...report.perType.map((t) => chunkLine(`  ${t.type} (${t.gold}):`, { ...report, overall: t })),
      ];
      if (builtin !== null) {
        const gold = val.sentences.map((s) => s.tags);
        const outside = val.sentences.map((s) => s.words.map(() => 'O'));
        const tagger = fitMostFrequentTag(
          train.sentences.map((s) => s.words),
          train.examples.map((e) => e.tags),
          labels.length,
        );
        const frequent = tagger
          .predict(val.sentences.map((s) => s.words))
          .map((ids) => Array.from(ids, (id) => labels[id]!));
        const baselines = { all_o: conlleval(gold, outside), most_frequent_tag: conlleval(gold, frequent) };
        fields['baselines'] = Object.fromEntries(
          Object.entries(baselines).map(([name, r]) => [
            name,
            { f1: r.overall.f1, token_accuracy: r.tokenAccuracy },
          ]),
        );
        lines.push(
          `baselines on the same split: all O F1 ${percent(baselines.all_o.overall.f1)}, ` +
            `most frequent tag per word F1 ${percent(baselines.most_frequent_tag.overall.f1)}`,
        );
      }
      return { fields, lines };
    },
  };
}

export const tagTask: FinetuneTask = {
  description: `token classification (tagging) on CoNLL files (default: the built-in WordNet ${builtinTasks.tag.join(' | ')} task)`,
  options: () => [],
  prepare: (dir, flags) =>
    prepareLabeled(dir, flags, {
      task: 'tag',
      head: 'token-classification',
      unit: 'sentences',
      defaults: { epochs: 3, lr: 1e-4, batchSize: 16 },
      data: (tokenizer, context) => tagData(tokenizer, context),
      recipe: { builtin: flags.data === undefined ? (flags.builtin ?? builtinTasks.tag[0]) : null },
    }),
};
