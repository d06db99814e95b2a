/**
 * Encoding with offsets: each token's span in its input, as Hugging Face `tokenizers` gives
 * them (the offsets of its Encoding, here in UTF-16 units). The text goes the way `encode`
 * sends it (added tokens, normalizer, pre-tokenizer, model), with an AlignedText in place of
 * the normalized string, so that a piece of a normalized word maps back to the original
 * characters it came from.
 *
 * For a WordPiece model behind a normalizer aligned-text.ts follows and a pre-tokenizer
 * that only splits; PipelineTokenizer gives no offsets for other pipelines.
 */
import type { AddedTokenMatcher, Segment } from './added-tokens.js';
import { AlignedText, alignedNormalizer, type AlignedNormalize } from './aligned-text.js';
import type { Normalizer } from './normalizers.js';
import type { Part } from './post-processors.js';
import type { CompiledPreTokenizer } from './pre-tokenizers.js';
import type { EncodeOptions } from './tokenizer.js';
import { wellFormed } from './utf8.js';
import type { WordPieceModel } from './wordpiece-model.js';

export class OffsetEncoder {
  private constructor(
    private readonly matcher: AddedTokenMatcher,
    private readonly normalize: AlignedNormalize,
    private readonly preTokenizer: CompiledPreTokenizer,
    private readonly model: WordPieceModel,
  ) {}

  /** An encoder for this pipeline, or undefined where its spans are not tracked. */
  static create(
    matcher: AddedTokenMatcher,
    normalizer: Normalizer | null,
    preTokenizer: CompiledPreTokenizer,
    model: WordPieceModel | undefined,
  ): OffsetEncoder | undefined {
    const normalize = alignedNormalizer(normalizer);
    if (model === undefined || normalize === undefined || preTokenizer.spans('', true) === undefined)
      return undefined;
    return new OffsetEncoder(matcher, normalize, preTokenizer, model);
  }

  /** One input's tokens with their details (no post-processing), for `sequence` 0 or 1. */
  encode(text: string, options: EncodeOptions, sequence: number): Part {
    const allowed = options.allowedSpecial ?? new Set<string>();
    const disallowed = options.disallowedSpecial ?? 'all';
    const ids: number[] = [];
    const offsets: Array<[number, number]> = [];
    const wordIds: number[] = [];
    let word = 0;
    const token = (id: number, span: [number, number]): void => {
      ids.push(id);
      offsets.push(span);
      wordIds.push(word++);
    };
    // A lone surrogate becomes U+FFFD, one UTF-16 unit for one: offsets stay those of `text`.
    for (const segment of this.matcher.split(wellFormed(text), allowed, disallowed)) {
      if (segment.kind === 'token') {
        token(segment.id, [segment.start, segment.end]);
        continue;
      }
      const normalized = this.normalize(AlignedText.of(segment.text));
      const original = (start: number, end: number): [number, number] => {
        const [from, to] = normalized.original(start, end);
        return [from + segment.start, to + segment.start];
      };
      const pieces: Segment[] = [];
      if (this.matcher.hasNormalized)
        this.matcher.splitNormalized(normalized.text, segment.atStart, allowed, disallowed, pieces);
      else pieces.push({ kind: 'text', text: normalized.text, atStart: segment.atStart, start: 0 });
      for (const piece of pieces) {
        if (piece.kind === 'token') {
          token(piece.id, original(piece.start, piece.end));
          continue;
        }
        const spans: Array<[number, number]> = [];
        for (const [wordStart, wordEnd] of this.preTokenizer.spans(piece.text, piece.atStart) ?? []) {
          spans.length = 0;
          const before = ids.length;
          this.model.encodeWord(piece.text.slice(wordStart, wordEnd), ids, undefined, spans);
          const at = piece.start + wordStart;
          for (const [start, end] of spans) offsets.push(original(at + start, at + end));
          for (let k = before; k < ids.length; k++) wordIds.push(word);
          word++;
        }
      }
    }
    return {
      ids,
      typeIds: new Array<number>(ids.length).fill(0),
      details: {
        specialTokensMask: new Array<number>(ids.length).fill(0),
        sequenceIds: new Array<number>(ids.length).fill(sequence),
        offsets,
        wordIds,
      },
    };
  }
}
