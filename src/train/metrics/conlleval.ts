/**
 * Entity-level precision, recall and F1 exactly as the CoNLL shared tasks' `conlleval.pl`
 * (Erik Tjong Kim Sang, version 2004-01-26) computes them, for BIO and IOB1 tags.
 *
 * conlleval reads tags as PREFIX-TYPE and decides chunk boundaries token by token from the
 * previous and the current tag (`startOfChunk` / `endOfChunk`, ported below rule for rule):
 * - a chunk starts at B-; at I- after O; and at any B- or I- whose type differs from the
 *   previous token's (so `B-PER I-LOC` is two chunks, and an I- after O, or at the start of
 *   a sentence, starts a chunk instead of being dropped);
 * - a chunk ends before B- or O, and before a token of another type.
 * A predicted chunk is correct when a gold chunk of the same type starts and ends at the
 * same tokens. Sentences are scored as conlleval scores them, each ended by the boundary
 * (an O), so no chunk runs over a sentence end.
 *
 * precision = correct / predicted chunks, recall = correct / gold chunks,
 * F1 = 2 P R / (P + R), each 0 when its denominator is 0 (conlleval prints 0.00 then).
 * Types are listed in code-unit order, as Perl's `sort` lists them. conlleval prints
 * percentages; these are fractions. Token accuracy counts tokens whose whole tag matches.
 *
 * This is what seqeval computes in its default mode. seqeval's `mode="strict"` differs, and
 * we follow conlleval: strict IOB2 drops an I- that follows O (conlleval counts it as a
 * chunk) and ends `B-PER I-LOC` after B-PER without starting a LOC chunk at the I-LOC.
 */
import { ShapeError } from '../../util/errors.js';
import { parseTagOrThrow, type ParsedTag } from '../data/tag-scheme.js';

export interface ChunkScores {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Chunks in the gold tags. */
  readonly gold: number;
  /** Chunks in the predicted tags. */
  readonly predicted: number;
  /** Predicted chunks that match a gold chunk (type, start and end). */
  readonly correct: number;
}

export interface TypeScores extends ChunkScores {
  readonly type: string;
}

export interface ConllevalReport {
  readonly overall: ChunkScores;
  /** One entry per type found in the gold or predicted tags, sorted by type. */
  readonly perType: readonly TypeScores[];
  readonly tokens: number;
  readonly tokenAccuracy: number;
}

export interface Chunk {
  readonly type: string;
  /** First token index and one past the last. */
  readonly start: number;
  readonly end: number;
}

const outside: ParsedTag = { prefix: 'O', type: '' };

/** conlleval's `endOfChunk`: does a chunk end between `previous` and `current`? */
function endOfChunk(previous: ParsedTag, current: ParsedTag): boolean {
  if (previous.prefix === 'B' && (current.prefix === 'B' || current.prefix === 'O')) return true;
  if (previous.prefix === 'I' && (current.prefix === 'B' || current.prefix === 'O')) return true;
  return previous.prefix !== 'O' && previous.type !== current.type;
}

/** conlleval's `startOfChunk`: does a chunk start at `current`? */
function startOfChunk(previous: ParsedTag, current: ParsedTag): boolean {
  if (current.prefix === 'B') return true; // after B, I or O
  if (previous.prefix === 'O' && current.prefix === 'I') return true;
  return current.prefix !== 'O' && previous.type !== current.type;
}

/**
 * The chunks of one sentence's tags, by conlleval's boundary rules.
 * @example
 * chunksOf(['I-PER', 'I-PER', 'B-PER', 'I-LOC', 'O']);
 * // [{ type: 'PER', start: 0, end: 2 }, { type: 'PER', start: 2, end: 3 }, { type: 'LOC', start: 3, end: 4 }]
 */
export function chunksOf(tags: readonly string[]): Chunk[] {
  const chunks: Chunk[] = [];
  let previous = outside;
  let open: { type: string; start: number } | undefined;
  for (let t = 0; t <= tags.length; t++) {
    const current = t < tags.length ? parseTagOrThrow(tags[t]!, `chunksOf: tags[${t}]`) : outside;
    if (open !== undefined && endOfChunk(previous, current)) {
      chunks.push({ type: open.type, start: open.start, end: t });
      open = undefined;
    }
    if (startOfChunk(previous, current)) open = { type: current.type, start: t };
    previous = current;
  }
  return chunks;
}

interface Counts {
  gold: number;
  predicted: number;
  correct: number;
}

function scores(counts: Counts): ChunkScores {
  const precision = counts.predicted === 0 ? 0 : counts.correct / counts.predicted;
  const recall = counts.gold === 0 ? 0 : counts.correct / counts.gold;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, gold: counts.gold, predicted: counts.predicted, correct: counts.correct };
}

/**
 * conlleval's scores of predicted against gold tags, one tag list per sentence.
 * @example
 * conlleval([['B-PER', 'I-PER', 'O']], [['B-PER', 'O', 'O']]).overall; // precision 0, recall 0, f1 0
 */
export function conlleval(
  gold: readonly (readonly string[])[],
  predicted: readonly (readonly string[])[],
): ConllevalReport {
  if (gold.length !== predicted.length) {
    throw new ShapeError('gold and predicted differ in the number of sentences', {
      where: 'conlleval',
      expected: gold.length,
      actual: predicted.length,
    });
  }
  const overall: Counts = { gold: 0, predicted: 0, correct: 0 };
  const byType = new Map<string, Counts>();
  const count = (type: string, field: keyof Counts): void => {
    overall[field]++;
    let counts = byType.get(type);
    if (counts === undefined) byType.set(type, (counts = { gold: 0, predicted: 0, correct: 0 }));
    counts[field]++;
  };
  let tokens = 0;
  let correctTags = 0;
  gold.forEach((goldTags, s) => {
    const guessedTags = predicted[s]!;
    if (goldTags.length !== guessedTags.length) {
      throw new ShapeError('gold and predicted differ in length', {
        where: `conlleval: sentence ${s}`,
        expected: goldTags.length,
        actual: guessedTags.length,
      });
    }
    // The main loop of conlleval.pl, one token at a time, then the sentence boundary (O).
    let lastCorrect = outside;
    let lastGuessed = outside;
    let inCorrect = false;
    for (let t = 0; t <= goldTags.length; t++) {
      const boundary = t === goldTags.length;
      const correct = boundary ? outside : parseTagOrThrow(goldTags[t]!, `conlleval: gold[${s}][${t}]`);
      const guessed = boundary
        ? outside
        : parseTagOrThrow(guessedTags[t]!, `conlleval: predicted[${s}][${t}]`);
      const correctEnds = endOfChunk(lastCorrect, correct);
      const guessedEnds = endOfChunk(lastGuessed, guessed);
      if (inCorrect) {
        if (correctEnds && guessedEnds && lastGuessed.type === lastCorrect.type) {
          inCorrect = false;
          count(lastCorrect.type, 'correct');
        } else if (correctEnds !== guessedEnds || guessed.type !== correct.type) {
          inCorrect = false;
        }
      }
      const correctStarts = startOfChunk(lastCorrect, correct);
      const guessedStarts = startOfChunk(lastGuessed, guessed);
      if (correctStarts && guessedStarts && guessed.type === correct.type) inCorrect = true;
      if (correctStarts) count(correct.type, 'gold');
      if (guessedStarts) count(guessed.type, 'predicted');
      if (!boundary) {
        tokens++;
        if (correct.prefix === guessed.prefix && correct.type === guessed.type) correctTags++;
      }
      lastCorrect = correct;
      lastGuessed = guessed;
    }
  });
  const types = [...byType.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    overall: scores(overall),
    perType: types.map((type) => ({ type, ...scores(byType.get(type)!) })),
    tokens,
    tokenAccuracy: tokens === 0 ? 0 : correctTags / tokens,
  };
}
