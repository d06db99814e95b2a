/**
 * Unigram language-model tokenizer (Kudo 2018, SentencePiece; T5/ALBERT/XLNet): Viterbi
 * best segmentation by summed piece log-probabilities. Follows Hugging Face `tokenizers`
 * models/unigram `encode_optimized`: unknown characters score min_score - 10, ties keep
 * the first-found path, consecutive unknowns fuse into one.
 */
import { ConfigError } from '../util/errors.js';

export interface UnigramOptions {
  readonly vocab: ReadonlyArray<readonly [string, number]>;
  readonly unkId: number | undefined;
  readonly byteFallback: boolean;
}

/** HF's K_UNK_PENALTY. */
const UNKNOWN_PENALTY = 10;

export class UnigramModel {
  readonly options: UnigramOptions;
  private readonly index = new Map<string, number>();
  private readonly maxPieceLength: number;
  private readonly unknownScore: number;

  constructor(options: UnigramOptions) {
    this.options = options;
    let minScore = Infinity;
    let longest = 1;
    options.vocab.forEach(([piece, score], id) => {
      if (!this.index.has(piece)) this.index.set(piece, id);
      minScore = Math.min(minScore, score);
      longest = Math.max(longest, piece.length);
    });
    if (options.unkId !== undefined && options.vocab[options.unkId] === undefined) {
      throw new ConfigError('unk_id is outside the vocabulary', {
        where: 'model.unk_id',
        expected: `< ${options.vocab.length}`,
        actual: options.unkId,
      });
    }
    this.maxPieceLength = longest;
    this.unknownScore = minScore - UNKNOWN_PENALTY;
  }

  get size(): number {
    return this.options.vocab.length;
  }

  tokenToId(token: string): number | undefined {
    return this.index.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.options.vocab[id]?.[0];
  }

  encodeWord(word: string, out: number[]): void {
    // Lattice over UTF-16 positions; pieces never split a surrogate pair because a
    // candidate must end on a character boundary (checked via the code point walk).
    const n = word.length;
    const bestScore = new Float64Array(n + 1).fill(-Infinity);
    const bestStart = new Int32Array(n + 1).fill(-1);
    const bestId = new Int32Array(n + 1).fill(-1);
    bestScore[0] = 0;
    const unkId = this.options.unkId ?? -1;
    for (let start = 0; start < n; start = nextBoundary(word, start)) {
      if (bestStart[start] < 0 && start !== 0) continue;
      const base = bestScore[start] as number;
      const charEnd = nextBoundary(word, start);
      let hasSingle = false;
      for (let end = charEnd; end <= n && end - start <= this.maxPieceLength; end = nextBoundary(word, end)) {
        const id = this.index.get(word.slice(start, end));
        if (id !== undefined) {
          const score = base + (this.options.vocab[id] as readonly [string, number])[1];
          if (bestStart[end] < 0 || score > (bestScore[end] as number)) {
            bestScore[end] = score;
            bestStart[end] = start;
            bestId[end] = id;
          }
          if (end === charEnd) hasSingle = true;
        }
        if (end === n) break;
      }
      if (!hasSingle) {
        const score = base + this.unknownScore;
        if (bestStart[charEnd] < 0 || score > (bestScore[charEnd] as number)) {
          bestScore[charEnd] = score;
          bestStart[charEnd] = start;
          bestId[charEnd] = unkId;
        }
      }
    }
    const pieces: Array<[string, number]> = [];
    let unknownRun = '';
    for (let end = n; end > 0;) {
      const start = bestStart[end] as number;
      const id = bestId[end] as number;
      if (id === unkId && unkId >= 0) unknownRun = word.slice(start, end) + unknownRun;
      else {
        if (unknownRun.length > 0) pieces.push([unknownRun, unkId]);
        unknownRun = '';
        pieces.push([word.slice(start, end), id]);
      }
      end = start;
    }
    if (unknownRun.length > 0) pieces.push([unknownRun, unkId]);
    pieces.reverse();
    for (const [piece, id] of pieces) {
      if (id !== unkId || unkId < 0) {
        out.push(id);
        continue;
      }
      if (this.options.byteFallback) {
        const bytes = Array.from(new TextEncoder().encode(piece), (b) =>
          this.index.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
        );
        if (bytes.every((b) => b !== undefined)) {
          out.push(...(bytes as number[]));
          continue;
        }
      }
      if (unkId < 0)
        throw new ConfigError('text has a character outside the vocabulary and there is no unk_id', {
          where: 'model.unk_id',
          actual: piece,
        });
      out.push(unkId);
    }
  }
}

function nextBoundary(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return code >= 0xd800 && code <= 0xdbff && at + 1 < text.length ? at + 2 : at + 1;
}
