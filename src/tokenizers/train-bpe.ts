/**
 * Byte-level BPE training (Sennrich et al. 2016; GPT-2 byte-level variant), following
 * Hugging Face `tokenizers` BpeTrainer (models/bpe/trainer.rs) step for step so that the
 * same words give the same merges: ids are special tokens, then the alphabet sorted by
 * code point, then merges; each step merges the pair with the highest count, ties going
 * to the smallest (left id, right id); overlapping pairs count as HF counts them.
 * Deterministic: no randomness and no dependence on Map iteration beyond insertion order.
 * Single-threaded: word counting dominates and the merge loop touches only unique words.
 */
import { ConfigError } from '../util/errors.js';
import { specialToken } from './added-tokens.js';
import { BYTE_TO_CHAR } from './byte-level.js';
import { PipelineTokenizer, type TokenizerSpec } from './pipeline-tokenizer.js';
import { compileSplitRegex, GPT2_PATTERN } from './split-patterns.js';
import { toBinary } from './utf8.js';

export interface TrainProgress {
  readonly phase: 'count' | 'merge';
  readonly done: number;
  readonly total: number;
}

export interface TrainBpeOptions {
  /** Target vocabulary size, special tokens and the byte alphabet included. */
  readonly vocabSize: number;
  /** A pair seen fewer times than this is never merged. Default 0 (as HF). */
  readonly minFrequency?: number;
  /** Special tokens, given ids 0.. in this order. */
  readonly specialTokens?: readonly string[];
  /**
   * 'bytes' (default): all 256 byte symbols, so any text encodes. 'observed': only the
   * characters seen, as HF's trainer does by default.
   */
  readonly alphabet?: 'bytes' | 'observed';
  readonly onProgress?: (progress: TrainProgress) => void;
}

/** Count pre-tokenized words (GPT-2 split, byte-level form) in a stream of text chunks. */
export class WordCounter {
  readonly counts = new Map<string, number>();
  private readonly regex = compileSplitRegex(GPT2_PATTERN);
  private readonly raw = new Map<string, number>();

  /**
   * Count the words of `text` line by line (each line keeps its '\n'), exactly as HF's
   * `train(files)` reads files; so "\n\n" is never one word. Chunks should end at line breaks.
   */
  add(text: string): void {
    const regex = this.regex;
    for (let start = 0; start < text.length;) {
      const newline = text.indexOf('\n', start);
      const end = newline < 0 ? text.length : newline + 1;
      const line = text.slice(start, end);
      regex.lastIndex = 0;
      for (let match = regex.exec(line); match !== null; match = regex.exec(line)) {
        const word = match[0];
        this.raw.set(word, (this.raw.get(word) ?? 0) + 1);
      }
      start = end;
    }
  }

  /** Words in HF's byte-level printable form with their counts. */
  words(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [word, count] of this.raw) {
      const binary = toBinary(word);
      let printable = '';
      for (let i = 0; i < binary.length; i++) printable += BYTE_TO_CHAR[binary.charCodeAt(i)];
      out.set(printable, (out.get(printable) ?? 0) + count);
    }
    return out;
  }
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

const PAIR = 2 ** 21;

/**
 * Train a byte-level BPE tokenizer on text chunks.
 * @example
 * const tok = trainBpe([fs.readFileSync('input.txt', 'utf8')], { vocabSize: 1000, specialTokens: ['<|endoftext|>'] });
 * fs.writeFileSync('tokenizer.json', JSON.stringify(tok.toJSON()));
 */
export function trainBpe(chunks: Iterable<string>, options: TrainBpeOptions): PipelineTokenizer {
  const counter = new WordCounter();
  for (const chunk of chunks) counter.add(chunk);
  return trainBpeFromWords(counter.words(), options);
}

export function trainBpeFromWords(
  wordCounts: ReadonlyMap<string, number>,
  options: TrainBpeOptions,
): PipelineTokenizer {
  const specials = options.specialTokens ?? [];
  const minFrequency = options.minFrequency ?? 0;
  if (
    !Number.isInteger(options.vocabSize) ||
    options.vocabSize < specials.length + 1 ||
    options.vocabSize >= PAIR
  ) {
    throw new ConfigError('vocabSize out of range', {
      where: 'trainBpe.vocabSize',
      expected: `an integer in [${specials.length + 1}, ${PAIR})`,
      actual: options.vocabSize,
    });
  }
  const idOf = new Map<string, number>();
  const tokens: string[] = [];
  const add = (token: string): number => {
    let id = idOf.get(token);
    if (id === undefined) {
      id = tokens.length;
      idOf.set(token, id);
      tokens.push(token);
    }
    return id;
  };
  for (const special of specials) add(special);
  const alphabet = new Set<string>(options.alphabet === 'observed' ? [] : BYTE_TO_CHAR);
  for (const word of wordCounts.keys()) for (const char of word) alphabet.add(char);
  for (const char of [...alphabet].sort(
    (a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number),
  ))
    add(char);

  const words: number[][] = [];
  const counts: number[] = [];
  for (const [word, count] of wordCounts) {
    words.push(Array.from(word, (char) => idOf.get(char) as number));
    counts.push(count);
  }
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
    if (top.count < 1 || minFrequency > top.count) break;
    const left = tokens[top.left] as string;
    const right = tokens[top.right] as string;
    const merged = add(left + right);
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
  return new PipelineTokenizer(byteLevelSpec(tokens, merges, specials));
}

function byteLevelSpec(
  tokens: readonly string[],
  merges: Array<[string, string]>,
  specials: readonly string[],
): TokenizerSpec {
  const addedTokens = specials.map((content, id) => specialToken(content, id));
  return {
    normalizer: null,
    preTokenizer: { type: 'ByteLevel', addPrefixSpace: false, trimOffsets: true, useRegex: true },
    model: {
      type: 'BPE',
      options: { vocab: new Map(tokens.map((token, id) => [token, id])), merges, symbols: 'bytes' },
    },
    postProcessor: null,
    decoder: { type: 'ByteLevel' },
    addedTokens,
  };
}
