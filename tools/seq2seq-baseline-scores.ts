/**
 * The trivial baselines of a sequence-to-sequence task (tools/seq2seq-baselines.ts and
 * tools/learning-figures.ts print them): sacreBLEU corpus BLEU and chrF2 of copying the
 * source and of answering every source with the most frequent training target, on the
 * validation pairs a run scores: those that fit its positions under its tokenizer, as the
 * built-in tasks leave the longer ones out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusBleu, corpusChrf } from '../src/eval/index.js';
import { loadTokenizer } from '../src/tokenizers/index.js';
import type { TextPair } from '../src/train/index.js';

export interface Score {
  readonly bleu: number;
  readonly chrf: number;
}

export interface Seq2seqBaselines {
  readonly copy: Score;
  readonly frequent: Score & { readonly target: string };
}

/** BLEU and chrF2 of hypotheses against the pairs' targets. */
export function score(hypotheses: readonly string[], pairs: readonly TextPair[]): Score {
  const references = [pairs.map((p) => p.target)];
  return { bleu: corpusBleu(hypotheses, references).score, chrf: corpusChrf(hypotheses, references).score };
}

/** Copy-the-source and most-frequent-target scores on `validation` (ties: the first in code-unit order). */
export function seq2seqBaselines(
  train: readonly TextPair[],
  validation: readonly TextPair[],
): Seq2seqBaselines {
  const counts = new Map<string, number>();
  for (const p of train) counts.set(p.target, (counts.get(p.target) ?? 0) + 1);
  const [target] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]!;
  return {
    copy: score(
      validation.map((p) => p.source),
      validation,
    ),
    frequent: {
      target,
      ...score(
        validation.map(() => target),
        validation,
      ),
    },
  };
}

/** The pairs of `pairs` whose sides fit the positions of the model folder `dir` under its tokenizer. */
export async function pairsThatFit(pairs: readonly TextPair[], dir: string): Promise<TextPair[]> {
  const tokenizer = await loadTokenizer(dir);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
    max_position_embeddings: number;
  };
  const fits = (text: string): boolean => tokenizer.encode(text).length <= config.max_position_embeddings;
  return pairs.filter((p) => fits(p.source) && fits(p.target));
}

/** Pairs as the TSV `lmforge eval --pairs` reads. */
export const pairsTsv = (pairs: readonly TextPair[]): string =>
  pairs.map((p) => `${p.source}\t${p.target}\n`).join('');
