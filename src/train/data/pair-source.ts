/**
 * Where a sequence-to-sequence run's sentence pairs come from, so that a resumed run reads
 * the same ones: parallel data files (data/pairs.ts: TSV or JSON Lines), a built-in WordNet
 * task (data/wordnet-pairs.ts) or a built-in synthetic task (data/synthetic-pairs.ts). Reading a source gives the training and validation pairs and
 * the text they were read from (hashed into the checkpoint, so that changed data is refused
 * on resume).
 *
 * Without a validation file, the last tenth of the training file validates (contiguous, as
 * nanoGPT splits text; at least one pair), the rest trains.
 */
import { parsePairs, pairFormatOf, type TextPair } from './pairs.js';
import { readTextFile } from './text-file.js';
import { syntheticPairTask, type SyntheticPairTaskName } from './synthetic-pairs.js';
import { wordnetPairTask, type WordnetPairTaskName } from './wordnet-pairs.js';
import { ConfigError } from '../../util/errors.js';

export type PairSource =
  | {
      readonly kind: 'pairs';
      readonly train: string;
      /** null: the last tenth of `train` validates. */
      readonly val: string | null;
      /** Pairs longer than the model's positions are cut (true) or an error (false). */
      readonly truncate: boolean;
    }
  /** A built-in WordNet task; its pairs longer than the positions are left out. */
  | { readonly kind: 'wordnet-pairs'; readonly task: WordnetPairTaskName }
  /** A built-in synthetic task (copy, reverse); as a built-in task, longer pairs are left out. */
  | { readonly kind: 'synthetic-pairs'; readonly task: SyntheticPairTaskName };

export interface PairSplits {
  readonly train: readonly TextPair[];
  readonly val: readonly TextPair[];
  /** The text the pairs were read from (the files, or the task's pairs as TSV). */
  readonly text: string;
}

/** A short description for logs and trainer_state.json. */
export function describePairSource(source: PairSource): string {
  switch (source.kind) {
    case 'pairs':
      return source.val === null
        ? `${source.train} (last tenth validates)`
        : `${source.train}, validation ${source.val}`;
    case 'wordnet-pairs':
      return `built-in WordNet task ${source.task} (held-out words)`;
    case 'synthetic-pairs':
      return `built-in synthetic task ${source.task} (held-out sequences)`;
  }
}

/**
 * The pairs of a source; a file that cannot be read or parsed is a FormatError naming
 * file:line (see pairs.ts).
 *
 * @example
 * const { train, val } = await readPairSource({ kind: 'pairs', train: 'en-de.tsv', val: null, truncate: false });
 */
export async function readPairSource(source: PairSource): Promise<PairSplits> {
  switch (source.kind) {
    case 'pairs': {
      const trainText = await readTextFile(source.train);
      const all = parsePairs(trainText, source.train, pairFormatOf(source.train));
      if (source.val !== null) {
        const valText = await readTextFile(source.val);
        const val = parsePairs(valText, source.val, pairFormatOf(source.val));
        return { train: all, val, text: `${trainText}\n${valText}` };
      }
      if (all.length < 2) {
        throw new ConfigError('one pair cannot be split into training and validation', {
          where: source.train,
          hint: 'give more pairs, or a validation file (--val-pairs)',
        });
      }
      const cut = all.length - Math.max(1, Math.floor(all.length / 10));
      return { train: all.slice(0, cut), val: all.slice(cut), text: trainText };
    }
    case 'wordnet-pairs':
    case 'synthetic-pairs': {
      const task =
        source.kind === 'wordnet-pairs' ? wordnetPairTask(source.task) : syntheticPairTask(source.task);
      const tsv = (pairs: readonly TextPair[]): string =>
        pairs.map((p) => `${p.source}\t${p.target}\n`).join('');
      return { train: task.train, val: task.validation, text: `${tsv(task.train)}\n${tsv(task.validation)}` };
    }
  }
}
