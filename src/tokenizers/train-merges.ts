/**
 * The parts of Hugging Face `tokenizers`' BpeTrainer (models/bpe/trainer.rs) that byte-level
 * BPE training (train-bpe.ts) and WordPiece training (train-wordpiece.ts, whose HF trainer
 * is a BpeTrainer with the `##` continuing-subword prefix) share: counting words line by
 * line, the vocabulary (special tokens, the alphabet, then merges), and the merge loop.
 *
 * The merge loop follows HF step for step so that the same words give the same merges:
 * each step merges the pair with the highest count, ties going to the smallest
 * (left id, right id); overlapping pairs count as HF counts them; a queue entry carries the
 * words known when it was pushed, as in HF. Deterministic: no randomness and no dependence
 * on Map iteration beyond insertion order. Single-threaded: word counting dominates and the
 * merge loop touches only the words that hold the pair.
 */
import { ConfigError } from '../util/errors.js';

export interface TrainProgress {
  readonly phase: 'count' | 'merge';
  readonly done: number;
  readonly total: number;
}

/** Ids are kept in 21 bits so that a pair of ids is one exact number (left * PAIR + right). */
export const PAIR = 2 ** 21;

/**
 * Counts words in text line by line (each line keeps its '\n'), exactly as HF's
 * `train(files)` reads files: so "\n\n" is never one word. `split` gives the words of one
 * line (normalized and pre-tokenized as the trained tokenizer will). Chunks given to `add`
 * should end at line breaks. With `lines: false`, `split` gets each chunk whole: for a
 * pipeline whose words never hold a line break, and whose normalizer treats one as it
 * treats any whitespace, that counts the same words with one call instead of one per line.
 */
export class WordCounter {
  /** Each word with its count, in the order the words were first seen. */
  readonly counts = new Map<string, number>();

  constructor(
    private readonly split: (text: string) => Iterable<string>,
    private readonly lines = true,
  ) {}

  add(text: string): void {
    const counts = this.counts;
    const count = (piece: string): void => {
      for (const word of this.split(piece)) counts.set(word, (counts.get(word) ?? 0) + 1);
    };
    if (!this.lines) return count(text);
    for (let start = 0; start < text.length;) {
      const newline = text.indexOf('\n', start);
      const end = newline < 0 ? text.length : newline + 1;
      count(text.slice(start, end));
      start = end;
    }
  }
}

/** Tokens by id, growing as HF's trainer grows `id_to_word`: a token already there keeps its id. */
export class Vocabulary {
  readonly tokens: string[] = [];
  readonly ids = new Map<string, number>();

  add(token: string): number {
    let id = this.ids.get(token);
    if (id === undefined) {
      id = this.tokens.length;
      this.ids.set(token, id);
      this.tokens.push(token);
    }
    return id;
  }
}

/** A trainer's vocabulary size: an integer that leaves room for the special tokens. */
export function checkVocabSize(vocabSize: number, specials: number, where: string): void {
  if (!Number.isInteger(vocabSize) || vocabSize < specials + 1 || vocabSize >= PAIR) {
    throw new ConfigError('vocabSize out of range', {
      where,
      expected: `an integer in [${specials + 1}, ${PAIR})`,
      actual: vocabSize,
    });
  }
}

/** Special tokens: distinct, non-empty strings. */
export function checkSpecialTokens(specials: readonly string[], where: string): void {
  const repeated = specials.filter((token, i) => specials.indexOf(token) !== i);
  if (repeated.length > 0) {
    throw new ConfigError('a special token is given more than once', {
      where,
      actual: [...new Set(repeated)].map((token) => JSON.stringify(token)).join(', '),
    });
  }
  if (specials.includes('')) throw new ConfigError('a special token is empty', { where, actual: '""' });
}

interface Merge {
  count: number;
  left: number;
  right: number;
  /** Words to update; like HF, each queue entry carries the words known when it was pushed. */
  readonly words: ReadonlySet<number>;
}

/** Max-heap by count, then smallest (left, right) — HF's `Ord for Merge`. */
function before(a: Merge, b: Merge): boolean {
  if (a.count !== b.count) return a.count > b.count;
  if (a.left !== b.left) return a.left < b.left;
  return a.right < b.right;
}

class MergeQueue {
  private readonly items: Merge[] = [];
  get size(): number {
    return this.items.length;
  }
  push(item: Merge): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(item, items[parent] as Merge)) break;
      items[i] = items[parent] as Merge;
      i = parent;
    }
    items[i] = item;
  }
  pop(): Merge {
    const items = this.items;
    const top = items[0] as Merge;
    const last = items.pop() as Merge;
    if (items.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= items.length) break;
        if (child + 1 < items.length && before(items[child + 1] as Merge, items[child] as Merge)) child++;
        if (!before(items[child] as Merge, last)) break;
        items[i] = items[child] as Merge;
        i = child;
      }
      items[i] = last;
    }
    return top;
  }
}

export interface MergeOptions {
  /** Stop when the vocabulary holds this many tokens (or no pair is left). */
  readonly vocabSize: number;
  /** A pair seen fewer times than this is never merged. */
  readonly minFrequency: number;
  /** HF's continuing_subword_prefix: taken off the right part of a merge (`##`). */
  readonly continuingSubwordPrefix?: string | undefined;
  readonly onProgress?: ((progress: TrainProgress) => void) | undefined;
}

/**
 * HF's merge loop over `words` (symbol ids, merged in place) with their `counts`, adding
 * each merged token to `vocabulary`. Returns the merges in order (a pair whose token was
 * already made by another pair is a merge that adds no token, as in HF).
 */
export function mergePairs(
  vocabulary: Vocabulary,
  words: number[][],
  counts: readonly number[],
  options: MergeOptions,
): Array<[string, string]> {
  const { tokens } = vocabulary;
  const prefix = options.continuingSubwordPrefix;
  const pairCounts = new Map<number, number>();
  let where = new Map<number, Set<number>>();
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = (symbols[i] as number) * PAIR + (symbols[i + 1] as number);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + (counts[w] as number));
      let set = where.get(key);
      if (set === undefined) where.set(key, (set = new Set()));
      set.add(w);
    }
  });
  const queue = new MergeQueue();
  for (const [key, count] of pairCounts) {
    if (count > 0)
      queue.push({
        count,
        left: Math.floor(key / PAIR),
        right: key % PAIR,
        words: where.get(key) as Set<number>,
      });
  }

  const merges: Array<[string, string]> = [];
  const target = options.vocabSize;
  const startSize = tokens.length;
  while (tokens.length < target && queue.size > 0) {
    const top = queue.pop();
    const key = top.left * PAIR + top.right;
    const current = pairCounts.get(key) ?? 0;
    if (top.count !== current) {
      top.count = current;
      queue.push(top);
      continue;
    }
    if (top.count < 1 || options.minFrequency > top.count) break;
    const left = tokens[top.left] as string;
    const right = tokens[top.right] as string;
    const rest = prefix !== undefined && right.startsWith(prefix) ? right.slice(prefix.length) : right;
    const merged = vocabulary.add(left + rest);
    merges.push([left, right]);
    where = new Map();
    for (const w of top.words) {
      const symbols = words[w] as number[];
      const count = counts[w] as number;
      const change = (a: number, b: number, delta: number): void => {
        const pair = a * PAIR + b;
        pairCounts.set(pair, (pairCounts.get(pair) ?? 0) + delta * count);
        if (delta > 0) {
          let set = where.get(pair);
          if (set === undefined) where.set(pair, (set = new Set()));
          set.add(w);
        }
      };
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] !== top.left || i + 1 >= symbols.length || symbols[i + 1] !== top.right) continue;
        if (i > 0) {
          change(symbols[i - 1] as number, top.left, -1);
          change(symbols[i - 1] as number, merged, 1);
        }
        symbols.splice(i, 2, merged);
        if (i < symbols.length - 1) {
          change(top.right, symbols[i + 1] as number, -1);
          change(merged, symbols[i + 1] as number, 1);
        }
      }
    }
    for (const [pair, set] of where) {
      const count = pairCounts.get(pair) ?? 0;
      if (count > 0) queue.push({ count, left: Math.floor(pair / PAIR), right: pair % PAIR, words: set });
    }
    if (options.onProgress !== undefined && merges.length % 100 === 0) {
      options.onProgress({ phase: 'merge', done: tokens.length - startSize, total: target - startSize });
    }
  }
  options.onProgress?.({ phase: 'merge', done: target - startSize, total: target - startSize });
  return merges;
}
