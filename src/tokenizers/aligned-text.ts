/**
 * Normalized text that remembers where each part came from, for token offsets: Hugging Face
 * `tokenizers`' NormalizedString alignments (tokenizer/normalizer.rs), kept per UTF-16 unit
 * instead of per byte. Each unit of the text carries the [start, end) of the original
 * character it came from, and a normalizer step rewrites them as HF's `transform` does:
 * a character that replaces one takes that one's span, an inserted character the span of
 * the character before it, and a removed character leaves nothing.
 *
 * The normalizers here are those BERT-family tokenizers use (BertNormalizer, Lowercase,
 * StripAccents, NFD, NFKD, and Sequences of them). The others (NFC and NFKC, which compose;
 * Replace, Precompiled, Prepend, Strip) rewrite spans in ways not implemented here:
 * `alignedNormalizer` returns undefined for them and encodeDetailed gives no offsets.
 */
import {
  cleanText,
  lowercaseCharwise,
  normalizeLikeHf,
  spaceChineseChars,
  stripCombiningMarks,
  stripNonspacingMarks,
} from './hf-unicode.js';
import type { Normalizer } from './normalizers.js';

/** Growable (start, end) pairs per UTF-16 unit, with the text they belong to. */
class SpanBuilder {
  private starts: Int32Array;
  private ends: Int32Array;
  private length = 0;
  private readonly pieces: string[] = [];

  constructor(capacity: number) {
    this.starts = new Int32Array(Math.max(16, capacity));
    this.ends = new Int32Array(Math.max(16, capacity));
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.starts.length) return;
    const capacity = Math.max(this.starts.length * 2, this.length + extra);
    const [starts, ends] = [new Int32Array(capacity), new Int32Array(capacity)];
    starts.set(this.starts.subarray(0, this.length));
    ends.set(this.ends.subarray(0, this.length));
    [this.starts, this.ends] = [starts, ends];
  }

  /** `text` whose every unit came from [start, end). */
  push(text: string, start: number, end: number): void {
    this.reserve(text.length);
    this.starts.fill(start, this.length, this.length + text.length);
    this.ends.fill(end, this.length, this.length + text.length);
    this.length += text.length;
    this.pieces.push(text);
  }

  /** Units [from, to) of `source`, spans and all. */
  copy(source: AlignedText, from: number, to: number): void {
    if (to <= from) return;
    this.reserve(to - from);
    this.starts.set(source.starts.subarray(from, to), this.length);
    this.ends.set(source.ends.subarray(from, to), this.length);
    this.length += to - from;
    this.pieces.push(source.text.slice(from, to));
  }

  build(): AlignedText {
    return new AlignedText(
      this.pieces.join(''),
      this.starts.subarray(0, this.length),
      this.ends.subarray(0, this.length),
    );
  }
}

export class AlignedText {
  constructor(
    readonly text: string,
    /** Per UTF-16 unit of `text`: the start of the original character it came from. */
    readonly starts: Int32Array,
    /** ... and its end. */
    readonly ends: Int32Array,
  ) {}

  /** `text` as its own original. */
  static of(text: string): AlignedText {
    const starts = new Int32Array(text.length);
    const ends = new Int32Array(text.length);
    for (let at = 0; at < text.length; at++) {
      starts[at] = at;
      ends[at] = at + 1;
      const code = text.charCodeAt(at);
      // A surrogate pair is one character: both units span both.
      if (code >= 0xd800 && code <= 0xdbff && at + 1 < text.length) {
        const low = text.charCodeAt(at + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          ends[at] = at + 2;
          starts[at + 1] = at;
          ends[at + 1] = at + 2;
          at++;
        }
      }
    }
    return new AlignedText(text, starts, ends);
  }

  /** The original span of `text.slice(start, end)`, as HF's `convert_offsets` gives it. */
  original(start: number, end: number): [number, number] {
    if (start >= end) return [start, end];
    return [this.starts[start] as number, this.ends[end - 1] as number];
  }

  /**
   * HF's `transform` over the whole text: each output character comes with its change, 0 to
   * replace the next original character, n > 0 to be inserted, -n to replace the next one
   * and remove n after it.
   */
  transform(chars: ReadonlyArray<readonly [string, number]>): AlignedText {
    const { text, starts, ends } = this;
    const next = (at: number): number => at + ((text.codePointAt(at) as number) > 0xffff ? 2 : 1);
    const out = new SpanBuilder(text.length);
    let at = 0;
    for (const [char, change] of chars) {
      if (change > 0) {
        if (at === 0) out.push(char, 0, 0);
        else out.push(char, starts[at - 1] as number, ends[at - 1] as number);
        continue;
      }
      out.push(char, starts[at] as number, ends[at] as number);
      at = next(at);
      for (let k = 0; k < -change; k++) at = next(at);
    }
    return out.build();
  }

  /**
   * Each character through `rewrite`, one at a time: what it becomes keeps its span, and
   * when it becomes '' it is gone (HF's `map`, `filter`, and the 1-to-n rewrites of
   * `lowercase` and the CJK spacing, whose added characters take the span of their source).
   */
  rewrite(rewrite: (char: string) => string): AlignedText {
    if (rewrite(this.text) === this.text) return this; // unchanged as a whole: unchanged per character
    const text = this.text;
    const out = new SpanBuilder(text.length);
    // Text has few distinct characters: rewrite each once; runs that stay are copied whole.
    const memo = new Map<string, string>();
    let run = 0;
    for (let at = 0; at < text.length;) {
      const width = (text.codePointAt(at) as number) > 0xffff ? 2 : 1;
      const char = width === 1 ? text[at]! : text.slice(at, at + width);
      let written = memo.get(char);
      if (written === undefined) memo.set(char, (written = rewrite(char)));
      if (written !== char) {
        out.copy(this, run, at);
        out.push(written, this.starts[at] as number, this.ends[at] as number);
        run = at + width;
      }
      at += width;
    }
    out.copy(this, run, text.length);
    return out.build();
  }

  /**
   * NFD or NFKD as HF's unicode-normalization-alignments does it: each character's
   * decomposition, its first character replacing it and the rest inserted; then marks are
   * reordered by combining class and their changes move with them, so spans are handed out
   * by position.
   */
  decompose(form: 'NFD' | 'NFKD'): AlignedText {
    const whole = normalizeLikeHf(this.text, form);
    if (whole === this.text) return this;
    const pieces: Array<[string, number]> = [];
    for (const char of this.text) {
      let first = true;
      for (const part of normalizeLikeHf(char, form)) {
        pieces.push([part, first ? 0 : 1]);
        first = false;
      }
    }
    if (pieces.map(([char]) => char).join('') === whole) return this.transform(pieces);
    // Reordered: each character of the result takes the earliest unused one of its kind
    // (a stable sort keeps equal characters in order, and no mark leaves its run).
    const used = new Array<boolean>(pieces.length).fill(false);
    let from = 0;
    const ordered: Array<[string, number]> = [];
    for (const char of whole) {
      while (used[from] === true) from++;
      let k = from;
      while (used[k] === true || pieces[k]?.[0] !== char) k++;
      used[k] = true;
      ordered.push(pieces[k] as [string, number]);
    }
    return this.transform(ordered);
  }
}

export type AlignedNormalize = (text: AlignedText) => AlignedText;

/** The normalizer as a function on AlignedText, or undefined where spans are not tracked. */
export function alignedNormalizer(normalizer: Normalizer | null): AlignedNormalize | undefined {
  if (normalizer === null) return (text) => text;
  switch (normalizer.type) {
    case 'BertNormalizer': {
      const { cleanText: clean, handleChineseChars: chinese, lowercase } = normalizer;
      const strip = normalizer.stripAccents ?? lowercase;
      return (text) => {
        let out = clean ? text.rewrite(cleanText) : text;
        if (chinese) out = out.rewrite(spaceChineseChars);
        if (strip) out = out.decompose('NFD').rewrite(stripNonspacingMarks);
        return lowercase ? out.rewrite(lowercaseCharwise) : out;
      };
    }
    case 'Lowercase':
      return (text) => text.rewrite(lowercaseCharwise);
    case 'StripAccents':
      return (text) => text.rewrite(stripCombiningMarks);
    case 'NFD':
    case 'NFKD': {
      const form = normalizer.type;
      return (text) => text.decompose(form);
    }
    case 'Sequence': {
      const steps = normalizer.normalizers.map(alignedNormalizer);
      if (steps.some((step) => step === undefined)) return undefined;
      return (text) => (steps as AlignedNormalize[]).reduce((current, step) => step(current), text);
    }
    default:
      return undefined;
  }
}
